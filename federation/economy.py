"""The economy of solidarity in an assembly ledger: needs, offers, pledges, deliveries, commons.

Five root collections of `ledger/<assembly key>` (protocol-spec/economy.md is
normative), created empty by the genesis like every other collection. Each is
a map from a fresh record id to a record, and a record is never changed once
written: an assembly revises or withdraws a need (an offer, a pledge...) by a
NEW record whose `supersedes` names the earlier one, in the same collection of
the same ledger. The records linked by `supersedes` form a chain; the chain's
first record id is its identity, so a pledge keeps pointing at a need however
often it is revised.

`FIELDS` is the one table of what each record holds; the writer checks a record
against it before writing (`check_record`) and every reader skips a record that
does not fit, so a validly signed but ill-formed record never stops a ledger
from being read. `economy_records` is what a ledger contributes to the plan
(federation/plan.py): every valid chain with all of its versions, since which
version is in force depends on the as-of date of the plan.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from automerge.core import ROOT, Document, ObjType, Transaction

from .amvalues import Plain, put_value, read_map
from .charter import CHARTER_ID_RE
from .docids import RECORD_ID_RE
from .keys import KEY_TEXT_CHARS
from .ledger import ECONOMY_COLLECTIONS, MAX_TEXT_CHARS, parse_date

Record = dict[str, Any]
NEEDS, OFFERS, PLEDGES, DELIVERIES, COMMONS = ECONOMY_COLLECTIONS
MAX_NAME_CHARS = 200  # an item, a unit, a commons good
MAX_QUANTITY = 10**12  # whole units; far below Automerge's int64
# `<assembly key>/<record id>`: a need or offer of any ledger, by the id of any record of its chain
RECORD_REF_RE = re.compile(rf"^[a-z2-7]{{{KEY_TEXT_CHARS}}}/[a-z2-7]{{16}}\Z")
_SPACE_RE = re.compile(r"[ \t\r\n]+")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class Priority(str, Enum):
    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


PRIORITY_RANK = {p.value: n for n, p in enumerate(Priority)}


def name_key(text: str) -> str:
    """How items and units are compared: blanks collapsed, ASCII letters lowercased.

    Only ASCII is folded, so the key is the same whatever Unicode tables a Python has."""
    return _SPACE_RE.sub(" ", text.strip(" \t\r\n")).translate(_ASCII_LOWER)


# --- the field table ------------------------------------------------------------------


def _name(value: Any) -> Any:
    if not isinstance(value, str) or not name_key(value) or len(value) > MAX_NAME_CHARS:
        raise ValueError(f"expected a name of 1 to {MAX_NAME_CHARS} characters")
    return name_key(value)


def _text(value: Any) -> Any:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise ValueError(f"expected a text of at most {MAX_TEXT_CHARS} characters")
    return value


def _quantity(value: Any) -> Any:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_QUANTITY:
        raise ValueError(f"expected a whole number from 1 to {MAX_QUANTITY}")
    return value


def _date(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("expected a date YYYY-MM-DD")
    return parse_date(value).isoformat()


def _matching(pattern: re.Pattern[str], what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, str) or not pattern.match(value):
            raise ValueError(f"expected {what}")
        return value
    return check


def _optional(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _priority(value: Any) -> Any:
    return Priority(value).value


def _flag(value: Any) -> Any:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


_CONFEDERATION = _matching(CHARTER_ID_RE, "a confederation id (64 hex digits)")
_REF = _matching(RECORD_REF_RE, "a record reference ASSEMBLY_KEY/RECORD_ID")
# Every record: the day the assembly recorded it, the record it revises, whether it withdraws it.
_CHAIN = {"date": _date, "supersedes": _optional(_matching(RECORD_ID_RE, "a record id")),
          "withdrawn": _flag}
_WHAT = {"confederation": _CONFEDERATION, "item": _name, "quantity": _quantity, "unit": _name}
FIELDS: dict[str, dict[str, Callable[[Any], Any]]] = {
    NEEDS: {**_WHAT, "by": _date, "priority": _priority, "cooperative": _text, "note": _text, **_CHAIN},
    OFFERS: {**_WHAT, "from": _date, "until": _date, "conditions": _text, "cooperative": _text,
             **_CHAIN},
    PLEDGES: {**_WHAT, "need": _REF, "offer": _REF, **_CHAIN},
    DELIVERIES: {**_WHAT, "need": _REF, "offer": _REF, "note": _text, **_CHAIN},
    COMMONS: {"confederation": _CONFEDERATION, "good": _name, "rules": _text, **_CHAIN},
}


def check_record(collection: str, raw: Mapping[str, Any]) -> Record:
    """The record with every field checked (names normalized); ValueError names the field.

    Exactly the fields of `FIELDS[collection]`, no more and no fewer."""
    fields = FIELDS[collection]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValueError(f"unknown field {unknown[0]!r}")
    out: Record = {}
    for name, check in fields.items():
        if name not in raw:
            raise ValueError(f"{name} is required")
        try:
            out[name] = check(raw[name])
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name}: {exc}") from None
    if collection == OFFERS and out["until"] < out["from"]:
        raise ValueError("an offer's availability ends before it starts")
    return out


# --- writing ---------------------------------------------------------------------------


def write_record(tx: Transaction, collection: str, record_id: str, record: Record) -> None:
    """Add a checked record under a fresh id; the collection must exist (the genesis made it).

    A writer never creates a collection: two devices doing so offline would make two maps
    under one key, and readers would see only one of them."""
    found = tx.get(ROOT, collection)
    if found is None or found[0] != ObjType.Map:
        raise ValueError(f"this ledger has no {collection} collection (it was founded before "
                         "pnyx recorded them)")
    if tx.get(found[1], record_id) is not None:
        raise ValueError(f"record {record_id} exists already")
    put_value(tx, found[1], record_id, check_record(collection, record))


# --- reading ---------------------------------------------------------------------------


def read_records(doc: Document, collection: str) -> dict[str, Record]:
    """The valid records of one collection by id, in id order; ill-formed ones skipped."""
    return records_of(collection, read_map(doc, collection))


def records_of(collection: str, entries: Mapping[str, Plain]) -> dict[str, Record]:
    """The valid records of one collection's entries (plain values, by id), in id order."""
    out = {}
    for record_id, raw in sorted(entries.items()):
        if not RECORD_ID_RE.match(record_id) or not isinstance(raw, dict):
            continue
        try:
            out[record_id] = check_record(collection, raw)
        except ValueError:
            continue
    return out


def chain_root(record_id: str, records: Mapping[str, Record]) -> str:
    """The first record of the chain `record_id` belongs to, following `supersedes`.

    A `supersedes` naming no record of the collection ends the chain there. A cycle (only a
    forged ledger can hold one) is rooted at its smallest id, whichever record one starts from."""
    path: list[str] = []
    current = record_id
    while current not in path:
        path.append(current)
        earlier = records[current]["supersedes"]
        if earlier is None or earlier not in records:
            return current
        current = earlier
    return min(path[path.index(current):])


def chains(records: Mapping[str, Record]) -> dict[str, list[Record]]:
    """Records grouped by chain root; each version with its `id`, ordered by (date, id)."""
    out: dict[str, list[Record]] = {}
    for record_id in sorted(records):
        out.setdefault(chain_root(record_id, records), []).append({"id": record_id, **records[record_id]})
    for versions in out.values():
        versions.sort(key=lambda v: (v["date"], v["id"]))
    return out


def in_force(versions: list[Record], as_of: dt.date) -> Record | None:
    """The version of a chain in force on `as_of`: of those dated by then, one no other
    supersedes; among several (two devices revised it at once), the latest by (date, id).
    None if the chain was not yet recorded then."""
    day = as_of.isoformat()
    held = [v for v in versions if v["date"] <= day]
    superseded = {v["supersedes"] for v in held}
    current = [v for v in held if v["id"] not in superseded]
    return max(current, key=lambda v: (v["date"], v["id"])) if current else None


def economy_records(doc: Document) -> Record:
    """What one ledger contributes to the plan: collection -> chain root -> versions."""
    return economy_of({collection: read_map(doc, collection) for collection in ECONOMY_COLLECTIONS})


def economy_of(entries: Mapping[str, Mapping[str, Plain]]) -> Record:
    """economy_records from each collection's entries (plain values, by id)."""
    return {collection: chains(records_of(collection, entries.get(collection, {})))
            for collection in ECONOMY_COLLECTIONS}
