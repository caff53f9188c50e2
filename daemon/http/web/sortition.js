// pnyx web page, draws by lot (protocol-spec/sortition.md): each draw held here with every
// candidate's exact chance, the participants' commitments and reveals, and the panel once drawn.
// Self-contained like economy.js: it reads GET /api/v1/draws, follows the event stream and fills
// <section id="sortition">. Everything shown is built with textContent.
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

  async function load() {
    const box = document.getElementById("draw-list");
    if (!box) return;
    try {
      const response = await fetch(API + "/draws");
      if (!response.ok) return;
      const draws = await response.json();
      box.replaceChildren(...(draws.length ? draws.map(renderDraw) : [h("p", { class: "muted" }, "No draw held here.")]));
    } catch (e) { /* the daemon is away: the next event reloads */ }
  }

  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(load, 150); };
  document.addEventListener("DOMContentLoaded", () => {
    load();
    const events = new EventSource(API + "/events");
    events.addEventListener("records", soon);
  });
})();
