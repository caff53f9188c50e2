"""The records the view is computed from, indexed by proposal, with versions for incremental upkeep.

`RecordSet` holds the normalized records of every document (federation/confed.py).
`put` replaces what one document contributes and bumps a version for each
proposal whose inputs changed (its record, its ratifications, its delegates'
acts or their mandates), and a structure version for anything that can change
membership or rules (charters, acceptances, structural proposals and their
ratifications). The view memoizes each proposal's result under those
versions (federation/view.py). `encode` writes canonical JSON, with parts
already encoded (`Fragment`) copied in as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .confed import Record
from .docids import DocKind, parse_doc_id
from .economyindex import EconomyIndex, changed
from .keys import key_text

STRUCTURAL = ("admit", "suspend", "amend", "join")


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Fragment:
    """A part of the view already encoded as canonical JSON."""

    text: str


def encode(value: Any) -> bytes:
    """Canonical JSON (sorted keys, no spaces, UTF-8) of plain values and Fragments."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, Fragment):
        out.append(value.text)
    elif isinstance(value, dict):
        out.append("{")
        for n, key in enumerate(sorted(value)):
            out.append(f"{',' if n else ''}{canonical(key)}:")
            _encode(value[key], out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for n, item in enumerate(value):
            if n:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        out.append(canonical(value))


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
    economy: EconomyIndex = field(default_factory=EconomyIndex)  # needs, offers...: the plan's input
    plan_memo: dict[Any, tuple[tuple[Any, ...], Record, Fragment]] = field(default_factory=dict)

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
        for rid, before, after in changed(old.get("proposals"), new.get("proposals")):
            pid = f"{assembly}/{rid}"
            self._bump(pid)
            if before is not None:
                self.by_confederation.get(before["confederation"], set()).discard(pid)
            if after is not None:
                self.by_confederation.setdefault(after["confederation"], set()).add(pid)
            _set(self.proposals, pid, None if after is None else {**after, "proposer": assembly})
            if any(p is not None and p["kind"] in STRUCTURAL for p in (before, after)):
                self.structure += 1
        for pid, _, after in changed(old.get("ratifications"), new.get("ratifications")):
            self._bump(pid)
            _set(self.ratifications.setdefault(pid, {}), assembly, after)
            if self.proposals.get(pid, {}).get("kind") in STRUCTURAL:
                self.structure += 1
        self.economy.put(assembly, old.get("economy") or {}, new.get("economy") or {})
        for mandate_id, _, _ in changed(old.get("mandates"), new.get("mandates")):
            for act in (self.logs.get((assembly, mandate_id)) or {}).get("acts", {}).values():
                self._bump(act["proposal"])

    def _put_log(self, assembly: str, mandate_id: str, record: Record | None) -> None:
        old = self.logs.get((assembly, mandate_id)) or {}
        _set(self.logs, (assembly, mandate_id), record)
        for act_id, before, after in changed(old.get("acts"), (record or {}).get("acts")):
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


def records_from(documents: dict[str, Record]) -> RecordSet:
    """A fresh RecordSet of normalized records by document id (for vectors and checks)."""
    records = RecordSet()
    for doc_id in sorted(documents):
        records.put(doc_id, documents[doc_id])
    return records
