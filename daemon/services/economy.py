"""Recording needs, offers, pledges, deliveries and commons records: the writes and their rules.

A record is checked against the ledger as held before anything is written
(protocol-spec/economy.md, "Writing"): a revision names a record of this
ledger that nothing has superseded yet; a pledge or delivery names a need and
an offer held here, of one confederation, item and unit, and is recorded by
one of the two sides; its confederation, item and unit are copied from the
need, and the need and offer are named by their chain's first record, so
later revisions keep the pledge pointing at them. A withdrawal is a copy of
the record in force with `withdrawn` set: nothing is ever overwritten.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

from pnyx.federation.docids import ledger_id
from pnyx.federation.economy import (
    COMMONS,
    DELIVERIES,
    FIELDS,
    NEEDS,
    OFFERS,
    PLEDGES,
    RECORD_REF_RE,
    Record,
    chain_root,
    check_record,
    in_force,
    read_records,
    write_record,
)
from pnyx.federation.keys import key_text, parse_key

from ..store.node import Node
from .bodies import BadRequest, Body, only_fields, text, today
from .names import resolve_confederation
from .records import Recorder, RecordError, UnknownRecord, new_record_id

Result = dict[str, Any]
SINGULAR = {NEEDS: "need", OFFERS: "offer", PLEDGES: "pledge", DELIVERIES: "delivery", COMMONS: "commons"}
# What a pledge or delivery takes from the need it names rather than from its body.
FROM_NEED = ("confederation", "item", "unit")
DEFAULTS: dict[str, Any] = {"priority": "normal", "cooperative": "", "note": "", "conditions": "",
                            "rules": "", "supersedes": None, "withdrawn": False}


def body_fields(collection: str) -> set[str]:
    """The fields a client may send: the record's, less what is derived or set by a withdrawal."""
    derived = set(FROM_NEED) if collection in (PLEDGES, DELIVERIES) else set()
    return set(FIELDS[collection]) - derived - {"withdrawn"}


class Economy:
    """The economy records of this assembly's ledger, and writing new ones."""

    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.node = rec.node

    def held(self, collection: str, assembly: bytes | None = None) -> dict[str, Record]:
        doc_id = ledger_id(self.node.assembly if assembly is None else assembly)
        if assembly is not None and not self.node.store.holds_document(doc_id):
            return {}
        return read_records(self.node.docs.get(doc_id), collection)

    def record(self, collection: str, body: Body) -> Result:
        """Add a record from a client's body: new, or a revision of `supersedes`."""
        only_fields(body, body_fields(collection))
        defaults = {k: v for k, v in DEFAULTS.items() if k in FIELDS[collection]}
        fields = {**defaults, "date": today().isoformat(), **body}
        mine = self.held(collection)
        earlier = fields["supersedes"]
        if earlier is not None:
            current = self._current(collection, mine, text(body, "supersedes"))
            if current["id"] != earlier:
                raise RecordError(f"{SINGULAR[collection]} {earlier} was revised by {current['id']}: "
                                  f"revise that one")
            fields = {**current, "withdrawn": False, "date": today().isoformat(), **body}
            fields.pop("id")
        if isinstance(body.get("confederation"), str):  # a name as well as an id, like everywhere
            fields["confederation"] = resolve_confederation(self.node, body["confederation"])
        if collection in (PLEDGES, DELIVERIES):
            fields.update(self._sides(fields))
        return self._write(collection, fields)

    def withdraw(self, collection: str, record_id: str, body: Body) -> Result:
        """A new record withdrawing the one in force of the chain `record_id` belongs to."""
        only_fields(body, {"date"})
        current = self._current(collection, self.held(collection), record_id)
        fields = {**current, "supersedes": current["id"], "withdrawn": True,
                  "date": text(body, "date", today().isoformat())}
        fields.pop("id")
        return self._write(collection, fields)

    def _write(self, collection: str, fields: Record) -> Result:
        try:
            record = check_record(collection, fields)
        except ValueError as exc:  # typed right (else the body was refused) but breaks a rule
            raise RecordError(f"{SINGULAR[collection]}: {exc}") from None
        self.rec.require_certified()
        self.rec.charter_held(record["confederation"])
        record_id = new_record_id()
        try:
            self.rec.write(self.node.ledger_id,
                           lambda tx: write_record(tx, collection, record_id, record))
        except ValueError as exc:  # a ledger founded before the economy's collections
            raise RecordError(f"{SINGULAR[collection]}: {exc}") from None
        return {"id": record_id, **record, "assembly": key_text(self.node.assembly)}

    def _current(self, collection: str, records: dict[str, Record], record_id: str) -> Record:
        """The version in force today of the chain holding `record_id`; refused if withdrawn."""
        if record_id not in records:
            raise UnknownRecord(f"unknown {SINGULAR[collection]}: {record_id}")
        root = chain_root(record_id, records)
        chain = sorted(({"id": k, **v} for k, v in records.items()
                        if chain_root(k, records) == root), key=lambda v: (v["date"], v["id"]))
        current = in_force(chain, dt.date.max) or chain[-1]
        if current["withdrawn"]:
            raise RecordError(f"{SINGULAR[collection]} {record_id} was withdrawn by {current['id']}")
        return current

    def _sides(self, fields: Record) -> Record:
        """A pledge's or delivery's need and offer as chain refs, with what it copies from the need."""
        need_ref, need = self._named(NEEDS, fields.get("need"))
        offer_ref, offer = self._named(OFFERS, fields.get("offer"))
        if any(need[k] != offer[k] for k in FROM_NEED):
            raise RecordError("the need and the offer are not of one confederation, item and unit")
        me = key_text(self.node.assembly)
        if me not in (need_ref.partition("/")[0], offer_ref.partition("/")[0]):
            raise RecordError("only the needing or the offering assembly records this")
        return {"need": need_ref, "offer": offer_ref, **{k: need[k] for k in FROM_NEED}}

    def _named(self, collection: str, ref: Any) -> tuple[str, Record]:
        what = SINGULAR[collection]
        if ref is None:  # a revision names them through the record it revises
            raise RecordError(f"{what} is required")
        if not isinstance(ref, str) or not RECORD_REF_RE.match(ref):
            raise BadRequest(f"{what}: expected ASSEMBLY_KEY/RECORD_ID")
        assembly, _, record_id = ref.partition("/")
        records = self.held(collection, parse_key(assembly))
        if record_id not in records:
            raise UnknownRecord(f"{what} {ref} is not held here: bring its assembly's ledger first")
        current = self._current(collection, records, record_id)
        return f"{assembly}/{chain_root(record_id, records)}", current


def listed_records(node: Node, assembly: bytes, collection: str) -> list[Result]:
    """Every record of a collection of a ledger held, in id order, each saying whether a later
    record supersedes it (as GET /decisions does for decisions)."""
    records = read_records(node.docs.get(ledger_id(assembly)), collection)
    superseded = {r["supersedes"] for r in records.values()}
    return [{"id": k, **v, "superseded": k in superseded} for k, v in records.items()]


def add(collection: str, rec: Recorder, params: dict[str, str], body: Body) -> Result:
    return Economy(rec).record(collection, body)


def withdraw(collection: str, rec: Recorder, params: dict[str, str], body: Body) -> Result:
    return Economy(rec).withdraw(collection, params["record"], body)


def economy_writes() -> list[tuple[str, str, Callable[[Recorder, Any, Body], Result]]]:
    """(name, path, run) of every economy write, for the table of writes (writes.py)."""
    out: list[tuple[str, str, Callable[[Recorder, Any, Body], Result]]] = []
    for collection, singular in SINGULAR.items():
        out.append((f"{singular}-add", f"/{collection}", partial(add, collection)))
        out.append((f"{singular}-withdraw", f"/{collection}/{{record}}/withdraw",
                    partial(withdraw, collection)))
    return out
