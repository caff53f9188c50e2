"""The confederal view: a pure function of the valid records held and an explicit as-of date.

`render_view(records, as_of)` returns the view of a RecordSet
(federation/recordset.py) as canonical JSON bytes, identical on every machine
that holds the same records, whatever order they arrived in. The rules are
protocol-spec/view.md: membership through time, then each proposal in order
of date; mandates and delegate acts (who acted, rotation) are judged in
federation/delegates.py, each charter's parity in federation/parity.py, and
draws by lot are recomputed by federation/draws.py.

Incremental upkeep: each proposal's result and its JSON text are memoized in
the RecordSet under (its version, the structure version, as-of), so after one
new ratification only that proposal is tallied again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction

from .charter import SIMPLE, Rules, amendment_from_plain, rules_from_plain, threshold_met
from .confed import Record
from .delegates import acted_by, classify, majority, mandate_rows, replacements
from .draws import view_draws
from .parity import parity_report
from .recordset import Fragment, RecordSet, canonical, encode

VIEW_FORMAT = "pnyx/view/v1"
MAX_NESTING = 16
ONE_DAY = dt.timedelta(days=1)


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
    commons: list[tuple[dt.date, str]] = field(default_factory=list)  # (effective, pid) adopted

    def rules_at(self, day: dt.date) -> Rules:
        return [r for since, r in self.rules if since <= day][-1]


class Context:
    """Membership and proposal outcomes of every confederation held, judged as of one date;
    the plan (federation/plan.py) reads the same memberships and adopted commons."""

    def __init__(self, records: RecordSet, as_of: dt.date) -> None:
        self.records = records
        self.as_of = as_of
        self.timelines: dict[str, Timeline] = {}
        self.cyclic = _cyclic(records)
        self._members: dict[tuple[str, dt.date], list[str]] = {}
        self._electorates: dict[tuple[str, dt.date], list[tuple[str, tuple[str, ...]]]] = {}

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

        Stable once asked, like `members`.
        Level by level, sorted within a level: an assembly reached twice counts once,
        at its shallowest (then first) position."""
        key = (confederation, day)
        if key in self._electorates:
            return self._electorates[key]
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
        self._electorates[key] = out
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
            memo = (key, result, Fragment(canonical(result)))
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
        elif kind == "commons":
            timeline.commons.append((effective, pid))

    def _refusal(self, confederation: str, proposal: Record, rules: Rules, day: dt.date) -> str | None:
        if proposal["outcome"] != "adopted":
            return f"the proposing assembly did not adopt it: {proposal['outcome']}"
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
            why = ratification_refusal(r, day, last_day)
            if why is not None:
                ignored.append({"assembly": assembly, "decision": r["decision"], "reason": why})
                not_voted.append(assembly)
                continue
            for k in totals:
                totals[k] += r[k]
            counted_dates.append(r["date"])
            breakdown.append({"assembly": assembly, "via": list(via), "decision": r["decision"],
                              "date": r["date"], "for": r["for"], "against": r["against"],
                              "abstain": r["abstain"], "dissent": r["dissent"],
                              "majority": majority(r["for"], r["against"])})
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
        voted_units = sum(1 for row in unit_rows if row["has_voted"])
        required = rules.qualified if proposal["kind"] == "amend" else rules.threshold
        outcome, decided_on, reason = "open", None, "ratification is under way"
        if electorate and not not_voted:
            decided_on, reason = max(counted_dates), "every assembly has voted"
        elif self.as_of > deadline:
            decided_on, reason = deadline.isoformat(), "the deadline has passed"
        if decided_on is not None:
            quorum = Fraction(rules.assembly_quorum)
            if not counted_dates:
                outcome, reason = "lapsed", "no assembly of the electorate voted"
            elif Fraction(voted_units, len(units)) < quorum:
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
            "members": len(units), "members_voted": voted_units,
            "councils": [row for row in unit_rows if row["kind"] == "confederation"],
            "breakdown": breakdown, "not_voted": not_voted,
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
            replaced = replacements(self.records.logs[(assembly, mandate_id)]["acts"], self.as_of)
            verdict, _ = classify(self.records, self.as_of, assembly, mandate, act, replaced.get(act_id))
            if verdict in ("within-mandate", "indicative-awaiting-ratification"):
                out.append({"assembly": assembly, "mandate": mandate_id, "act": act_id,
                            "delegate": acted_by(mandate, act)[1], "position": act["position"],
                            "class": verdict})
        return out

    # -- one confederation -------------------------------------------------------------
    def confederation(self, confederation: str) -> Record:
        timeline = self.timeline(confederation)
        members: list[Record] = []
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
        parity = timeline.charter["parity"]
        return {"id": confederation, "founded": timeline.charter["founded"],
                "charter": timeline.charter["rules"],
                "rules": timeline.rules_at(self.as_of).plain(),
                "members": members, "proposals": [r["fragment"] for r in timeline.results],
                "ignored_proposals": timeline.ignored,
                "parity": None if parity is None else parity_report(
                    parity, {confederation, timeline.charter["rules"]["name"]},
                    [(str(m["member"]), m["name"]) for m in members
                     if m["kind"] == "assembly" and m["state"] == "member"],
                    self.records.ledgers, self.as_of.isoformat()),
                "rotation": timeline.charter["rotation"]}


def ratification_refusal(ratification: Record, day: dt.date, last_day: dt.date) -> str | None:
    """Why an electorate assembly's ratification does not count, if it does not."""
    if ratification["outcome"] == "no-quorum":
        return "the assembly's vote had no quorum"
    if ratification["date"] < day.isoformat():
        return "dated before the proposal"
    if ratification["date"] > last_day.isoformat():
        return "after the deadline"
    return None


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
    context = Context(records, as_of)
    chosen = sorted(c for c in records.charters if confederation in (None, c))
    view = {"format": VIEW_FORMAT, "as_of": as_of.isoformat(),
            "confederations": [context.confederation(c) for c in chosen],
            "mandates": mandate_rows(records, as_of, None if confederation is None else {
                confederation, records.charters.get(confederation, {}).get("rules", {}).get("name")}),
            "draws": view_draws(records.ledgers, as_of, None if confederation is None else {
                u for c in chosen for u in context.units(c)})}
    return encode(view)
