"""The economy records of every ledger held, indexed by what the plan computes separately.

A plan line is one (confederation, item, unit): its needs, offers, pledges and
deliveries are judged together and with nothing else. `EconomyIndex.put`
replaces what one ledger contributes and bumps the version of every line it
touched, so the plan (federation/plan.py) recomputes only those lines: after
one new need, one line of one confederation, not 50,000 records.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .economy import COMMONS, DELIVERIES, NEEDS, OFFERS, PLEDGES

Record = dict[str, Any]
Line = tuple[str, str, str]  # (confederation, item, unit)
Entry = tuple[str, str, str]  # (assembly, collection, chain root)
LINE_COLLECTIONS = (NEEDS, OFFERS, PLEDGES, DELIVERIES)


def lines_of(versions: list[Record]) -> set[Line]:
    """Every line some version of a chain belongs to (a revision may change the item)."""
    return {(v["confederation"], v["item"], v["unit"]) for v in versions}


@dataclass
class EconomyIndex:
    lines: dict[Line, dict[Entry, list[Record]]] = field(default_factory=dict)
    versions: dict[Line, int] = field(default_factory=dict)
    by_confederation: dict[str, set[Line]] = field(default_factory=dict)
    # "assembly/record id" of every commons record -> (assembly, chain root, that version)
    commons: dict[str, tuple[str, str, Record]] = field(default_factory=dict)
    dates: dict[str, list[str]] = field(default_factory=dict)  # assembly -> every record date, sorted

    def put(self, assembly: str, old: Record, new: Record) -> None:
        """Replace what ledger `assembly` contributes: `old` and `new` are its `economy` records."""
        for collection in LINE_COLLECTIONS:
            for root, before, after in changed(old.get(collection), new.get(collection)):
                entry = (assembly, collection, root)
                for line in lines_of(before or []):
                    self._bump(line)
                    self.lines[line].pop(entry, None)
                    if not self.lines[line]:
                        del self.lines[line]
                        self.by_confederation[line[0]].discard(line)
                for line in lines_of(after or []):
                    self._bump(line)
                    self.lines.setdefault(line, {})[entry] = after
                    self.by_confederation.setdefault(line[0], set()).add(line)
        for root, before, after in changed(old.get(COMMONS), new.get(COMMONS)):
            for version in before or []:
                self.commons.pop(f"{assembly}/{version['id']}", None)
            for version in after or []:
                self.commons[f"{assembly}/{version['id']}"] = (assembly, root, version)
        dates = sorted(v["date"] for chains in new.values() for versions in chains.values()
                       for v in versions)
        if dates:
            self.dates[assembly] = dates
        else:
            self.dates.pop(assembly, None)

    def _bump(self, line: Line) -> None:
        self.versions[line] = self.versions.get(line, 0) + 1

    def newest(self, assembly: str, as_of: dt.date) -> str | None:
        """The date of the newest economy record of `assembly` held, dated by `as_of`."""
        dates = self.dates.get(assembly, [])
        n = bisect.bisect_right(dates, as_of.isoformat())
        return dates[n - 1] if n else None

    def count(self, assembly: str, as_of: dt.date) -> int:
        return bisect.bisect_right(self.dates.get(assembly, []), as_of.isoformat())


def changed(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """(key, old value, new value) for every key whose value differs, in key order."""
    old, new = old or {}, new or {}
    return [(k, old.get(k), new.get(k)) for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
