// pnyx web page: one view per task, read from the local API, kept live by its event stream.
// Everything shown is built with textContent: records come from other assemblies too.
"use strict";

const API = "/api/v1";
const TOKEN_KEY = "pnyx.token";
const VIEWS = ["ledger", "record", "confederation", "delegates", "economy", "sortition", "parity", "exchange"];
const state = { status: null, view: null, ledgers: {}, assemblies: [], peers: [], completeness: null, bylaws: null,
  plan: null, economy: {}, shown: null, whole: new Set() };
// Each ledger's newest PAGE decisions and mandates are read (GET /ledger?limit=), so the page loads
// as fast at 100k records as at 100; "Show all" reads that ledger whole (its key goes in state.whole).
// Its `delegates` hold every mandate and the decisions recalling them whatever the page: the
// Delegates view shows every mandate's instructions and recall, however old.
const PAGE = 50;
const ECONOMY = ["needs", "offers", "pledges", "deliveries", "commons"];
const SINGULAR = { needs: "need", offers: "offer", pledges: "pledge", deliveries: "delivery", commons: "commons" };

// --- words: one vocabulary for the whole page --------------------------------------------

const OUTCOME = { adopted: "Adopted", rejected: "Rejected", "no-quorum": "No quorum", no_quorum: "No quorum",
  open: "Open", lapsed: "Lapsed" };
const MANDATE_STATE = { active: "active", recalled: "recalled", expired: "expired", "not-yet-in-force": "not yet in force",
  "not-adopted": "not adopted" };
const ACT_CLASS = {
  "within-mandate": ["✓", "within mandate", "good"],
  "exceeds-mandate": ["⚠", "exceeds mandate", "alarm"],
  "indicative-awaiting-ratification": ["?", "indicative, awaiting ratification", "wait"],
  "indicative-ratified": ["✓", "indicative, ratified", "good"],
  disputed: ["!", "disputed: concurrent with the recall", "wait"],
  void: ["✕", "void", "off"],
  replaced: ["↺", "replaced by a later act", "off"],
};
const MEMBER_STATE = { member: "member", suspended: "suspended", "awaiting-acceptance": "has not accepted yet",
  "not-a-member": "not a member", "charter-not-held": "charter not held here", "membership-cycle": "membership cycle" };
const KIND = { policy: "Policy", admit: "Admission", suspend: "Suspension", amend: "Amendment of the charter", join: "Joining" };
const MAJORITY = { for: "majority for", against: "majority against", tie: "tied" };

function outcomeWord(o) { return OUTCOME[o] || String(o).replace(/[-_]/g, " "); }
function outcomeClass(o) { return o === "adopted" ? "good" : o === "open" ? "wait" : "bad"; }

// --- helpers ----------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v; else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children.flat(Infinity)) if (c) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function badge(text, kind, mark) {
  return el("span", { class: "badge " + (kind || "") }, mark ? el("span", { "aria-hidden": "true" }, mark + " ") : null, text);
}

function short(key) { return key && key.length > 16 ? key.slice(0, 8) + "…" : key; }
function plural(n, one, many) { return `${n} ${n === 1 ? one : many || one + "s"}`; }
function pct(n, total) { return total ? Math.round((100 * n) / total) + "%" : "0%"; }
function token() { return localStorage.getItem(TOKEN_KEY) || ""; }
function today() { return new Date().toISOString().slice(0, 10); }
function thisAssembly() { return state.status ? state.status.assembly : null; }
function ledger(key) { return state.ledgers[key || thisAssembly()] || null; }

async function api(path, options) {
  const response = await fetch(API + path, options);
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json().catch(() => null) : await response.blob();
  if (!response.ok) {
    const error = new Error(body && body.error ? body.error.message : response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

// A list holding forms is rebuilt only when what it shows changed: a live update must not
// untick a box being ticked or take the keyboard's focus away.
const lastShown = new WeakMap();
function changed(node, shown) {
  const key = JSON.stringify(shown);
  if (lastShown.get(node) === key) return false;
  lastShown.set(node, key);
  return true;
}

// --- names: every key and id shown by what people call it -------------------------------

function confederations() { return state.view ? state.view.confederations : []; }
function proposals() { return confederations().flatMap(c => c.proposals.map(p => ({ ...p, confederation: c }))); }
function mandates() { return state.view ? state.view.mandates : []; }

function assemblyName(key) {
  const held = state.assemblies.find(a => a.key === key);
  if (held && held.name) return held.name;
  for (const c of confederations()) for (const m of c.members) if (m.member === key && m.name) return m.name;
  return "assembly " + short(key);
}

function councilName(council) {
  const c = confederations().find(c => c.id === council);
  return c ? c.rules.name : council.length === 64 ? "confederation " + short(council) : council;
}

function proposalTitle(pid) {
  const p = proposals().find(p => p.id === pid || p.id.endsWith("/" + pid));
  return p ? `“${p.title}”` : "proposal " + short(pid.split("/").pop());
}

function mandateOf(id) { return mandates().find(m => m.mandate === id); }

// Whether `key` is the delegate's or a co-delegate's: each may act under the mandate.
function carries(m, key) { return m.delegate_key === key || m.co_delegates.some(c => c.delegate_key === key); }

function deviceName(key) {
  for (const l of Object.values(state.ledgers)) {
    const d = l.devices.find(d => d.key === key);
    if (d) return `${l.profile ? l.profile.name : "assembly"}: ${d.label || "a device"}`;
  }
  const m = mandates().find(m => carries(m, key));
  const who = m && (m.delegate_key === key ? m.delegate : m.co_delegates.find(c => c.delegate_key === key).delegate);
  return m ? `${who}, delegate of ${assemblyName(m.assembly)}` : null;
}

function decisionHeading(d, l) {
  const mandate = mandateRow(l, d.subject);
  switch (d.kind) {
    case "mandate": return mandate ? `Mandate for ${mandate.delegate} to ${councilName(mandate.council)}` : d.title;
    case "recall": return mandate ? `Recall of ${mandate.delegate}'s mandate to ${councilName(mandate.council)}` : d.title;
    case "ratification": return `Vote on the confederal proposal ${proposalTitle(d.subject || "")}`;
    case "charter-acceptance": return `Acceptance of the charter of ${councilName(d.subject || "")}`;
    case "proposal": {
      const p = proposals().find(p => p.id === `${l.assembly}/${d.id}`);
      return p ? `Proposal to ${p.confederation.rules.name}: ${d.title}` : `Proposal: ${d.title}`;
    }
    default: return d.title;
  }
}

// --- the tally chart: threshold marked, percentages, legend, patterns besides colours ----

function thresholdShare(threshold) {
  if (!threshold || threshold === "simple") return 0.5;
  const [p, q] = threshold.split("/").map(Number);
  return q ? p / q : 0.5;
}

function tallyChart(t, options) {
  const opts = options || {};
  const total = t.for + t.against + t.abstain;
  const decisive = t.for + t.against;
  const W = 300, H = 22, top = opts.threshold ? 16 : 2;
  const parts = [["for", t.for, "fill-for"], ["against", t.against, "url(#fill-against)"], ["abstain", t.abstain, "url(#fill-abstain)"]];
  let x = 0;
  const shapes = [svg("rect", { x: 0, y: top, width: W, height: H, class: "fill-empty" })];
  for (const [, n, fill] of parts) {
    const w = total ? (n / total) * W : 0;
    if (w > 0) shapes.push(svg("rect", fill.startsWith("url") ? { x, y: top, width: w, height: H, fill } : { x, y: top, width: w, height: H, class: fill }));
    x += w;
  }
  let label = `${t.for} for (${pct(t.for, total)}), ${t.against} against (${pct(t.against, total)}), ${t.abstain} abstain (${pct(t.abstain, total)})`;
  if (opts.threshold) {
    const share = thresholdShare(opts.threshold);
    const at = total ? (decisive * share / total) * W : W * share;
    shapes.push(svg("polygon", { points: `${at - 5},2 ${at + 5},2 ${at},${top - 2}`, class: "threshold-mark" }),
      svg("line", { x1: at, x2: at, y1: 2, y2: top + H + 4, class: "threshold" }));
    label += `; needed: ${opts.rule || opts.threshold}`;
  }
  const figure = el("figure", { class: "tally" + (opts.small ? " small" : "") });
  figure.append(svg("svg", { viewBox: `0 0 ${W} ${top + H + 6}`, class: "chart", role: "img", "aria-label": label, preserveAspectRatio: "none" }, shapes));
  const legend = el("ul", { class: "legend", "aria-hidden": "true" },
    parts.map(([name, n]) => el("li", {}, swatch(name), ` ${name[0].toUpperCase() + name.slice(1)} `, el("strong", {}, n), ` (${pct(n, total)})`)));
  figure.append(legend);
  if (opts.threshold) {
    const met = t.for + t.against > 0 && (opts.threshold === "simple" ? t.for > t.against : t.for >= thresholdShare(opts.threshold) * decisive);
    figure.append(el("figcaption", {}, el("span", { class: "threshold-key", "aria-hidden": "true" }, "▼"),
      ` Needed: ${opts.rule || opts.threshold} (abstentions not counted). So far: `,
      el("strong", {}, met ? "met" : "not met"), "."));
  }
  return figure;
}

function swatch(name) {
  const fill = name === "for" ? { class: "fill-for" } : { fill: `url(#fill-${name})` };
  return svg("svg", { class: "swatch", viewBox: "0 0 14 14", "aria-hidden": "true" }, svg("rect", { x: 0, y: 0, width: 14, height: 14, ...fill }));
}

function tallyOf(d) { return { for: d.tally.for, against: d.tally.against, abstain: d.tally.abstain }; }

function dissent(text) {
  return text ? el("blockquote", { class: "dissent" }, el("span", { class: "label" }, "Dissent: "), text) : null;
}

// --- loading -----------------------------------------------------------------------------

let loads = 0;
async function loadAll() {
  const mine = ++loads;  // a slower earlier load must not paint older records over a newer one
  try {
    const [status, view, assemblies] = await Promise.all([api("/status"), api("/view"), api("/assemblies")]);
    const keys = assemblies.map(a => a.key);
    if (!keys.includes(status.assembly)) keys.push(status.assembly);
    const ledgers = await Promise.all(keys.map(k => api("/ledger?assembly=" + encodeURIComponent(k)
      + (state.whole.has(k) ? "" : "&limit=" + PAGE)).catch(() => null)));
    const [peers, completeness, bylaws, plan, ...records] = await Promise.all([api("/peers").catch(() => []),
      api("/completeness").catch(() => null), api("/bylaws").catch(() => null),  // bylaws: null from a daemon without them
      api("/plan").catch(() => null), ...ECONOMY.map(c => api("/" + c).catch(() => []))]);
    if (mine !== loads) return;
    state.economy = Object.fromEntries(ECONOMY.map((c, i) => [c, records[i]]));
    state.ledgers = {};
    keys.forEach((k, i) => { if (ledgers[i]) state.ledgers[k] = ledgers[i]; });
    Object.assign(state, { status, view, assemblies, peers, completeness, bylaws, plan });
    document.getElementById("load-error").hidden = true;
    render();
  } catch (e) {
    const box = document.getElementById("load-error");
    box.hidden = false;
    box.textContent = "Cannot read this daemon: " + e.message;
  }
}

function isDelegateDevice() {
  const l = ledger();
  if (!state.status || !l) return false;
  const me = state.status.device;
  return !l.devices.some(d => d.key === me) && mandates().some(m => carries(m, me));
}

// The feedback last told, if the reader can see it, stays where it is on the screen while the
// lists above it are drawn again: records arriving from a peer must not push it out of sight.
function render() {
  const anchor = told && inSight(told) ? told.getBoundingClientRect().top : null;
  renderHeader(); renderLedger(); renderBylaws(); renderConfederations(); renderDelegates(); renderEconomy(); renderExchange();
  renderOptions();
  route();
  if (anchor !== null && inSight(told, true)) window.scrollBy(0, told.getBoundingClientRect().top - anchor);
}

function inSight(box, anywhere = false) {
  if (!box.isConnected || box.getClientRects().length === 0) return false;  // gone, or in a hidden view
  const r = box.getBoundingClientRect();
  return anywhere || (r.bottom > 0 && r.top < window.innerHeight);
}

function renderHeader() {
  const s = state.status, l = ledger();
  const name = s.assembly_name || "pnyx";
  document.getElementById("assembly-name").textContent = name;
  const where = l && l.profile ? [l.profile.place, l.profile.members ? plural(l.profile.members, "member") : null].filter(Boolean).join(" · ") : "";
  const delegate = isDelegateDevice();
  document.getElementById("assembly-place").textContent = delegate ? `A delegate's device · ${where}` : where;
  document.title = `${name} — pnyx`;
  document.getElementById("equivocations").replaceChildren(...(s.equivocations || []).map(f => el("p", { class: "feedback bad", role: "alert" },
    `Equivocation: the key ${deviceName(f.key) || short(f.key)} signed ${f.changes.length} contradicting changes in ${f.doc} (${f.reason}).`)));
  document.body.classList.toggle("delegate-device", delegate);
  for (const node of document.querySelectorAll('[data-role="assembly"]')) node.hidden = delegate;
}

// --- ledger -------------------------------------------------------------------------------

function renderLedger() {
  const select = document.getElementById("ledger-of");
  const chosen = select.value || thisAssembly();
  const keys = Object.keys(state.ledgers).sort((a, b) => (a === thisAssembly() ? -1 : b === thisAssembly() ? 1 : assemblyName(a).localeCompare(assemblyName(b))));
  select.replaceChildren(...keys.map(k => el("option", { value: k }, assemblyName(k) + (k === thisAssembly() ? " (this assembly)" : ""))));
  select.value = state.ledgers[chosen] ? chosen : thisAssembly();
  const l = ledger(select.value);
  if (!l) return;
  const decisions = [...l.decisions].sort((a, b) => (b.date + b.id).localeCompare(a.date + a.id));
  const standing = decisions.filter(d => !d.superseded);
  const latest = decisions[0];
  const active = mandates().filter(m => m.assembly === select.value && m.state === "active");
  const partial = l.decisions.length < l.totals.decisions;
  document.getElementById("ledger-summary").replaceChildren(...(latest
    ? [el("span", {}, "Latest: ", latest.outcome ? [badge(outcomeWord(latest.outcome), outcomeClass(latest.outcome)), " "] : null,
      el("strong", {}, decisionHeading(latest, l)), ` (${latest.date}). `),
      partial ? `${plural(l.totals.decisions, "decision")} recorded, ${plural(active.length, "active mandate")}.`
        : `${plural(standing.length, "decision")} in force, ${plural(active.length, "active mandate")}.`]
    : ["Nothing recorded yet.", select.value === thisAssembly() && !isDelegateDevice()
      ? [" After a meeting, ", el("a", { href: "#record" }, "record what it decided"), "."] : null]));
  const list = document.getElementById("decisions");
  list.replaceChildren(...decisions.map(d => el("li", { class: "record decision" + (d.superseded ? " superseded" : ""), "data-id": d.id },
    el("p", { class: "meta" }, d.outcome ? badge(outcomeWord(d.outcome), outcomeClass(d.outcome)) : null,
      el("time", { datetime: d.date }, d.date), d.superseded ? badge("replaced by a later decision", "off") : null),
    el("h4", {}, decisionHeading(d, l)),
    d.outcome && d.outcome !== "adopted" && d.reason ? el("p", { class: "muted" }, d.reason) : null,
    d.text ? el("p", { class: "text" }, d.text) : null,
    tallyChart(tallyOf(d), { small: true }),
    d.quorum !== null && d.quorum !== undefined ? el("p", { class: "muted" }, `${d.quorum} present`) : null,
    dissent(d.dissent),
    d.reopened_by ? el("p", { class: "reopened" }, badge("reopened", "alarm", "↺"), ` by a minority (${d.reopened_by})`,
      d.revote ? `; new vote ${d.revote}` : "; new vote pending") : null,
    d.revote_of ? el("p", { class: "muted" }, `New vote on the reopening ${d.revote_of}`) : null,
    d.ignored ? el("p", { class: "muted ignored" }, "Ignored: " + d.ignored) : null,
    d.supersedes ? el("p", { class: "muted" }, "Replaces: ", (l.decisions.find(x => x.id === d.supersedes) || { title: d.supersedes }).title) : null)));
  if (!decisions.length) list.append(el("li", { class: "muted" }, "No decisions yet."));
  showMore("decisions-more", l.decisions.length, l.totals.decisions, "decision");
  showMore("mandates-more", l.mandates.length, l.totals.mandates, "mandate");
  const voids = l.void || [];
  document.getElementById("void-box").hidden = !voids.length;
  document.getElementById("void").replaceChildren(...voids.map(v => el("li", { class: "record" },
    el("p", { class: "meta" }, badge("void", "off", "✕")), el("p", {}, v.reason))));
  const ms = document.getElementById("ledger-mandates");
  ms.replaceChildren(...l.mandates.map(m => {
    const line = mandateSummary(m.id, m.delegate, m.council, m.term_from, m.term_until, select.value);
    if (m.rotation) line.append(el("p", { class: "rotation" }, badge("breaks the rotation", "alarm", "⚠"), ": " + m.rotation));
    return line;
  }));
  if (!l.mandates.length) ms.append(el("li", { class: "muted" }, "No mandates given."));
}

function bylawsWords(b) {
  const rule = b.rule === "simple" ? "more for than against" : `${b.rule} of for and against`;
  return `decisions need ${rule}; ${b.quorum ? `at least ${b.quorum} members present` : "no minimum attendance"}` +
    (b.members ? `; ${plural(b.members, "member")}` : "");
}

function renderBylaws() {
  const b = state.bylaws;
  for (const node of document.querySelectorAll('[data-needs="bylaws"]')) node.hidden = !b;
  const line = document.getElementById("ledger-bylaws");
  line.hidden = !b || document.getElementById("ledger-of").value !== thisAssembly();
  if (!b) return;
  const words = bylawsWords(b.in_force);
  const coming = b.history.filter(h => h.after >= b.as_of).map(h => ` From the day after ${h.after}: ${bylawsWords({ ...b.in_force, ...h.bylaws })}.`);
  line.textContent = `Bylaws in force: ${words}${b.decision ? "" : " (the defaults: none adopted yet)"}.${coming.join("")}`;
  document.getElementById("bylaws-now").textContent = `In force now: ${words}.`;
}

function mandateState(id, fallback) {
  const m = mandateOf(id);
  return m ? m.state : fallback;
}

function mandateSummary(id, delegate, council, from, until, assembly) {
  const s = mandateState(id, "active");
  return el("li", { class: "record mandate-line", "data-id": id },
    el("p", { class: "meta" }, badge(MANDATE_STATE[s] || s, s === "active" ? "good" : "off")),
    el("p", {}, el("strong", {}, delegate), ` for ${assemblyName(assembly)} to ${councilName(council)}, ${from} to ${until}`));
}

// --- confederation ------------------------------------------------------------------------

function ruleWords(threshold, rule) { return rule || (threshold === "simple" ? "more for than against" : `${threshold} of for and against`); }

function renderConfederations() {
  const v = state.view;
  document.getElementById("as-of").textContent = `As of ${v.as_of}, from the records held on this device.`;
  const list = document.getElementById("confederation-list");
  const opened = new Set([...list.querySelectorAll("details[open]")].map(d => d.dataset.key));  // kept open across live updates
  if (!v.confederations.length) {
    list.replaceChildren(el("p", { class: "summary" }, "No confederation is held here yet: found one below, or bring a neighbour's records (",
      el("a", { href: "#exchange" }, "Peers & bundles"), ")."));
    return;
  }
  list.replaceChildren(...v.confederations.map(c => {
    const open = c.proposals.filter(p => p.outcome === "open");
    const decided = c.proposals.filter(p => p.outcome !== "open").reverse();
    const mine = c.members.find(m => m.member === thisAssembly());
    const r = c.rules;
    return el("article", { class: "confederation", "data-id": c.id },
      el("h3", {}, c.rules.name),
      el("p", { class: "summary" }, `${plural(open.length, "open proposal")}, ${plural(decided.length, "decided proposal")}. `,
        `${plural(c.members.filter(m => m.state === "member").length, "member")}`,
        mine ? `; ${assemblyName(thisAssembly())} is ${MEMBER_STATE[mine.state] || mine.state}.` : "."),
      mine && mine.state === "awaiting-acceptance" && !isDelegateDevice()
        ? el("p", {}, el("a", { href: "#record", "data-form": "accept-form", "data-value": c.id, class: "button" }, "Record this assembly's acceptance")) : null,
      open.length ? el("h4", {}, "Open proposals") : null, open.map(p => renderProposal(p)),
      decided.length ? el("h4", {}, "Decided") : null, decided.map(p => renderProposal(p)),
      el("div", { class: "principles-box" }, el("h4", {}, "Protected principles of the charter"),
        r.protected.length ? el("ul", { class: "principles" }, r.protected.map(p => el("li", {}, p)))
          : el("p", { class: "muted" }, "None."),
        el("p", { class: "muted" }, `A simple changing majority cannot overturn these; amending them takes ${r.qualified}.`)),
      el("details", { class: "card more", "data-key": c.id, open: opened.has(c.id) }, el("summary", {}, "Rules and members"),
        el("dl", { class: "facts" },
          el("dt", {}, "Founded"), el("dd", {}, c.founded),
          el("dt", {}, "Decisions need"), el("dd", {}, ruleWords(r.threshold)),
          el("dt", {}, "Amendments need"), el("dd", {}, `${r.qualified} of for and against`),
          el("dt", {}, "Members that must vote"), el("dd", {}, r.assembly_quorum === "0" || r.assembly_quorum === "0/1" ? "no minimum" : r.assembly_quorum),
          el("dt", {}, "Time to ratify"), el("dd", {}, plural(r.deadline_days, "day"))),
        el("h5", {}, "Members"),
        el("ul", { class: "members" }, c.members.map(m => el("li", {}, el("strong", {}, m.name || assemblyName(m.member)),
          " ", badge(MEMBER_STATE[m.state] || m.state, m.state === "member" ? "good" : "off"), m.founding ? el("span", { class: "muted" }, " founding member") : null)))));
  }));
}

function renderProposal(p) {
  const decided = p.outcome !== "open";
  const voted = new Set(p.breakdown.map(b => b.assembly));
  const ours = voted.has(thisAssembly());
  const status = decided ? `${outcomeWord(p.outcome)} on ${p.decided_on || p.deadline}` : `Open until ${p.deadline}`;
  return el("article", { class: "proposal card", "data-id": p.id },
    el("p", { class: "meta" }, badge(outcomeWord(p.outcome), outcomeClass(p.outcome)), el("span", {}, `${KIND[p.kind] || p.kind} proposed by ${assemblyName(p.proposer)} on ${p.date}`)),
    el("h5", {}, p.title),
    p.subject ? el("p", {}, `${p.kind === "admit" ? "Admits" : p.kind === "suspend" ? "Suspends" : "Joins"} ${p.kind === "join" ? councilName(p.subject) : assemblyName(p.subject)}.`) : null,
    p.amendment ? el("p", {}, "Would set: ", Object.entries(p.amendment).map(([k, v], i) => [i ? "; " : "", `${k.replace(/_/g, " ")} ${Array.isArray(v) ? v.map(x => `“${x}”`).join(", ") : v}`]), ".") : null,
    el("p", { class: "summary" }, `${status}. ${p.members_voted} of ${plural(p.members, "member")} voted. ${p.reason[0].toUpperCase() + p.reason.slice(1)}.`),
    p.text ? el("p", { class: "text" }, p.text) : null,
    tallyChart(p.tally, { threshold: p.threshold, rule: p.threshold_rule }),
    el("h6", {}, "How each assembly voted"),
    el("ul", { class: "breakdown" },
      p.breakdown.map(b => el("li", {}, el("strong", {}, assemblyName(b.assembly)), " ",
        el("span", { class: "nums" }, `${b.for} for · ${b.against} against · ${b.abstain} abstain`), " ",
        badge(MAJORITY[b.majority] || b.majority, b.majority === "for" ? "good" : b.majority === "against" ? "bad" : "off"),
        dissent(b.dissent))),
      p.not_voted.map(a => el("li", { class: "pending" }, el("strong", {}, assemblyName(a)), " ", badge("not voted yet", "wait", "…")))),
    p.tendency.length ? el("p", {}, "Tendency where the vote is pending: ",
      p.tendency.map((t, i) => [i ? "; " : "", `${t.delegate} (${assemblyName(t.assembly)}) indicates ${t.position}`])) : null,
    !decided && !ours && !isDelegateDevice() && p.not_voted.includes(thisAssembly())
      ? el("p", {}, el("a", { href: "#record", class: "button", "data-form": "ratify-form", "data-value": p.id }, `Record ${assemblyName(thisAssembly())}'s vote`)) : null);
}

// --- delegates ----------------------------------------------------------------------------

function actLine(a) {
  const [mark, words, kind] = ACT_CLASS[a.class] || ["", a.class, ""];
  const what = a.kind === "vote" ? `Vote on ${proposalTitle(a.proposal || "")}: ${a.position}, ${a.binding}`
    : a.kind === "sign" ? `Co-signed “${a.text}”` : `Reported: ${a.text}`;
  return el("li", { class: "act act-" + a.class, "data-by": a.by || "" },
    el("p", { class: "meta" }, badge(words, kind, mark), el("time", { datetime: a.date }, a.date),
      a.delegate ? el("span", { class: "act-by" }, `by ${a.delegate}`) : null),
    el("p", {}, what), el("p", { class: "muted" }, a.reason));
}

// A mandate of ledger `l` and the decision recalling it, from its `delegates`: every one, not just a page.
function mandateRow(l, id) { return l ? l.delegates.mandates.find(m => m.id === id) : undefined; }
function recallOf(l, id) { return l ? l.delegates.recalls.find(d => d.id === id) : undefined; }

function recallLine(m) {
  const recall = m.recalled_by ? recallOf(ledger(m.assembly), m.recalled_by) : null;
  if (!recall) return null;
  const t = tallyOf(recall);
  return el("p", {}, `Recalled by ${assemblyName(m.assembly)} on ${recall.date} (${t.for} for, ${t.against} against, ${t.abstain} abstain).`);
}

function mandateCard(m) {
  const instructions = mandateRow(ledger(m.assembly), m.mandate);
  const exceeded = m.acts.filter(a => a.class === "exceeds-mandate").length;
  return el("article", { class: "card mandate", "data-id": m.mandate },
    el("p", { class: "meta" }, badge(MANDATE_STATE[m.state] || m.state, m.state === "active" ? "good" : "off"),
      exceeded ? badge(`${plural(exceeded, "act")} beyond the mandate`, "alarm", "⚠") : null,
      m.rotation ? badge("breaks the rotation", "alarm", "⚠") : null),
    el("h4", {}, `${[m.delegate, ...m.co_delegates.map(c => c.delegate)].join(" and ")} for ${assemblyName(m.assembly)}`),
    m.rotation ? el("p", { class: "rotation" }, `Breaks the rotation: ${m.rotation}.`) : null,
    el("p", {}, `To ${councilName(m.council)}, ${m.from} to ${m.until}.`),
    recallLine(m),
    instructions && instructions.instructions.length ? el("div", {}, el("h5", {}, "Instructions"),
      el("ul", {}, instructions.instructions.map(i => el("li", {}, `${i.question}: vote ${i.position} (${i.binding})`))))
      : el("p", { class: "muted" }, "No instructions: every vote is indicative and goes back to the assembly."),
    el("h5", {}, !m.acts.length ? "No acts recorded." : m.co_delegates.length ? "What the delegates did" : "What the delegate did"),
    m.acts.length ? el("ol", { class: "acts" }, [...m.acts].sort((a, b) => b.date.localeCompare(a.date)).map(actLine)) : null);
}

function renderDelegates() {
  const all = mandates();
  const me = state.status.device;
  const mine = all.filter(m => carries(m, me));
  const box = document.getElementById("my-mandate");
  box.hidden = !isDelegateDevice();
  if (!box.hidden) {
    const active = mine.filter(m => m.state === "active");
    document.getElementById("my-mandate-summary").textContent = active.length
      ? `You carry ${active.map(m => `${m.delegate}'s mandate of ${assemblyName(m.assembly)} to ${councilName(m.council)} until ${m.until}`).join("; ")}.`
      : "No active mandate names this device's key: acts would be refused.";
  }
  const order = { active: 0, "not-yet-in-force": 1, expired: 2, recalled: 3, "not-adopted": 4 };
  const sorted = [...all].sort((a, b) => (mine.includes(b) - mine.includes(a)) || (order[a.state] - order[b.state]) || a.delegate.localeCompare(b.delegate));
  const exceeded = all.flatMap(m => m.acts).filter(a => a.class === "exceeds-mandate").length;
  const awaiting = all.flatMap(m => m.acts).filter(a => a.class === "indicative-awaiting-ratification").length;
  document.getElementById("delegates-summary").replaceChildren(
    `${plural(all.filter(m => m.state === "active").length, "active mandate")}. `,
    exceeded ? el("strong", { class: "alarm-text" }, `${plural(exceeded, "act")} beyond a mandate. `) : "No act beyond a mandate. ",
    awaiting ? `${plural(awaiting, "indicative vote")} awaiting ratification.` : "");
  document.getElementById("delegate-list").replaceChildren(...(sorted.length ? sorted.map(mandateCard) : [el("p", { class: "muted" }, "No mandates held here.")]));
}

// --- needs and offers: this assembly's records, each withdrawable --------------------------

function planLines() { return state.plan ? state.plan.confederations.flatMap(c => c.items.map(i => ({ ...i, name: c.name }))) : []; }

function planEntry(kind, ref) {
  for (const line of planLines()) {
    const found = line[kind].find(x => x.id === ref);
    if (found) return { ...found, line };
  }
  return null;
}

function refWords(kind, ref) {
  const found = planEntry(kind, ref);
  const whose = assemblyName(ref.split("/")[0]);
  return found ? `${whose}'s ${kind === "needs" ? "need" : "offer"} of ${found.quantity} ${found.line.unit} ${found.line.item}` : `${whose}'s ${kind === "needs" ? "need" : "offer"}`;
}

function economyWords(collection, r) {
  switch (collection) {
    case "needs": return `Need: ${r.quantity} ${r.unit} ${r.item} by ${r.by} (${r.priority})`;
    case "offers": return `Offer: ${r.quantity} ${r.unit} ${r.item}, ${r.from} to ${r.until}`;
    case "pledges": return `Pledge: ${r.quantity} ${r.unit} ${r.item}, ${refWords("offers", r.offer)} to ${refWords("needs", r.need)}`;
    case "deliveries": return `Delivery: ${r.quantity} ${r.unit} ${r.item}, ${refWords("offers", r.offer)} to ${refWords("needs", r.need)}`;
    default: return `Commons: ${r.good}${r.rules ? ", " + r.rules : ""}`;
  }
}

function renderEconomy() {
  const list = document.getElementById("my-economy");
  const items = ECONOMY.flatMap(c => (state.economy[c] || []).filter(r => !r.superseded && !r.withdrawn).map(r => [c, r]));
  if (!changed(list, [items, state.plan, isDelegateDevice()])) return;
  list.replaceChildren(...items.map(([c, r]) => el("li", { class: "record economy-record", "data-id": r.id },
    el("p", { class: "meta" }, el("time", { datetime: r.date }, r.date), el("span", {}, councilName(r.confederation))),
    el("p", {}, economyWords(c, r)), r.note ? el("p", { class: "muted" }, r.note) : null,
    isDelegateDevice() ? null : withdrawForm(c, r))));
  if (!items.length) list.append(el("li", { class: "muted" }, "None recorded."));
}

function withdrawForm(collection, r) {
  const form = el("form", { class: "inline write", "data-write": SINGULAR[collection] + "-withdraw", "data-feedback": "economy-feedback" },
    el("input", { type: "hidden", name: "record", value: r.id }),
    el("button", { type: "submit", class: "secondary", "aria-label": `Withdraw: ${economyWords(collection, r)}` }, "Withdraw"));
  form.addEventListener("submit", submitWrite);
  return form;
}

// --- peers, bundles, devices -----------------------------------------------------------------

function ago(s) { return s === null || s === undefined ? "never" : s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`; }
function peerState(p) { return p.self ? ["this daemon", "off"] : p.flag ? ["flagged", "alarm"] : p.failures && p.last_error ? ["failing", "bad"] : p.last_success ? ["in sync", "good"] : ["not reached yet", "wait"]; }

function renderExchange() {
  renderPeers();
  const c = state.completeness;
  document.getElementById("completeness").textContent = !c ? "" : c.complete ? "Nothing is known to be missing here."
    : `Known to be missing: ${plural(c.missing_count, "change")} awaited, ${c.confederations.flatMap(x => x.ledgers_missing).map(assemblyName).join(", ") || "no ledgers"}.`;
  const l = ledger();
  const devices = document.getElementById("devices");
  if (!changed(devices, [l && l.devices, state.status.device, isDelegateDevice()])) return;
  devices.replaceChildren(...(l ? l.devices : []).map(d => el("li", { class: "record device", "data-key": d.key },
    el("p", { class: "meta" }, badge(d.revoked_cut ? "revoked" : "certified", d.revoked_cut ? "off" : "good"),
      d.key === state.status.device ? el("span", {}, "this device") : null),
    el("h4", {}, d.label || "a device"), el("p", { class: "muted url" }, d.key),
    !d.revoked_cut && d.key !== state.status.device && !isDelegateDevice() ? revokeForm(d) : null)));
}

function renderPeers() {
  const peers = state.peers.filter(p => !p.self);
  const inSync = peers.filter(p => peerState(p)[0] === "in sync");
  document.getElementById("exchange-summary").textContent = peers.length
    ? `In sync with ${inSync.length} of ${plural(peers.length, "peer")}.` : "No peers: records travel only by bundle.";
  const list = document.getElementById("peer-list");
  list.replaceChildren(...peers.map(p => {
    const [word, kind] = peerState(p);
    const name = p.device ? deviceName(p.device) : null;
    return el("li", { class: "record peer", "data-url": p.url },
      el("p", { class: "meta" }, badge(word, kind), el("span", {}, `last sync ${ago(p.lag_seconds)}`)),
      el("h4", {}, name || p.url), name ? el("p", { class: "muted url" }, p.url) : null,
      el("p", {}, `${p.sent} sent · ${p.received} received · ${p.rejected} rejected`),
      p.last_error ? el("p", { class: "bad-text" }, "Last error: " + p.last_error) : null,
      removeForm(p));
  }));
  if (!peers.length) list.append(el("li", { class: "muted" }, "No peers known."));
}

function removeForm(p) {
  const form = el("form", { class: "inline write", "data-write": "peers-remove", "data-feedback": "peer-feedback" },
    el("input", { type: "hidden", name: "url", value: p.url }),
    el("button", { type: "submit", class: "secondary", "aria-label": `Remove the peer ${p.url}` }, "Remove"));
  form.addEventListener("submit", submitWrite);
  return form;
}

function revokeForm(d) {
  const form = el("form", { class: "inline write", "data-write": "device-revoke", "data-feedback": "device-feedback" },
    el("input", { type: "hidden", name: "device", value: d.key }),
    el("label", { class: "check" }, el("input", { type: "checkbox", name: "sure", required: true }), ` Revoke “${d.label || "this device"}”: its later changes will be refused`),
    el("button", { type: "submit", class: "secondary" }, "Revoke"));
  form.addEventListener("submit", submitWrite);
  return form;
}

// --- options of the forms -------------------------------------------------------------------

function renderOptions() {
  const fill = (kind, items, none) => {
    for (const select of document.querySelectorAll(`select[data-options="${kind}"]`)) {
      const chosen = select.value;
      select.replaceChildren(...(none ? [el("option", { value: "" }, none)] : []), ...items.map(([value, label]) => el("option", { value }, label)));
      if (items.some(([value]) => value === chosen)) select.value = chosen;
    }
  };
  const l = ledger();
  fill("decisions", l ? l.decisions.filter(d => !d.superseded).map(d => [d.id, `${d.date} ${decisionHeading(d, l)}`]) : [], "— none —");
  fill("mandates", mandates().filter(m => m.assembly === thisAssembly() && (m.state === "active" || m.state === "not-yet-in-force"))
    .map(m => [m.mandate, `${m.delegate} to ${councilName(m.council)} (until ${m.until})`]), "— choose —");
  fill("proposals", proposals().filter(p => p.outcome === "open" && p.not_voted.includes(thisAssembly()))
    .map(p => [p.id, `${p.title} (${p.confederation.rules.name})`]), "— choose —");
  fill("all-proposals", proposals().filter(p => p.outcome === "open").map(p => [p.id, `${p.title} (${p.confederation.rules.name})`]), "— none —");
  const open = kind => planLines().flatMap(line => line[kind]
    .map(x => [x.id, `${assemblyName(x.assembly)}: ${x.quantity} ${line.unit} ${line.item}` + (kind === "needs" ? ` by ${x.by}` : ` until ${x.until}`)]));
  fill("needs", open("needs"), "— choose —");
  fill("offers", open("offers"), "— choose —");
  const confeds = confederations().map(c => [c.id, c.rules.name]);
  fill("confederations", confeds, "— choose —");
  fill("confederation-ids", confeds, "— all —");
  fill("charters", confederations().filter(c => c.members.some(m => m.member === thisAssembly() && m.state === "awaiting-acceptance")).map(c => [c.id, c.rules.name]), "— choose —");
  const others = Object.keys(state.ledgers).filter(k => k !== thisAssembly()).map(k => [k, assemblyName(k)]);
  fill("assemblies", others, "— none —");
  for (const box of document.querySelectorAll('[data-checks="assemblies"]')) {
    const checked = new Set([...box.querySelectorAll("input:checked")].map(i => i.value));
    const all = Object.keys(state.ledgers).map(k => [k, assemblyName(k) + (k === thisAssembly() ? " (this assembly)" : "")]);
    box.replaceChildren(...all.map(([k, name]) => el("label", { class: "check" },
      el("input", { type: "checkbox", name: "members", value: k, checked: checked.has(k) || (!checked.size && k === thisAssembly()) }), " " + name)));
  }
}

// --- writing --------------------------------------------------------------------------------

function vote(f) {
  const n = name => f.elements[name] && f.elements[name].value !== "" ? Number(f.elements[name].value) : null;
  const body = { date: f.elements.date.value, tally: { for: n("votes_for"), against: n("against"), abstain: n("abstain") } };
  if (f.elements.quorum && f.elements.quorum.value !== "") body.quorum = n("quorum");
  if (f.elements.dissent && f.elements.dissent.value) body.dissent = f.elements.dissent.value;
  return body;
}

const enc = encodeURIComponent;
function lines(text) { return text.split("\n").map(s => s.trim()).filter(Boolean); }
const WRITES = {
  decide(f) {
    const body = { ...vote(f), title: f.elements.title.value, text: f.elements.text.value };
    if (f.elements.supersedes.value) body.supersedes = f.elements.supersedes.value;
    return ["/decisions", body, d => `Recorded: “${d.title}”, ${d.date}.`];
  },
  "mandate-issue"(f) {
    const e = f.elements;
    const body = { ...vote(f), delegate: e.delegate.value, council: e.council.value, term_from: e.term_from.value, term_until: e.term_until.value,
      instructions: e.question.value ? [{ question: e.question.value, position: e.position.value, binding: e.binding.value }] : [] };
    if (e.delegate_key.value.trim()) body.delegate_key = e.delegate_key.value.trim();
    return ["/mandates", body, m => `Recorded: ${m.delegate}'s mandate to ${councilName(m.council)}, ${m.term_from} to ${m.term_until}.`];
  },
  "mandate-recall"(f) {
    const m = mandateOf(f.elements.mandate.value);
    return [`/mandates/${enc(f.elements.mandate.value)}/recall`, vote(f), () => `Recorded: the recall of ${m ? m.delegate + "'s mandate" : "the mandate"}.`];
  },
  ratify(f) {
    const [assembly, decision] = f.elements.proposal.value.split("/");
    const title = proposalTitle(f.elements.proposal.value);
    return [`/proposals/${enc(assembly)}/${enc(decision)}/ratify`, vote(f), () => `Recorded: this assembly's vote on ${title}.`];
  },
  propose(f) {
    const e = f.elements;
    const body = { ...vote(f), confederation: e.confederation.value, kind: e.kind.value, title: e.title.value, text: e.text.value };
    if (e.kind.value === "admit" || e.kind.value === "suspend") body.subject = e.subject.value;
    if (e.kind.value === "join") body.subject = e.higher.value;
    if (e.kind.value === "amend") {
      body.amendment = {};
      if (e.threshold.value) body.amendment.threshold = e.threshold.value;
      if (e.deadline_days.value) body.amendment.deadline_days = Number(e.deadline_days.value);
      const principles = lines(e.protected.value);
      if (principles.length) body.amendment.protected = principles;
    }
    return ["/proposals", body, () => `Recorded: “${e.title.value}” is put to ${councilName(e.confederation.value)}.`];
  },
  "confed-accept"(f) {
    const c = f.elements.confederation.value;
    return [`/confederations/${enc(c)}/accept`, vote(f), () => `Recorded: this assembly accepts the charter of ${councilName(c)}.`];
  },
  "confed-create"(f) {
    const e = f.elements;
    const body = { name: e.name.value, members: [...f.querySelectorAll('input[name="members"]:checked')].map(i => i.value),
      threshold: e.threshold.value, qualified: e.qualified.value, assembly_quorum: e.assembly_quorum.value,
      deadline_days: Number(e.deadline_days.value), date: e.date.value,
      protected: lines(e.protected.value) };
    return ["/confederations", body, () => `Written: the charter of ${e.name.value}. Each founding member now records its acceptance.`];
  },
  "delegate-act"(f) {
    const e = f.elements;
    const body = { kind: e.kind.value, date: e.date.value };
    if (e.kind.value === "vote") Object.assign(body, { proposal: e.proposal.value, position: e.position.value, indicative: e.indicative.checked });
    else body.text = e.text.value;
    return ["/acts", body, () => e.kind.value === "vote" ? `Recorded: your vote ${e.position.value} on ${proposalTitle(e.proposal.value)}.` : "Recorded."];
  },
  bylaws(f) {
    const e = f.elements;
    const changes = {};
    if (e.rule.value) changes.rule = e.rule.value;
    if (e.least_present.value) changes.quorum = Number(e.least_present.value);
    if (e.members.value) changes.members = Number(e.members.value);
    return ["/bylaws", { ...vote(f), bylaws: changes }, () => `Recorded: the bylaws (${Object.keys(changes).join(", ") || "nothing"} changed).`];
  },
  "need-add"(f) {
    const e = f.elements;
    return ["/needs", { ...what(f), by: e.by.value, priority: e.priority.value, cooperative: e.cooperative.value, note: e.note.value },
      r => `Recorded: a need of ${r.quantity} ${r.unit} ${r.item} by ${r.by}.`];
  },
  "offer-add"(f) {
    const e = f.elements;
    return ["/offers", { ...what(f), from: e.from.value, until: e.until.value, conditions: e.conditions.value, cooperative: e.cooperative.value },
      r => `Recorded: an offer of ${r.quantity} ${r.unit} ${r.item}.`];
  },
  "pledge-add"(f) { return ["/pledges", match(f), r => `Recorded: a pledge of ${r.quantity} ${r.unit} ${r.item}.`]; },
  "delivery-add"(f) { return ["/deliveries", { ...match(f), note: f.elements.note.value }, r => `Recorded: a delivery of ${r.quantity} ${r.unit} ${r.item}.`]; },
  "commons-add"(f) {
    const e = f.elements;
    return ["/commons", { confederation: e.confederation.value, good: e.good.value, rules: e.rules.value }, r => `Recorded: ${r.good} kept in the commons.`];
  },
  ...Object.fromEntries(ECONOMY.map(c => [SINGULAR[c] + "-withdraw",
    f => [`/${c}/${enc(f.elements.record.value)}/withdraw`, {}, r => `Withdrawn: ${economyWords(c, r)}.`]])),
  "peers-add"(f) { return ["/peers", { url: f.elements.url.value.trim() }, r => r.added ? `Added ${r.url}.` : `${r.url} was a peer already.`]; },
  "peers-remove"(f) { return ["/peers/remove", { url: f.elements.url.value }, r => `Removed ${r.url}.`]; },
  "device-add"(f) { return ["/devices", { key: f.elements.key.value.trim(), label: f.elements.label.value }, d => `Certified “${d.label || "the device"}”.`]; },
  "device-revoke"(f) { return [`/devices/${enc(f.elements.device.value)}/revoke`, {}, d => `Revoked “${d.label || "the device"}”; ${plural(d.changes_kept, "change")} before the cut are kept.`]; },
};

function what(f) {
  const e = f.elements;
  // elements.item is the collection's own item() method: the field is reached by namedItem
  return { confederation: e.confederation.value, item: e.namedItem("item").value.trim(), quantity: Number(e.quantity.value), unit: e.unit.value.trim() };
}

function match(f) { return { need: f.elements.need.value, offer: f.elements.offer.value, quantity: Number(f.elements.quantity.value) }; }

function authHeaders(type) {
  return { "Content-Type": type, "Authorization": "Bearer " + token() };
}

// Feedback goes next to the button that caused it, and is scrolled into sight (render keeps it there).
let told = null;
function tell(form, text, bad) {
  const box = form.dataset.feedback ? document.getElementById(form.dataset.feedback) : form.querySelector(".feedback");
  box.textContent = text;
  box.className = "feedback " + (bad ? "bad" : "good");
  box.scrollIntoView({ block: "nearest" });
  told = box;
}

function refused(form, e) {
  tell(form, `Not recorded: ${e.message}`, true);
  if (e.status === 401) { document.getElementById("token-box").open = true; document.getElementById("token").focus(); }
}

async function submitWrite(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const [path, body, done] = WRITES[form.dataset.write](form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const result = await api(path, { method: "POST", body: JSON.stringify(body), headers: authHeaders("application/json") });
    const message = done(result);
    form.reset();
    setDefaults();
    tell(form, message, false);
    await loadAll();
  } catch (e) {
    refused(form, e);
  } finally {
    button.disabled = false;
  }
}

function download(blob, name) {
  const a = el("a", { href: URL.createObjectURL(blob), download: name, hidden: true });
  document.body.append(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
}

function query(f) {
  const q = new URLSearchParams();
  if (f.elements.since && f.elements.since.value) q.set("since", f.elements.since.value);
  if (f.elements.confederation && f.elements.confederation.value) q.set("confederation", f.elements.confederation.value);
  return q.toString() ? "?" + q : "";
}

async function exchange(event, run) {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try { tell(form, await run(form), false); } catch (e) { refused(form, e); } finally { button.disabled = false; }
}

const EXCHANGES = {
  "export-form": async f => {
    const blob = await api("/bundle" + query(f));
    download(blob, `${state.status.assembly_name || "pnyx"}-${today()}.pnyx`.replace(/\s+/g, "-"));
    return `Bundle made (${blob.size} bytes): copy it to the stick.`;
  },
  "answer-form": async f => {
    const file = f.elements.file.files[0];
    const blob = await api("/bundle/for-state", { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
    download(blob, `for-${file.name.replace(/\.state$/, "")}.pnyx`);
    return `Bundle made of what they lack (${blob.size} bytes): carry it back.`;
  },
  "import-form": async f => {
    const r = await api("/bundle/import", { method: "POST", body: f.elements.file.files[0], headers: authHeaders("application/octet-stream") });
    await loadAll();
    const line = `${plural(r.records, "record")}: ${r.new} new, ${r.already_held} already held, ${r.pending} waiting for others, ${r.rejected} rejected.`;
    return r.complete ? "Imported. " + line : `The file is damaged (${r.error.detail}); what came before the damage is kept. ${line}`;
  },
};

function setDefaults() {
  for (const input of document.querySelectorAll('input[name="date"], input[name="term_from"], input[name="from"]')) if (!input.value) input.value = today();
}

function showTokenState() {
  document.getElementById("token-state").textContent = token() ? "(kept in this browser)" : "(needed to record)";
  document.getElementById("token-box").open = !token();
}

// --- views ----------------------------------------------------------------------------------

function route() {
  let name = location.hash.slice(1);
  if (!VIEWS.includes(name)) name = isDelegateDevice() ? "delegates" : "ledger";
  if (name === "record" && isDelegateDevice()) name = "delegates";
  for (const v of VIEWS) document.getElementById("view-" + v).hidden = v !== name;
  for (const a of document.querySelectorAll("#tabs a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.getElementById("token-box").hidden = name === "ledger";
  if (state.shown && state.shown !== name) document.getElementById(name + "-h").focus();
  state.shown = name;
}

function choose(formId) {
  for (const radio of document.querySelectorAll('input[name="what"]')) {
    radio.checked = radio.value === formId;
    document.getElementById(radio.value).hidden = !radio.checked;
  }
}

function setUp() {
  for (const [attr, id] of [["data-what", "what-template"], ["data-match", "match-template"]]) {
    for (const holder of document.querySelectorAll(`[${attr}]`)) holder.replaceWith(document.getElementById(id).content.cloneNode(true));
  }
  for (const holder of document.querySelectorAll("[data-vote]")) {
    holder.replaceWith(document.getElementById("vote-template").content.cloneNode(true),
      ...(holder.dataset.vote === "dissent" ? [document.getElementById("dissent-template").content.cloneNode(true)] : []));
  }
  for (const radio of document.querySelectorAll('input[name="what"]')) radio.addEventListener("change", () => choose(radio.value));
  for (const form of document.querySelectorAll("form[data-write]")) form.addEventListener("submit", submitWrite);
  for (const [id, run] of Object.entries(EXCHANGES)) document.getElementById(id).addEventListener("submit", e => exchange(e, run));
  document.getElementById("ledger-of").addEventListener("change", () => { renderLedger(); renderBylaws(); });
  for (const select of document.querySelectorAll("select[data-shows]")) {  // fields that only some kinds take
    const toggle = () => {
      for (const node of select.form.querySelectorAll("[data-for]")) node.hidden = !node.dataset.for.split(" ").includes(select.value);
    };
    select.addEventListener("change", toggle);
    select.form.addEventListener("reset", () => setTimeout(toggle));
    toggle();
  }
  document.addEventListener("click", event => {  // "Record this assembly's vote" links open the right form
    const link = event.target.closest("a[data-form]");
    if (!link) return;
    choose(link.dataset.form);
    const select = document.getElementById(link.dataset.form).querySelector("select");
    select.value = link.dataset.value;
  });
  document.addEventListener("click", event => {  // "Show all" under a ledger's lists: read that ledger whole
    if (!event.target.closest("button[data-show-all]")) return;
    state.whole.add(document.getElementById("ledger-of").value || thisAssembly());
    loadAll();
  });
  document.getElementById("token-form").addEventListener("submit", e => {
    e.preventDefault();
    localStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
    document.getElementById("token").value = "";
    showTokenState();
    tell(e.currentTarget, "Token kept in this browser.", false);
  });
  window.addEventListener("hashchange", route);
}

function showMore(id, shown, total, what) {
  // Below a list read in part: how much is shown, and a button that reads the ledger whole.
  const box = document.getElementById(id);
  box.hidden = shown >= total;
  box.replaceChildren(...(box.hidden ? [] : [`The newest ${shown} of ${plural(total, what)}. `,
    el("button", { type: "button", class: "secondary", "data-show-all": "" }, `Show all ${plural(total, what)}`)]));
}

// --- live updates -----------------------------------------------------------------------------

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

async function refreshPeers() {  // exchanges with peers change their state without new records
  try { state.peers = await api("/peers"); if (state.status) renderPeers(); } catch (e) { /* shown by the next full load */ }
}

document.addEventListener("DOMContentLoaded", () => {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    localStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  setUp();
  showTokenState();
  setDefaults();
  route();
  loadAll();
  listen();
  setInterval(refreshPeers, 10000);
});
