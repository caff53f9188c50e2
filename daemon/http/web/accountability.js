// pnyx web page, accountability: draws by lot (protocol-spec/sortition.md), each with every
// candidate's exact chance, the participants' commitments and reveals and the panel once drawn;
// and parity (charter.md): per council and member, whether its delegation meets the charter's.
// Self-contained like economy.js: it reads both from the confederal view (GET /api/v1/view: its
// `draws`, and each confederation's `parity`), follows the event stream and fills
// <section id="sortition"> and <section id="parity">. Built with textContent.
"use strict";

(() => {
  const API = "/api/v1";
  const STATUS = {
    committing: "waiting for commitments", revealing: "waiting for reveals", drawn: "drawn",
    void: "void", incomplete: "records missing here", rejected: "not adopted", invalid: "invalid",
  };

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, v);
    for (const c of children.flat(Infinity)) {
      if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  const percent = text => { const [n, d] = text.split("/").map(Number); return (100 * n / d).toFixed(1) + "%"; };

  function renderDraw(d) {
    const drawn = new Set(d.panel || []);
    const attributes = c => Object.entries(c.attributes).map(([k, v]) => `${k} ${v}`).join(", ");
    return h("article", { class: "card draw", "data-draw": d.draw, "data-status": d.status },
      h("h3", {}, d.title || "Draw by lot", " ",
        h("span", { class: "badge " + (d.status === "drawn" ? "good" : d.status === "void" || d.status === "invalid" ? "bad" : "") },
          STATUS[d.status] || d.status)),
      h("p", { class: "muted" }, `Declared ${d.declared}; `, d.seats ? `${d.seats} seats; commit by ${d.commit_by}, reveal by ${d.reveal_by}. ` : "",
        d.reason || ""),
      d.quotas && d.quotas.length ? h("p", {}, "Quotas: ", d.quotas.map((q, i) =>
        `${i ? "; " : ""}${q.attribute} ${q.value}: ${q.min} to ${q.max}`)) : null,
      d.pool ? h("div", { class: "scroll" }, h("table", { class: "draw-chances" },
        h("caption", {}, "Each person's chance of being drawn"),
        h("thead", {}, h("tr", {}, ["Candidate", "Attributes", "Chance", ""].map(t => h("th", { scope: "col" }, t)))),
        h("tbody", {}, d.pool.map(c => h("tr", { "data-candidate": c.id },
          h("td", {}, c.id), h("td", {}, attributes(c)),
          h("td", { class: "n", title: d.chances[c.id] }, percent(d.chances[c.id])),
          h("td", {}, drawn.has(c.id) ? "drawn" : "")))))) : null,
      d.participants ? h("ul", { class: "draw-participants" }, d.participants.map(p => h("li", {},
        `${p.assembly.slice(0, 10)}…: `, p.committed ? `committed ${p.committed}` : "no commitment",
        p.revealed ? `, revealed ${p.revealed}` : "", p.held ? "" : " (ledger not held here)"))) : null,
      d.status === "drawn" ? h("p", { class: "draw-panel" }, "Drawn: ", d.panel.join(", "),
        h("span", { class: "muted" }, ` (seed ${d.seed.slice(0, 16)}…)`)) : null);
  }

  function renderParity(c) {
    const rule = Object.entries(c.parity.min).map(([v, n]) => `${n} ${v}`).join(", ");
    return h("article", { class: "card parity", "data-confederation": c.confederation },
      h("h3", {}, c.name, " ", h("span", { class: "badge " + (c.met ? "good" : "bad") }, c.met ? "parity met" : "parity not met")),
      h("p", { class: "muted" }, `Each delegation: at least ${rule} by ${c.parity.attribute}`,
        c.parity.share ? `, each at least ${c.parity.share}` : "", `; as of ${c.as_of}.`),
      h("ul", {}, c.members.map(m => h("li", { "data-assembly": m.assembly, class: m.met ? "met" : "not-met" },
        `${m.name || m.assembly.slice(0, 10) + "…"}: `, m.met ? "met" : "not met: " + m.reason,
        m.delegates.length ? ` (${m.delegates.map(d => d.delegate).join(", ")})` : ""))));
  }

  // Each list this page fills: [rows from the view, box id, how one row is shown, what an empty list says].
  const LISTS = [
    [view => view.draws, "draw-list", renderDraw, "No draw held here."],
    [view => view.confederations.filter(c => c.parity).map(c => ({
      confederation: c.id, name: c.rules.name, as_of: view.as_of, parity: c.parity.rule,
      members: c.parity.members, met: c.parity.met })), "parity-list", renderParity,
     "No council held here requires parity."],
  ];

  function fill(view, [rowsOf, id, render, empty]) {
    const box = document.getElementById(id);
    if (!box) return;
    const rows = rowsOf(view);
    box.replaceChildren(...(rows.length ? rows.map(render) : [h("p", { class: "muted" }, empty)]));
  }

  let timer = null;
  async function reload() {
    try {
      const response = await fetch(API + "/view");
      if (!response.ok) return;
      const view = await response.json();
      LISTS.forEach(list => fill(view, list));
    } catch (e) { /* the daemon is away: the next event reloads */ }
  }
  document.addEventListener("DOMContentLoaded", () => {
    reload();
    new EventSource(API + "/events").addEventListener("records", () => {
      clearTimeout(timer);
      timer = setTimeout(reload, 150);
    });
  });
})();
