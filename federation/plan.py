"""The confederal plan: needs against offers, pledges, deliveries and a proposal of matches.

`render_plan(records, as_of)` is, like the view, a pure function of the valid
records held and an explicit as-of date, giving canonical JSON bytes that are
the same on every machine holding the same records (protocol-spec/economy.md
is normative). It says what it is as of: for every member assembly, whether
its ledger is held and the date of its newest economy record held, so a
village that was cut off for months can tell old news from no news.

Each line (confederation, item, unit) is judged on its own and memoized in
the RecordSet under (its version, the structure version, as-of): one new need
re-judges one line. Membership and the commons register come from the view's
Context (federation/view.py), so the plan and the view never disagree on who
is a member or what was adopted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .economy import NEEDS, OFFERS, PLEDGES, PRIORITY_RANK, in_force
from .economyindex import Line
from .recordset import Fragment, RecordSet, canonical, encode
from .view import Context

PLAN_FORMAT = "pnyx/plan/v1"
Record = dict[str, Any]
TOTALS = ("needed", "offered", "pledged", "delivered", "proposed", "uncovered", "surplus")


def month(day: str) -> str:
    return day[:7]


@dataclass
class _Pair:
    """What both sides recorded about one need and one offer."""

    pledged: dict[str, Record] = field(default_factory=dict)  # side -> the side's pledge in force
    delivered: dict[str, int] = field(default_factory=dict)  # side -> sum of its deliveries

    def side(self, name: str) -> int | None:
        pledge = self.pledged.get(name)
        return None if pledge is None or pledge["withdrawn"] else int(pledge["quantity"])

    def agreed(self) -> int:
        provider, receiver = self.side("provider"), self.side("receiver")
        return 0 if provider is None or receiver is None else min(provider, receiver)

    def delivered_most(self) -> int:
        """Both sides may record one delivery: the larger account counts, never their sum."""
        return max(self.delivered.get("provider", 0), self.delivered.get("receiver", 0))

    def covered(self) -> int:
        return max(self.agreed(), self.delivered_most())

    def state(self) -> str:
        provider, receiver = self.side("provider"), self.side("receiver")
        if provider is not None and receiver is not None:
            return "agreed"
        if provider is not None:
            return "awaiting-receiver"
        return "awaiting-provider" if receiver is not None else "none"


class _LineJudge:
    """One line of one confederation as of one date (protocol-spec/economy.md, "The plan")."""

    def __init__(self, entries: dict[tuple[str, str, str], list[Record]], line: Line,
                 members: set[str], as_of: dt.date) -> None:
        self.line = line
        self.day = as_of.isoformat()
        self.needs: dict[str, Record] = {}
        self.offers: dict[str, Record] = {}
        self.aliases: dict[str, str] = {}  # any record id of a chain -> the chain's ref
        self.ignored: list[Record] = []
        self.pairs: dict[tuple[str, str], _Pair] = {}
        acts: list[tuple[str, str, Record]] = []
        for (assembly, collection, root), versions in sorted(entries.items()):
            version = in_force(versions, as_of)
            if version is None or (version["confederation"], version["item"], version["unit"]) != line:
                continue
            if assembly not in members:
                self._ignore(assembly, collection, version, "the assembly is not a member on the as-of date")
            elif collection in (NEEDS, OFFERS):
                ref = f"{assembly}/{root}"
                self.aliases.update({f"{assembly}/{v['id']}": ref for v in versions})
                (self.needs if collection == NEEDS else self.offers)[ref] = {
                    **version, "assembly": assembly}
            else:
                acts.append((assembly, collection, version))
        for assembly, collection, version in acts:
            self._pair_act(assembly, collection, version)

    def _ignore(self, assembly: str, collection: str, version: Record, reason: str) -> None:
        self.ignored.append({"record": f"{assembly}/{version['id']}", "collection": collection,
                             "reason": reason})

    def _pair_act(self, assembly: str, collection: str, version: Record) -> None:
        need, offer = self.aliases.get(version["need"]), self.aliases.get(version["offer"])
        if need is None or offer is None:
            what = "need" if need is None else "offer"
            self._ignore(assembly, collection, version, f"the {what} it names is not held on this line")
            return
        sides = [side for side, owner in (("provider", offer), ("receiver", need))
                 if owner.partition("/")[0] == assembly]
        if not sides:
            self._ignore(assembly, collection, version, "recorded by neither the needing nor the "
                                                        "offering assembly")
            return
        pair = self.pairs.setdefault((need, offer), _Pair())
        for side in sides:
            if collection == PLEDGES:
                earlier = pair.pledged.get(side)
                if earlier is None or (earlier["date"], earlier["id"]) < (version["date"], version["id"]):
                    pair.pledged[side] = version
            elif not version["withdrawn"]:
                pair.delivered[side] = pair.delivered.get(side, 0) + int(version["quantity"])

    def judge(self) -> Record:
        need_rows = {ref: self._need_row(ref, n) for ref, n in sorted(self.needs.items())}
        offer_rows = {ref: self._offer_row(ref, o) for ref, o in sorted(self.offers.items())}
        for (need, offer), pair in self.pairs.items():
            for rows, ref in ((need_rows, need), (offer_rows, offer)):
                rows[ref]["pledged"] += pair.agreed()
                rows[ref]["delivered"] += pair.delivered_most()
                rows[ref]["covered"] += pair.covered()
        proposal = self._propose(need_rows, offer_rows)
        periods: dict[str, dict[str, int]] = {}
        for row in need_rows.values():
            totals = periods.setdefault(month(row["by"]), dict.fromkeys(TOTALS, 0))
            for name in ("pledged", "delivered", "proposed", "uncovered"):
                totals[name] += row[name]
            totals["needed"] += 0 if row["state"] == "withdrawn" else row["quantity"]
        for row in offer_rows.values():
            totals = periods.setdefault(month(row["from"]), dict.fromkeys(TOTALS, 0))
            totals["surplus"] += row["surplus"]
            totals["offered"] += 0 if row["state"] == "withdrawn" else row["quantity"]
        for rows in (need_rows, offer_rows):
            for row in rows.values():
                del row["covered"]
        return {
            "confederation": self.line[0], "item": self.line[1], "unit": self.line[2],
            **{name: sum(t[name] for t in periods.values()) for name in TOTALS},
            "periods": [{"period": p, **periods[p]} for p in sorted(periods)],
            "needs": list(need_rows.values()), "offers": list(offer_rows.values()),
            "pledges": [{"need": need, "offer": offer, "state": pair.state(),
                         "provider": pair.side("provider"), "receiver": pair.side("receiver"),
                         "agreed": pair.agreed(), "delivered": pair.delivered.get("provider", 0),
                         "received": pair.delivered.get("receiver", 0)}
                        for (need, offer), pair in sorted(self.pairs.items())],
            "proposal": proposal, "ignored": self.ignored}

    def _need_row(self, ref: str, need: Record) -> Record:
        return {"id": ref, "record": need["id"], "assembly": need["assembly"],
                "quantity": need["quantity"], "by": need["by"], "priority": need["priority"],
                "cooperative": need["cooperative"], "note": need["note"], "date": need["date"],
                "withdrawn": need["withdrawn"], "pledged": 0, "delivered": 0, "covered": 0,
                "proposed": 0, "uncovered": 0}

    def _offer_row(self, ref: str, offer: Record) -> Record:
        return {"id": ref, "record": offer["id"], "assembly": offer["assembly"],
                "quantity": offer["quantity"], "from": offer["from"], "until": offer["until"],
                "conditions": offer["conditions"], "cooperative": offer["cooperative"],
                "date": offer["date"], "withdrawn": offer["withdrawn"], "pledged": 0,
                "delivered": 0, "covered": 0, "proposed": 0, "surplus": 0}

    def _propose(self, needs: dict[str, Record], offers: dict[str, Record]) -> list[Record]:
        """States, then the deterministic proposal: open needs by (priority, due date, id) take
        what open offers available by their due date have left, offers by (from, until, id)."""
        for row in needs.values():
            withdrawn = row.pop("withdrawn")
            row["state"] = ("withdrawn" if withdrawn else "met" if row["delivered"] >= row["quantity"]
                            else "lapsed" if row["by"] < self.day
                            else "pledged" if row["covered"] >= row["quantity"] else "open")
        for row in offers.values():
            withdrawn = row.pop("withdrawn")
            row["state"] = ("withdrawn" if withdrawn else "expired" if row["until"] < self.day
                            else "taken" if row["covered"] >= row["quantity"] else "open")
        left = {ref: row["quantity"] - row["covered"] for ref, row in offers.items()
                if row["state"] == "open"}
        chosen = sorted(left, key=lambda ref: (offers[ref]["from"], offers[ref]["until"], ref))
        proposal = []
        for ref in sorted((r for r, row in needs.items() if row["state"] == "open"),
                          key=lambda r: (PRIORITY_RANK[needs[r]["priority"]], needs[r]["by"], r)):
            need = needs[ref]
            wanted = need["quantity"] - need["covered"]
            for offer in chosen:
                if wanted == 0:
                    break
                if left[offer] == 0 or offers[offer]["from"] > need["by"]:
                    continue
                quantity = min(wanted, left[offer])
                proposal.append({"need": ref, "offer": offer, "quantity": quantity})
                wanted -= quantity
                left[offer] -= quantity
                need["proposed"] += quantity
                offers[offer]["proposed"] += quantity
            need["uncovered"] = wanted
        for ref, quantity in left.items():
            offers[ref]["surplus"] = quantity
        return proposal


class _Plan:
    def __init__(self, records: RecordSet, as_of: dt.date) -> None:
        self.records = records
        self.index = records.economy
        self.as_of = as_of
        self.context = Context(records, as_of)

    def confederation(self, confederation: str) -> Record:
        electorate = self.context.electorate(confederation, self.as_of)
        members = {assembly for assembly, _ in electorate}
        items = []
        for line in sorted(self.index.by_confederation.get(confederation, ())):
            key = (self.index.versions.get(line, 0), self.records.structure, self.as_of)
            memo = self.records.plan_memo.get(line)
            if memo is None or memo[0] != key:
                result = _LineJudge(self.index.lines[line], line, members, self.as_of).judge()
                memo = (key, result, Fragment(canonical(result)))
                self.records.plan_memo[line] = memo
            items.append(memo[2])
        commons, ignored = self._commons(confederation)
        others = [u for u in self.context.units(confederation) if len(u) != 64 and u not in members]
        return {"id": confederation,
                "name": self.records.charters[confederation]["rules"]["name"],
                "members": [self._held(assembly, via, "member") for assembly, via in electorate]
                + [self._held(unit, (), self.context.state(confederation, unit, self.as_of))
                   for unit in others],
                "items": items, "commons": commons, "ignored_commons": ignored}

    def _held(self, assembly: str, via: Iterable[str], state: str) -> Record:
        """What this machine holds of one assembly: how recent the plan's news from it is."""
        ledger = self.records.ledgers.get(assembly)
        return {"assembly": assembly, "via": list(via), "state": state,
                "name": ledger["name"] if ledger else None, "held": ledger is not None,
                "newest": self.index.newest(assembly, self.as_of),
                "records": self.index.count(assembly, self.as_of)}

    def _commons(self, confederation: str) -> tuple[list[Record], list[Record]]:
        """The register: each good's rules as last adopted, by whom it is kept."""
        register: dict[tuple[str, str], Record] = {}
        ignored = []
        for effective, pid in sorted(self.context.timeline(confederation).commons):
            if effective > self.as_of:
                continue
            ref = self.records.proposals[pid]["subject"]
            found = self.index.commons.get(ref)
            if found is None or found[2]["confederation"] != confederation:
                ignored.append({"proposal": pid, "reason": "the commons record it names is not held"
                                if found is None else "the commons record is of another confederation"})
                continue
            assembly, root, version = found
            if version["withdrawn"]:
                register.pop((assembly, root), None)
                continue
            register[(assembly, root)] = {
                "good": version["good"], "rules": version["rules"], "custodian": assembly,
                "record": ref, "proposal": pid, "effective": effective.isoformat()}
        rows = sorted(register.values(), key=lambda r: (r["good"], r["custodian"], r["record"]))
        return rows, ignored


def render_plan(records: RecordSet, as_of: dt.date, confederation: str | None = None) -> bytes:
    """The plan as canonical JSON bytes: the same records and as-of give the same bytes."""
    plan = _Plan(records, as_of)
    chosen = sorted(c for c in records.charters if confederation in (None, c))
    return encode({"format": PLAN_FORMAT, "as_of": as_of.isoformat(),
                   "confederations": [plan.confederation(c) for c in chosen]})
