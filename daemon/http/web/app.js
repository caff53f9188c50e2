// pnyx web page: reads the local API, listens to its event stream, records through it.
// Everything shown is built with textContent (records come from other assemblies too).
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "pnyx.token";
const state = { ledger: null, view: null, status: null };

// --- helpers ---------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v; else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children.flat(Infinity)) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function short(key) { return key && key.length > 16 ? key.slice(0, 10) + "…" : key; }

function token() { return localStorage.getItem(TOKEN_KEY) || ""; }

function say(text, bad) {
  const box = document.getElementById("message");
  box.hidden = false;
  box.textContent = text;
  box.className = "message " + (bad ? "bad" : "good");
}

async function api(path, options) {
  const response = await fetch(API + path, options);
  let body = null;
  try { body = await response.json(); } catch (e) { body = null; }
  if (!response.ok) {
    const message = body && body.error ? body.error.message : response.statusText;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return body;
}

function names() {
  const out = {};
  if (state.view) {
    for (const c of state.view.confederations) {
      out[c.id] = c.rules.name;
      for (const m of c.members) if (m.name) out[m.member] = m.name;
    }
  }
  if (state.ledger && state.ledger.profile) out[state.ledger.assembly] = state.ledger.profile.name;
  return out;
}

function nameOf(key) { return names()[key] || short(key); }

// --- loading ---------------------------------------------------------------------------

async function loadAll() {
  try {
    const [status, ledger, view] = await Promise.all([api("/status"), api("/ledger"), api("/view")]);
    Object.assign(state, { status, ledger, view });
    renderStatus(); renderLedger(); renderView(); renderOptions();
  } catch (e) {
    say("Cannot read the daemon: " + e.message, true);
  }
  loadPeers();
}

async function loadPeers() {
  const box = document.getElementById("peer-list");
  let peers;
  try { peers = await api("/peers"); } catch (e) {
    box.replaceChildren(el("p", { class: "muted" }, e.status === 404 ? "This daemon does not sync with peers." : e.message));
    return;
  }
  if (!peers.length) { box.replaceChildren(el("p", { class: "muted" }, "No peers known.")); return; }
  const state = p => p.self ? "this daemon" : p.failures && p.last_error ? "failing" : p.last_success ? "in sync" : "not yet reached";
  const ago = s => s === null ? "never" : s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
  box.replaceChildren(el("div", { class: "scroll" }, el("table", {},
    el("thead", {}, el("tr", {}, ["Peer", "State", "Last sync", "Sent", "Received", "Rejected", "Last error"].map(h => el("th", { scope: "col" }, h)))),
    el("tbody", {}, peers.map(p => el("tr", { class: "peer", "data-url": p.url },
      el("td", {}, p.url, p.device ? el("div", { class: "muted" }, short(p.device)) : null),
      el("td", {}, el("span", { class: "badge " + (state(p) === "in sync" ? "good" : state(p) === "failing" ? "bad" : "") }, state(p))),
      el("td", {}, ago(p.lag_seconds)),
      el("td", { class: "n" }, p.sent), el("td", { class: "n" }, p.received), el("td", { class: "n" }, p.rejected),
      el("td", {}, p.last_error || "")))))));
}

function renderStatus() {
  const s = state.status;
  document.getElementById("assembly-name").textContent = s.assembly_name || "pnyx";
  document.title = (s.assembly_name || "pnyx") + " — pnyx";
  document.getElementById("status-line").textContent =
    `${s.changes} signed changes in ${s.documents} documents · ${s.pending} pending · device ${short(s.device)}`;
}

function renderLedger() {
  const l = state.ledger;
  const decisions = [...l.decisions].sort((a, b) => (b.date + b.id).localeCompare(a.date + a.id));
  document.querySelector("#decisions tbody").replaceChildren(...decisions.map(d => el("tr", { class: d.superseded ? "decision superseded" : "decision", "data-id": d.id },
    el("td", {}, d.date),
    el("td", {}, el("strong", {}, d.title), d.text ? el("div", { class: "muted" }, d.text) : null,
      d.dissent ? el("div", { class: "dissent" }, "Dissent: " + d.dissent) : null,
      d.superseded ? el("div", { class: "muted" }, "superseded") : null,
      d.reopened_by ? el("div", { class: "reopened" }, `reopened by a minority (${d.reopened_by})`,
        d.revote ? `; new vote ${d.revote}` : "; new vote pending") : null,
      d.revote_of ? el("div", { class: "muted" }, `new vote on the reopening ${d.revote_of}`) : null,
      d.ignored ? el("div", { class: "muted ignored" }, "ignored: " + d.ignored) : null),
    el("td", { class: "n" }, d.tally.for), el("td", { class: "n" }, d.tally.against),
    el("td", { class: "n" }, d.tally.abstain),
    el("td", {}, d.kind, " ", el("span", { class: "badge outcome-" + d.outcome, title: d.reason }, d.outcome)))));
  if (!decisions.length) document.querySelector("#decisions tbody").append(el("tr", {}, el("td", { colspan: 6, class: "muted" }, "No decisions yet.")));
  document.getElementById("mandates").replaceChildren(...l.mandates.map(m => el("li", { class: "card", "data-id": m.id },
    el("strong", {}, m.delegate), ` to ${nameOf(m.council)} · ${m.term_from} – ${m.term_until} · `,
    el("span", { class: m.outcome !== "adopted" || m.recalled_by ? "badge bad" : "badge good" },
      m.outcome !== "adopted" ? "not adopted" : m.recalled_by ? "recalled" : "issued"),
    m.rotation ? el("div", { class: "badge bad rotation" }, "breaks the rotation: " + m.rotation) : null,
    m.instructions.length ? el("ul", {}, m.instructions.map(i => el("li", {}, `${i.question}: ${i.position} (${i.binding})`))) : null)));
  document.getElementById("devices").replaceChildren(...l.devices.map(d => el("li", {},
    el("code", {}, short(d.key)), " ", d.label || "", " ",
    el("span", { class: d.revoked_cut ? "badge bad" : "badge good" }, d.revoked_cut ? "revoked" : "certified"))));
}

function tallyChart(t, threshold) {
  const total = t.for + t.against + t.abstain;
  const width = 300, height = 28;
  const parts = [["for", t.for], ["against", t.against], ["abstain", t.abstain]];
  let x = 0;
  const bars = [];
  for (const [label, n] of parts) {
    const w = total ? (n / total) * width : 0;
    if (w > 0) bars.push(svg("rect", { x, y: 0, width: w, height, class: "bar-" + label }, svg("title", {}, `${label}: ${n}`)));
    x += w;
  }
  return svg("svg", { viewBox: `0 0 ${width} ${height + 16}`, class: "chart", role: "img",
    "aria-label": `Tally: ${t.for} for, ${t.against} against, ${t.abstain} abstain; threshold ${threshold}` },
    svg("rect", { x: 0, y: 0, width, height, class: "bar-empty" }), bars,
    svg("text", { x: 0, y: height + 13, class: "chart-label" }, `${t.for} for · ${t.against} against · ${t.abstain} abstain`));
}

function renderView() {
  const v = state.view;
  document.getElementById("as-of").textContent = `As of ${v.as_of}, from the records held here.`;
  const list = document.getElementById("confederation-list");
  if (!v.confederations.length) { list.replaceChildren(el("p", { class: "muted" }, "No confederation is held here.")); }
  else list.replaceChildren(...v.confederations.map(c => el("article", { class: "card confederation" },
    el("h3", {}, c.rules.name), el("p", { class: "muted" }, `founded ${c.founded} · threshold ${c.rules.threshold} · amendments ${c.rules.qualified} · deadline ${c.rules.deadline_days} days`),
    el("p", {}, "Members: ", c.members.map((m, i) => [i ? ", " : "", `${m.name || short(m.member)} (${m.state})`])),
    c.proposals.length ? c.proposals.map(renderProposal) : el("p", { class: "muted" }, "No proposals."))));
  const delegates = document.getElementById("delegate-list");
  if (!v.mandates.length) { delegates.replaceChildren(el("p", { class: "muted" }, "No mandates held here.")); return; }
  delegates.replaceChildren(...v.mandates.map(m => el("article", { class: "card mandate" },
    el("h3", {}, `${m.delegate} — ${nameOf(m.assembly)}`),
    el("p", {}, `to ${nameOf(m.council)} · ${m.from} – ${m.until} · `, el("span", { class: "badge " + (m.state === "active" ? "good" : "bad") }, m.state)),
    m.acts.length ? el("ul", {}, m.acts.map(a => el("li", {}, `${a.date} ${a.kind} `,
      a.proposal ? `on ${short(a.proposal)}: ${a.position} (${a.binding}) ` : `${a.text} `,
      el("span", { class: "badge" }, a.class), el("span", { class: "muted" }, ` ${a.reason}`)))) : el("p", { class: "muted" }, "No acts."))));
}

function renderProposal(p) {
  return el("section", { class: "proposal", "data-id": p.id },
    el("h4", {}, p.title, " ", el("span", { class: "badge outcome-" + p.outcome }, p.outcome)),
    el("p", { class: "muted" }, `${p.kind} · proposed by ${nameOf(p.proposer)} on ${p.date} · deadline ${p.deadline} · ${p.reason}`),
    tallyChart(p.tally, p.threshold),
    el("div", { class: "scroll" }, el("table", { class: "breakdown" },
      el("caption", {}, "Per assembly"),
      el("thead", {}, el("tr", {}, ["Assembly", "For", "Against", "Abstain", "Majority"].map(h => el("th", { scope: "col" }, h)))),
      el("tbody", {},
        p.breakdown.map(b => el("tr", {}, el("td", {}, nameOf(b.assembly)), el("td", { class: "n" }, b.for),
          el("td", { class: "n" }, b.against), el("td", { class: "n" }, b.abstain), el("td", {}, b.majority))),
        p.not_voted.map(a => el("tr", { class: "muted" }, el("td", {}, nameOf(a)), el("td", { colspan: 4 }, "not voted yet")))))),
    p.tendency.length ? el("p", {}, "Tendency: ", p.tendency.map(t => `${t.delegate} (${nameOf(t.assembly)}): ${t.position}`).join("; ")) : null);
}

function renderOptions() {
  const fill = (kind, items) => {
    for (const select of document.querySelectorAll(`select[data-options="${kind}"]`)) {
      const chosen = select.value;
      select.replaceChildren(el("option", { value: "" }, "—"), ...items.map(([value, label]) => el("option", { value }, label)));
      select.value = items.some(([value]) => value === chosen) ? chosen : "";
    }
  };
  fill("decisions", state.ledger.decisions.map(d => [d.id, `${d.date} ${d.title}`]));
  fill("mandates", state.ledger.mandates.filter(m => !m.recalled_by).map(m => [m.id, `${m.delegate} to ${nameOf(m.council)}`]));
  fill("proposals", state.view.confederations.flatMap(c => c.proposals.filter(p => p.outcome === "open").map(p => [p.id, `${c.rules.name}: ${p.title}`])));
  document.getElementById("confederation-ids").replaceChildren(...state.view.confederations.map(c => el("option", { value: c.id }, c.rules.name)));
}

// --- writing ---------------------------------------------------------------------------

function vote(f) {
  const n = name => f.elements[name] && f.elements[name].value !== "" ? Number(f.elements[name].value) : null;
  const body = { date: f.elements.date.value, tally: { for: n("votes_for"), against: n("against"), abstain: n("abstain") } };
  if (f.elements.quorum && f.elements.quorum.value !== "") body.quorum = n("quorum");
  if (f.elements.dissent) body.dissent = f.elements.dissent.value;
  return body;
}

const WRITES = {
  decision(f) {
    const body = { ...vote(f), title: f.elements.title.value, text: f.elements.text.value };
    if (f.elements.supersedes.value) body.supersedes = f.elements.supersedes.value;
    return ["/decisions", body, d => `Recorded decision “${d.title}”.`];
  },
  mandate(f) {
    const e = f.elements;
    const body = { ...vote(f), delegate: e.delegate.value, council: e.council.value, term_from: e.term_from.value, term_until: e.term_until.value,
      instructions: e.question.value ? [{ question: e.question.value, position: e.position.value, binding: e.binding.value }] : [] };
    if (e.delegate_key.value) body.delegate_key = e.delegate_key.value.trim();
    return ["/mandates", body, m => `Issued mandate for ${m.delegate}.`];
  },
  recall(f) {
    return [`/mandates/${encodeURIComponent(f.elements.mandate.value)}/recall`, vote(f), () => "Mandate recalled."];
  },
  ratify(f) {
    const [assembly, decision] = f.elements.proposal.value.split("/");
    return [`/proposals/${encodeURIComponent(assembly)}/${encodeURIComponent(decision)}/ratify`, vote(f), () => "Ratification recorded."];
  },
};

async function submitWrite(event) {
  event.preventDefault();
  const form = event.target;
  const [path, body, done] = WRITES[form.dataset.write](form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const result = await api(path, { method: "POST", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + token() } });
    say(done(result), false);
    form.reset();
    setDefaults();
    loadAll();
  } catch (e) {
    say(`Not recorded: ${e.message}`, true);
    if (e.status === 401) { document.getElementById("token-box").open = true; document.getElementById("token").focus(); }
  } finally {
    button.disabled = false;
  }
}

function setDefaults() {
  const today = new Date().toISOString().slice(0, 10);
  for (const input of document.querySelectorAll('input[name="date"]')) if (!input.value) input.value = today;
}

function showTokenState() {
  document.getElementById("token-state").textContent = token() ? "(kept in this browser)" : "(needed to record)";
}

// --- live updates ----------------------------------------------------------------------

let reload = null;
function soon() { clearTimeout(reload); reload = setTimeout(loadAll, 100); }

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource(API + "/events");
  events.addEventListener("open", () => { live.textContent = "live"; live.className = "badge good"; });
  events.addEventListener("error", () => { live.textContent = "reconnecting"; live.className = "badge off"; });
  events.addEventListener("hello", soon);
  events.addEventListener("records", soon);
  events.addEventListener("view", soon);
}

document.addEventListener("DOMContentLoaded", () => {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  document.getElementById("token-form").addEventListener("submit", e => {
    e.preventDefault();
    localStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
    document.getElementById("token").value = "";
    showTokenState();
    say("Token kept in this browser.", false);
  });
  for (const form of document.querySelectorAll("form[data-write]")) form.addEventListener("submit", submitWrite);
  showTokenState();
  setDefaults();
  loadAll();
  listen();
  setInterval(loadPeers, 10000);  // exchanges with peers change their state without new records
});
