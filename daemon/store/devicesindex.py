"""The devices of each ledger held, kept in SQLite beside the index of its records
(daemon/store/ledgerindex.py, which keeps this table up to date in the same transactions).

`pnyx show devices`, GET /ledger, GET /devices and the page list a ledger's devices, and the
index finds the revoked ones, from here: reading them from the ledger's document means
loading it, seconds at 100k records, for a handful of entries.

A device entry is written whole by the change that certifies it (rule L3), except its
`revoked` map, written once later (L3's `once`): a certification is read from the change
that makes it, as records are; a revocation re-reads its one entry from the document,
which the index loads then anyway to judge the revocation's cut. Two concurrent
certifications of one key keep the one Automerge shows (the greater op), as read_devices
reads the document; an entry that does not read as a device is kept too, so that it still
wins over the other, and listed by nobody.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from automerge.core import Document
from pnyx.federation.amvalues import Plain, read_entry
from pnyx.federation.chunk import ParsedChange
from pnyx.federation.indexrows import DEVICES
from pnyx.federation.ledger import Device, device_of
from pnyx.federation.ops import MAKES, Made, OpId, decode_rows

from .schema import create_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_devices (
    doc TEXT NOT NULL,
    key TEXT NOT NULL,
    actor BLOB NOT NULL,
    counter INTEGER NOT NULL,
    label TEXT,
    certificate BLOB,
    cut TEXT,
    PRIMARY KEY (doc, key)
);
CREATE INDEX IF NOT EXISTS ledger_devices_by_op ON ledger_devices (doc, actor, counter);
"""
# label and certificate NULL: the entry does not read as a device; cut: the revocation's cut
# as written (JSON), NULL while the device is not revoked.
ROW = "(doc, key, actor, counter, label, certificate, cut) VALUES (?,?,?,?,?,?,?)"


class DeviceIndex:
    """The `devices` entries of the ledgers of one store, each as read_devices reads it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        create_schema(db, SCHEMA)

    def certified(self, doc_id: str, key: str, op: OpId, raw: Plain) -> None:
        """The entry `key` that the op `op` made, with its value as written."""
        row = (doc_id, key, op.actor, op.counter, *_columns(device_of(key, raw)))
        try:
            self.db.execute(f"INSERT INTO ledger_devices {ROW}", row)
        except sqlite3.IntegrityError:  # two concurrent certifications of one key: the greater op wins
            held = self.db.execute("SELECT counter, actor FROM ledger_devices WHERE doc = ? AND key = ?",
                                   (doc_id, key)).fetchone()
            if (held[0], bytes(held[1])) < (op.counter, op.actor):
                self.db.execute(f"INSERT OR REPLACE INTO ledger_devices {ROW}", row)

    def revoked_in(self, doc_id: str, entries: Iterable[OpId], doc: Document) -> None:
        """Entries (by the op that made each) that a change wrote a revocation into: each read
        again from the document. An op that made no entry kept here (the losing one of two
        concurrent certifications, or no entry at all) changes nothing a reader sees."""
        for op in entries:
            found = self.db.execute("SELECT key FROM ledger_devices WHERE doc = ? AND actor = ?"
                                    " AND counter = ?", (doc_id, op.actor, op.counter)).fetchone()
            if found is not None:
                self.db.execute("UPDATE ledger_devices SET label = ?, certificate = ?, cut = ?"
                                " WHERE doc = ? AND key = ?",
                                (*_columns(device_of(found[0], read_entry(doc, DEVICES, found[0]))),
                                 doc_id, found[0]))

    def forget(self, doc_id: str) -> None:
        self.db.execute("DELETE FROM ledger_devices WHERE doc = ?", (doc_id,))

    def devices(self, doc_id: str) -> dict[str, Device]:
        """Every device of a ledger by key, as read_devices reads the document."""
        return {key: Device(key, label, bytes(certificate), None if cut is None else json.loads(cut))
                for key, label, certificate, cut in self.db.execute(
                    "SELECT key, label, certificate, cut FROM ledger_devices WHERE doc = ?"
                    " AND certificate IS NOT NULL ORDER BY key", (doc_id,))}

    def revoked(self, doc_id: str) -> list[str]:
        """The keys of the devices whose entry holds a revocation (its signature unchecked)."""
        return [key for (key,) in self.db.execute(
            "SELECT key FROM ledger_devices WHERE doc = ? AND cut IS NOT NULL AND certificate"
            " IS NOT NULL ORDER BY key", (doc_id,))]


def made_in_map(change: ParsedChange, made: list[Made]) -> list[tuple[str, OpId, Plain]]:
    """(key, op, value) of the device entries a change writes inside the `devices` map it
    makes itself: the genesis (rule W8) so certifies its founding device. made_under_keys
    folds them into the map's value, without the op that made each, which a revocation
    names: those ops are read from the change's operations, decoded again (once a ledger)."""
    maps = [(op, value) for parent, key, op, value in made if parent is None and key == DEVICES]
    if not maps:
        return []
    devices, value = maps[0]
    entries = value if isinstance(value, dict) else {}
    rows = decode_rows(change)
    return [(key, OpId(rows.start + i, rows.actor), entries.get(key))
            for i, (obj, key, action, insert) in enumerate(zip(rows.obj, rows.key, rows.action, rows.insert,
                                                                strict=True))
            if obj == devices and key is not None and action in MAKES and not insert]


def _columns(device: Device | None) -> tuple[str | None, bytes | None, str | None]:
    """label, certificate and cut of a device, all None for an entry that reads as none."""
    if device is None:
        return None, None, None
    cut = None if device.revoked_cut is None else json.dumps(device.revoked_cut, sort_keys=True)
    return device.label, device.certificate, cut
