"""The confederal view: a pure function of the valid records held and an explicit as-of date.

`RecordSet` holds the normalized records of every document (federation/confed.py)
and indexes them by proposal; `render_view(records, as_of)` returns the view
as canonical JSON bytes, identical on every machine that holds the same
records, whatever order they arrived in. The rules are protocol-spec/view.md;
this module follows it section by section.

Incremental upkeep: `RecordSet.put` bumps a version for each proposal whose
inputs changed (its record, its ratifications, its delegates' acts) and a
structure version for anything that can change membership or rules. Each
proposal's result and its JSON text are memoized under
(proposal, its version, structure version, as-of), so after one new
ratification only that proposal is tallied again.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .charter import SIMPLE, Rules, amendment_from_plain, rules_from_plain, threshold_met
from .confed import Record
from .docids import DocKind, parse_doc_id
from .keys import key_text

VIEW_FORMAT = "pnyx/view/v1"
MAX_NESTING = 16
ONE_DAY = dt.timedelta(days=1)
STRUCTURAL = ("admit", "suspend", "amend", "join")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Fragment:
    """A part of the view already encoded as canonical JSON."""

    text: str


def encode(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces, UTF-8) of plain values and Fragments."""
    if isinstance(value, Fragment):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{_canonical(k)}:{encode(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return _canonical(value)


@dataclass
class RecordSet:
    """The normalized records of the documents held, indexed for the view."""

    charters: dict[str, Record] = field(default_factory=dict)
    ledgers: dict[str, Record] = field(default_factory=dict)
    logs: dict[tuple[str, str], Record] = field(default_factory=dict)
    proposals: dict[str, Record] = field(default_factory=dict)  # pid -> proposal + proposer
    by_confederation: dict[str, set[str]] = field(default_factory=dict)
    ratifications: dict[str, dict[str, Record]] = field(default_factory=dict)  # pid -> assembly ->
    acceptances: dict[str, dict[str, str]] = field(default_factory=dict)  # charter -> assembly -> date
    acts: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)  # pid -> acts
    versions: dict[str, int] = field(default_factory=dict)
    structure: int = 0
    memo: dict[str, tuple[tuple[Any, ...], Record, Fragment]] = field(default_factory=dict)

    def put(self, doc_id: str, record: Record | None) -> None:
        """Replace what document `doc_id` contributes (None: nothing)."""
        doc = parse_doc_id(doc_id)
        if doc.kind is DocKind.CHARTER:
            self._put_charter(doc.record, record)
        elif doc.kind is DocKind.LEDGER:
            assert doc.assembly is not None
            self._put_ledger(key_text(doc.assembly), record)
        else:
            assert doc.assembly is not None
            self._put_log(key_text(doc.assembly), doc.record, record)

    def _bump(self, pid: str | None) -> None:
        if pid is not None:
            self.versions[pid] = self.versions.get(pid, 0) + 1

    def _put_charter(self, charter_id: str, record: Record | None) -> None:
        if self.charters.get(charter_id) != record:
            self.structure += 1
        _set(self.charters, charter_id, record)

    def _put_ledger(self, assembly: str, record: Record | None) -> None:
        old = self.ledgers.get(assembly) or {}
        new = record or {}
        _set(self.ledgers, assembly, record)
        if old.get("acceptances") != new.get("acceptances"):
            self.structure += 1
            for charter_id in set(old.get("acceptances", {})) | set(new.get("acceptances", {})):
                _set(self.acceptances.setdefault(charter_id, {}), assembly,
                     new.get("acceptances", {}).get(charter_id))
        for rid, before, after in _changed(old.get("proposals"), new.get("proposals")):
            pid = f"{assembly}/{rid}"
            self._bump(pid)
            if before is not None:
                self.by_confederation.get(before["confederation"], set()).discard(pid)
            if after is not None:
                self.by_confederation.setdefault(after["confederation"], set()).add(pid)
            _set(self.proposals, pid, None if after is None else {**after, "proposer": assembly})
            if any(p is not None and p["kind"] in STRUCTURAL for p in (before, after)):
                self.structure += 1
        for pid, _, after in _changed(old.get("ratifications"), new.get("ratifications")):
            self._bump(pid)
            _set(self.ratifications.setdefault(pid, {}), assembly, after)
            if self.proposals.get(pid, {}).get("kind") in STRUCTURAL:
                self.structure += 1
        for mandate_id, _, _ in _changed(old.get("mandates"), new.get("mandates")):
            for act in (self.logs.get((assembly, mandate_id)) or {}).get("acts", {}).values():
                self._bump(act["proposal"])

    def _put_log(self, assembly: str, mandate_id: str, record: Record | None) -> None:
        old = self.logs.get((assembly, mandate_id)) or {}
        _set(self.logs, (assembly, mandate_id), record)
        for act_id, before, after in _changed(old.get("acts"), (record or {}).get("acts")):
            for act, add in ((before, False), (after, True)):
                if act is not None and act["proposal"] is not None:
                    self._bump(act["proposal"])
                    held = self.acts.setdefault(act["proposal"], set())
                    (held.add if add else held.discard)((assembly, mandate_id, act_id))


def _set(mapping: dict[Any, Any], key: Any, value: Any) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def _changed(old: dict[str, Any] | None, new: dict[str, Any] | None,
             ) -> Iterable[tuple[str, Any, Any]]:
    old, new = old or {}, new or {}
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            yield key, old.get(key), new.get(key)


# --- membership ----------------------------------------------------------------------


@dataclass
class Timeline:
    """A confederation's rules and membership through time, built proposal by proposal."""

    charter: Record
    rules: list[tuple[dt.date, Rules]]  # (effective from, rules); the charter's first
    events: dict[str, list[tuple[dt.date, str, str]]]  # unit -> (effective, admit|suspend, pid)
    joined: dict[str, dt.date]  # higher confederation -> effective date of this one's consent
    results: list[Record]
    ignored: list[Record]

    def rules_at(self, day: dt.date) -> Rules:
        return [r for since, r in self.rules if since <= day][-1]


class _Context:
    def __init__(self, records: RecordSet, as_of: dt.date) -> None:
        self.records = records
        self.as_of = as_of
        self.timelines: dict[str, Timeline] = {}
        self.cyclic = _cyclic(records)
        self._members: dict[tuple[str, dt.date], list[str]] = {}

    # -- who is a member, when ------------------------------------------------------
    def state(self, confederation: str, unit: str, day: dt.date) -> str:
        """member | suspended | awaiting-acceptance | not-a-member | membership-cycle."""
        timeline = self.timeline(confederation)
        events = [e for e in timeline.events.get(unit, []) if e[0] <= day]
        founding = unit in timeline.charter["members"] or unit in timeline.charter["confederations"]
        if not founding and not events:
            return "not-a-member"
        if events and events[-1][1] == "suspend":
            return "suspended"
        if len(unit) == 64:
            if unit not in self.records.charters:
                return "charter-not-held"
            if (confederation, unit) in self.cyclic:
                return "membership-cycle"
            consent = self.timeline(unit).joined.get(confederation)
        else:
            accepted = self.records.acceptances.get(confederation, {}).get(unit)
            consent = dt.date.fromisoformat(accepted) if accepted else None
        return "member" if consent is not None and consent <= day else "awaiting-acceptance"

    def units(self, confederation: str) -> list[str]:
        """Every unit the confederation has had to do with: founders, subjects, acceptors."""
        timeline = self.timeline(confederation)
        units = set(timeline.charter["members"]) | set(timeline.charter["confederations"])
        units |= set(timeline.events) | set(self.records.acceptances.get(confederation, {}))
        return sorted(units)

    def members(self, confederation: str, day: dt.date) -> list[str]:
        """Members on `day`. Stable once asked: whatever is adopted later takes effect later."""
        key = (confederation, day)
        if key not in self._members:
            self._members[key] = [u for u in self.units(confederation)
                                  if self.state(confederation, u, day) == "member"]
        return self._members[key]

    def electorate(self, confederation: str, day: dt.date) -> list[tuple[str, tuple[str, ...]]]:
        """(assembly, via) for every assembly whose citizens vote, nested councils flattened.

        Level by level, sorted within a level: an assembly reached twice counts once,
        at its shallowest (then first) position."""
        seen: set[str] = set()
        out: list[tuple[str, tuple[str, ...]]] = []
        level: list[tuple[str, tuple[str, ...]]] = [
            (u, (confederation,)) for u in self.members(confederation, day)]
        while level:
            deeper: list[tuple[str, tuple[str, ...]]] = []
            for unit, via in level:
                if len(unit) != 64:
                    if unit not in seen:
                        seen.add(unit)
                        out.append((unit, via[1:]))
                elif len(via) < MAX_NESTING and unit not in via:
                    deeper.extend((m, (*via, unit)) for m in self.members(unit, day))
            level = sorted(deeper)
        return out

    # -- the timeline of one confederation -----------------------------------------------
    def timeline(self, confederation: str) -> Timeline:
        found = self.timelines.get(confederation)
        if found is not None:
            return found
        charter = self.records.charters[confederation]
        timeline = Timeline(charter, [(dt.date.min, rules_from_plain(charter["rules"]))], {}, {}, [], [])
        self.timelines[confederation] = timeline
        proposals = sorted(
            (p["date"], pid) for pid in self.records.by_confederation.get(confederation, ())
            if (p := self.records.proposals[pid])["date"] <= self.as_of.isoformat())
        for _, pid in proposals:
            self._judge(confederation, timeline, pid)
        return timeline

    def _judge(self, confederation: str, timeline: Timeline, pid: str) -> None:
        proposal = self.records.proposals[pid]
        day = dt.date.fromisoformat(proposal["date"])
        rules = timeline.rules_at(day)
        reason = self._refusal(confederation, proposal, rules, day)
        if reason is not None:
            timeline.ignored.append({"proposal": pid, "reason": reason})
            return
        key = (self.records.versions.get(pid, 0), self.records.structure, self.as_of)
        memo = self.records.memo.get(pid)
        if memo is None or memo[0] != key:
            result = self._evaluate(confederation, pid, proposal, rules, day)
            memo = (key, result, Fragment(_canonical(result)))
            self.records.memo[pid] = memo
        result, fragment = memo[1], memo[2]
        timeline.results.append({"id": pid, "fragment": fragment})
        if result["outcome"] != "adopted":
            return
        effective = dt.date.fromisoformat(result["decided_on"]) + ONE_DAY
        kind = proposal["kind"]
        if kind == "amend":
            timeline.rules.append((effective, rules.amended(proposal["amendment"])))
        elif kind in ("admit", "suspend"):
            timeline.events.setdefault(proposal["subject"], []).append((effective, kind, pid))
        elif kind == "join":
            timeline.joined.setdefault(proposal["subject"], effective)

    def _refusal(self, confederation: str, proposal: Record, rules: Rules, day: dt.date) -> str | None:
        proposer = proposal["proposer"]
        if proposer not in {a for a, _ in self.electorate(confederation, day)}:
            return f"the proposing assembly is not in the electorate on {day}"
        kind, subject = proposal["kind"], proposal["subject"]
        if kind == "amend":
            try:
                amendment_from_plain(proposal["amendment"], rules)
            except (KeyError, TypeError, ValueError) as exc:
                return f"invalid amendment: {exc}"
        if kind == "admit" and self.state(confederation, subject, day) == "member":
            return "the subject is already a member"
        if kind == "suspend" and self.state(confederation, subject, day) not in (
                "member", "awaiting-acceptance"):
            return "the subject is not a member"
        return None

    # -- one proposal -----------------------------------------------------------------
    def _evaluate(self, confederation: str, pid: str, proposal: Record, rules: Rules,
                  day: dt.date) -> Record:
        deadline = day + dt.timedelta(days=rules.deadline_days)
        last_day = min(deadline, self.as_of)
        electorate = self.electorate(confederation, day)
        voters = {a for a, _ in electorate}
        held = self.records.ratifications.get(pid, {})
        breakdown, ignored, not_voted = [], [], []
        totals = {"for": 0, "against": 0, "abstain": 0}
        counted_dates: list[str] = []
        for assembly, via in electorate:
            r = held.get(assembly)
            if r is None or r["date"] > self.as_of.isoformat():
                not_voted.append(assembly)
                continue
            if not day.isoformat() <= r["date"] <= last_day.isoformat():
                why = "dated before the proposal" if r["date"] < day.isoformat() else "after the deadline"
                ignored.append({"assembly": assembly, "decision": r["decision"], "reason": why})
                not_voted.append(assembly)
                continue
            for k in totals:
                totals[k] += r[k]
            counted_dates.append(r["date"])
            breakdown.append({"assembly": assembly, "via": list(via), "decision": r["decision"],
                              "date": r["date"], "for": r["for"], "against": r["against"],
                              "abstain": r["abstain"], "dissent": r["dissent"],
                              "majority": _majority(r["for"], r["against"])})
        for assembly in sorted(set(held) - voters):
            r = held[assembly]
            if r["date"] <= self.as_of.isoformat():
                ignored.append({"assembly": assembly, "decision": r["decision"],
                                "reason": f"not in the electorate on {day}: "
                                          f"{self.state(confederation, assembly, day)}"})
        units = self.members(confederation, day)
        by_unit: dict[str, list[Record]] = {}
        for row in breakdown:
            by_unit.setdefault(row["via"][0] if row["via"] else row["assembly"], []).append(row)
        unit_rows = [self._unit_row(u, day, by_unit.get(u, [])) for u in units]
        voted_units = sum(1 for row in unit_rows if row["voted"])
        required = rules.qualified if proposal["kind"] == "amend" else rules.threshold
        outcome, decided_on, reason = "open", None, "ratification is under way"
        if electorate and not not_voted:
            decided_on, reason = max(counted_dates), "every assembly has voted"
        elif self.as_of > deadline:
            decided_on, reason = deadline.isoformat(), "the deadline has passed"
        if decided_on is not None:
            quorum = Fraction(rules.assembly_quorum)
            if not units or Fraction(voted_units, len(units)) < quorum:
                outcome = "lapsed"
                reason = (f"{voted_units} of {len(units)} members voted; the charter requires "
                          f"{rules.assembly_quorum}")
            elif threshold_met(required, totals["for"], totals["against"]):
                outcome = "adopted"
            else:
                outcome = "rejected"
        return {
            "id": pid, "proposer": proposal["proposer"], "kind": proposal["kind"],
            "title": proposal["title"], "text": proposal["text"], "subject": proposal["subject"],
            "amendment": proposal["amendment"], "date": day.isoformat(),
            "deadline": deadline.isoformat(), "threshold": required,
            "threshold_rule": "more for than against" if required == SIMPLE
            else f"for at least {required} of for and against",
            "assembly_quorum": rules.assembly_quorum, "tally": totals,
            "members": unit_rows, "breakdown": breakdown, "not_voted": not_voted,
            "ignored": ignored, "tendency": self._tendency(pid, set(not_voted)) if decided_on is None
            else [], "outcome": outcome, "decided_on": decided_on, "reason": reason,
        }

    def _unit_row(self, unit: str, day: dt.date, rows: list[Record]) -> Record:
        totals = {k: sum(b[k] for b in rows) for k in ("for", "against", "abstain")}
        if len(unit) != 64:
            voted = bool(rows)
            size = 1
        else:
            size = len(self.electorate(unit, day))
            quorum = Fraction(self.timeline(unit).rules_at(day).assembly_quorum)
            voted = bool(rows) and Fraction(len(rows), size) >= quorum
        return {"member": unit, "kind": "confederation" if len(unit) == 64 else "assembly",
                "assemblies": size, "voted": len(rows), "has_voted": voted, **totals}

    def _tendency(self, pid: str, pending: set[str]) -> list[Record]:
        out = []
        for assembly, mandate_id, act_id in sorted(self.records.acts.get(pid, ())):
            if assembly not in pending:
                continue
            mandate = (self.records.ledgers.get(assembly) or {}).get("mandates", {}).get(mandate_id)
            act = self.records.logs[(assembly, mandate_id)]["acts"][act_id]
            if mandate is None or act["date"] > self.as_of.isoformat():
                continue
            verdict, _ = self.classify(assembly, mandate, act)
            if verdict in ("within-mandate", "indicative-awaiting-ratification"):
                out.append({"assembly": assembly, "mandate": mandate_id, "act": act_id,
                            "delegate": mandate["delegate"], "position": act["position"],
                            "class": verdict})
        return out

    # -- delegates ----------------------------------------------------------------------
    def classify(self, assembly: str, mandate: Record, act: Record) -> tuple[str, str]:
        """(class, reason) of one delegate act; protocol-spec/view.md "Delegate acts"."""
        if not mandate["from"] <= act["date"] <= mandate["until"]:
            return "void", "dated outside the mandate's term"
        recall = mandate["recall"]
        if recall is not None and recall["date"] <= self.as_of.isoformat():
            if act["saw_recall"]:
                return "void", f"recorded after the recall {recall['decision']} was known"
            if not act["seen_by_recall"]:
                return "disputed", (f"concurrent with the recall {recall['decision']}: "
                                    "neither record had seen the other")
        if act["kind"] == "report":
            return "within-mandate", "a report back to the assembly"
        if act["kind"] == "sign":
            covered = [i for i in mandate["instructions"] if i["question"] == act["text"]]
            if any(i["binding"] == "imperative" and i["position"] == "for" for i in covered):
                return "within-mandate", "the mandate instructs to sign this text"
            return "exceeds-mandate", "only a mandated delegate may co-sign; take it home for validation"
        proposal = self.records.proposals.get(act["proposal"])
        if proposal is not None:
            charter = self.records.charters.get(proposal["confederation"], {})
            councils = {proposal["confederation"], charter.get("rules", {}).get("name")}
            if mandate["council"] not in councils:
                return "exceeds-mandate", "the mandate is for another council"
        questions = {act["proposal"], act["proposal"].split("/")[-1]}
        if proposal is not None:
            questions.add(proposal["title"].strip().casefold())
        covered = [i for i in mandate["instructions"]
                   if i["question"] in questions or i["question"].strip().casefold() in questions]
        imperative = [i for i in covered if i["binding"] == "imperative"]
        if imperative:
            if any(i["position"] == act["position"] for i in imperative):
                return "within-mandate", "as the mandate instructs"
            return "exceeds-mandate", "contrary to the mandate's instruction"
        if act["binding"] == "imperative":
            return "exceeds-mandate", "the mandate gives no imperative instruction on this question"
        ratified = self.records.ratifications.get(act["proposal"], {}).get(assembly)
        if ratified is not None and ratified["date"] <= self.as_of.isoformat():
            return "indicative-ratified", (f"the assembly has ratified: "
                                           f"{_majority(ratified['for'], ratified['against'])}")
        return "indicative-awaiting-ratification", "the proposal goes back to the assembly"

    def mandates(self) -> list[Record]:
        out = []
        today = self.as_of.isoformat()
        for assembly in sorted(self.records.ledgers):
            for mandate_id, m in sorted(self.records.ledgers[assembly]["mandates"].items()):
                if m["issued"] > today:
                    continue
                recall = m["recall"] if m["recall"] and m["recall"]["date"] <= today else None
                state = ("recalled" if recall else "expired" if today > m["until"]
                         else "not-yet-in-force" if today < m["from"] else "active")
                acts = []
                log = self.records.logs.get((assembly, mandate_id)) or {"acts": {}}
                for act_id, act in sorted(log["acts"].items()):
                    if act["date"] <= today:
                        verdict, reason = self.classify(assembly, m, act)
                        acts.append({"id": act_id, "kind": act["kind"], "date": act["date"],
                                     "proposal": act["proposal"], "position": act["position"],
                                     "binding": act["binding"], "text": act["text"],
                                     "class": verdict, "reason": reason})
                out.append({"assembly": assembly, "mandate": mandate_id, "delegate": m["delegate"],
                            "delegate_key": m["delegate_key"], "council": m["council"],
                            "from": m["from"], "until": m["until"], "state": state,
                            "recalled_by": recall["decision"] if recall else None, "acts": acts})
        return out

    # -- one confederation -------------------------------------------------------------
    def confederation(self, confederation: str) -> Record:
        timeline = self.timeline(confederation)
        members = []
        for unit in self.units(confederation):
            name = (self.records.ledgers.get(unit) or {}).get("name") if len(unit) != 64 else (
                (self.records.charters.get(unit) or {}).get("rules", {}).get("name"))
            founding = unit in timeline.charter["members"] or unit in timeline.charter["confederations"]
            members.append({
                "member": unit, "kind": "confederation" if len(unit) == 64 else "assembly",
                "name": name, "founding": founding,
                "state": self.state(confederation, unit, self.as_of),
                "events": [{"effective": d.isoformat(), "kind": k, "proposal": p}
                           for d, k, p in timeline.events.get(unit, [])]})
        return {"id": confederation, "founded": timeline.charter["founded"],
                "charter": timeline.charter["rules"],
                "rules": timeline.rules_at(self.as_of).plain(),
                "members": members, "proposals": [r["fragment"] for r in timeline.results],
                "ignored_proposals": timeline.ignored}


def _majority(votes_for: int, against: int) -> str:
    return "for" if votes_for > against else "against" if against > votes_for else "tie"


def _cyclic(records: RecordSet) -> set[tuple[str, str]]:
    """(confederation, member confederation) pairs that would nest a council inside itself.

    The graph is static: charter members and admission subjects, whatever the outcome."""
    edges: dict[str, set[str]] = {c: set(r["confederations"]) for c, r in records.charters.items()}
    for p in records.proposals.values():
        if p["kind"] == "admit" and len(p["subject"]) == 64 and p["confederation"] in edges:
            edges[p["confederation"]].add(p["subject"])
    cyclic = set()
    for start, below in edges.items():
        for member in below:
            stack, seen = [member], set()
            while stack:
                current = stack.pop()
                if current == start:
                    cyclic.add((start, member))
                    break
                if current not in seen:
                    seen.add(current)
                    stack.extend(edges.get(current, ()))
    return cyclic


def render_view(records: RecordSet, as_of: dt.date, confederation: str | None = None) -> bytes:
    """The view as canonical JSON bytes: the same records and as-of give the same bytes."""
    context = _Context(records, as_of)
    chosen = sorted(c for c in records.charters if confederation in (None, c))
    view = {"format": VIEW_FORMAT, "as_of": as_of.isoformat(),
            "confederations": [context.confederation(c) for c in chosen],
            "mandates": context.mandates()}
    return encode(view).encode("utf-8")


def records_from(documents: dict[str, Record]) -> RecordSet:
    """A fresh RecordSet of normalized records by document id (for vectors and checks)."""
    records = RecordSet()
    for doc_id in sorted(documents):
        records.put(doc_id, documents[doc_id])
    return records
