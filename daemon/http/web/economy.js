// pnyx web page, the economy view: needs against offers per item, and what is uncovered
// (protocol-spec/economy.md). Self-contained: it reads GET /api/v1/plan, follows the event
// stream itself and fills <section id="economy">; it shares nothing with app.js but the page.
// Everything shown is built with textContent (records come from other assemblies too).
"use strict";

(() => {
  const API = "/api/v1";
  // Uncovered is hatched (the page's pattern), not only red: the legend under each chart names them all.
  const COLOURS = { covered: "#1b6b2a", proposed: "#f9a825", uncovered: "url(#fill-against)", surplus: "#1d4e89" };
  const LEGEND = [["pledged, met or given", COLOURS.covered], ["proposed", COLOURS.proposed],
                  ["uncovered", COLOURS.uncovered], ["surplus", COLOURS.surplus]];

  function make(ns, tag, attrs, children) {
    const node = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, v);
    for (const c of (children || []).flat(Infinity)) {
      if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const h = (tag, attrs, ...children) => make(null, tag, attrs, children);
  const s = (tag, attrs, ...children) => make("http://www.w3.org/2000/svg", tag, attrs, children);

  // One horizontal bar of stacked segments [label, value, colour], scaled to `scale`.
  function bar(y, title, segments, scale) {
    const width = 220;
    let x = 80;
    const parts = [s("text", { x: 0, y: y + 13, class: "chart-label" }, title)];
    for (const [label, value, colour] of segments) {
      if (value <= 0) continue;
      const w = Math.max(1, Math.round(width * value / scale));
      parts.push(s("rect", { x, y, width: w, height: 18, fill: colour }, s("title", {}, `${label}: ${value}`)));
      x += w;
    }
    parts.push(s("text", { x: x + 4, y: y + 13, class: "chart-label" }, String(segments.reduce((a, [, v]) => a + v, 0))));
    return parts;
  }

  function chart(line) {
    const covered = Math.max(0, line.needed - line.proposed - line.uncovered);
    const given = Math.max(0, line.offered - line.proposed - line.surplus);
    const scale = Math.max(1, line.needed, line.offered);
    const summary = `${line.item}: ${line.needed} ${line.unit} needed, ${line.offered} offered, ` +
      `${line.uncovered} uncovered, ${line.surplus} surplus`;
    return s("svg", { viewBox: "0 0 340 52", class: "chart plan-chart", role: "img", "aria-label": summary },
      bar(2, "needed", [["pledged or met", covered, COLOURS.covered], ["proposed", line.proposed, COLOURS.proposed],
                        ["uncovered", line.uncovered, COLOURS.uncovered]], scale),
      bar(28, "offered", [["pledged or given", given, COLOURS.covered], ["proposed", line.proposed, COLOURS.proposed],
                          ["surplus", line.surplus, COLOURS.surplus]], scale));
  }

  function renderLine(line, names) {
    const name = key => names[key.split("/")[0]] || key.slice(0, 10) + "…";
    const uncovered = line.needs.filter(n => n.uncovered > 0);
    return h("article", { class: "card plan-line", "data-item": line.item, "data-unit": line.unit },
      h("h4", {}, `${line.item} (${line.unit})`,
        line.uncovered ? h("span", { class: "badge bad" }, ` ${line.uncovered} uncovered`) : h("span", { class: "badge good" }, " covered")),
      chart(line),
      h("ul", { class: "legend", "aria-hidden": "true" }, LEGEND.map(([label, fill]) => h("li", {},
        s("svg", { class: "swatch", viewBox: "0 0 14 14" }, s("rect", { width: 14, height: 14, fill })), ` ${label}`))),
      h("h5", {}, "Per month"),
      h("ul", { class: "plan-periods" }, line.periods.map(p => h("li", {}, h("strong", {}, p.period), " ",
        ["needed", "offered", "pledged", "delivered", "proposed", "uncovered", "surplus"]
          .filter(k => p[k]).map(k => `${k} ${p[k]}`).join(" · ")))),
      uncovered.length ? h("ul", { class: "uncovered" }, uncovered.map(n =>
        h("li", {}, `${n.uncovered} ${line.unit} for ${name(n.assembly)} by ${n.by} (${n.priority})`))) : null,
      line.proposal.length ? h("p", { class: "muted" }, "Proposed: ", line.proposal.map((m, i) =>
        `${i ? "; " : ""}${m.quantity} from ${name(m.offer)} to ${name(m.need)}`)) : null);
  }

  function render(plan) {
    const box = document.getElementById("plan-list");
    if (!box) return;
    document.getElementById("plan-as-of").textContent = `As of ${plan.as_of}, from the records held here.`;
    if (!plan.confederations.length) { box.replaceChildren(h("p", { class: "muted" }, "No confederation is held here.")); return; }
    box.replaceChildren(...plan.confederations.map(c => {
      const names = Object.fromEntries(c.members.map(m => [m.assembly, m.name || m.assembly.slice(0, 10) + "…"]));
      return h("article", { class: "plan-confederation", "data-id": c.id },
        h("h3", {}, c.name),
        h("p", { class: "muted plan-news" }, "News held: ", c.members.map((m, i) => [i ? "; " : "",
          `${names[m.assembly]} ${m.newest ? "up to " + m.newest : m.held ? "no needs or offers" : "ledger not held"}`])),
        c.items.length ? c.items.map(line => renderLine(line, names)) : h("p", { class: "muted" }, "No needs or offers."),
        c.commons.length ? h("p", {}, "Commons: ", c.commons.map((g, i) =>
          `${i ? "; " : ""}${g.good}, kept by ${names[g.custodian] || g.custodian.slice(0, 10)}: ${g.rules}`)) : null);
    }));
  }

  async function load() {
    try {
      const response = await fetch(API + "/plan");
      if (response.ok) render(await response.json());
    } catch (e) { /* the daemon is away: the next event reloads */ }
  }

  let timer = null;
  const soon = () => { clearTimeout(timer); timer = setTimeout(load, 150); };
  document.addEventListener("DOMContentLoaded", () => {
    load();
    const events = new EventSource(API + "/events");
    events.addEventListener("records", soon);
    events.addEventListener("view", soon);
  });
})();
