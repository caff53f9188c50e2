"""Test fixtures for the signed ledger: assemblies, devices and signed changes, in memory.

Honest writes go through the daemon's own Recorder on nodes whose store is
SQLite in memory, so tests exercise production code; `Author` makes changes by
hand on a fork of a ledger, and `rewrite_change` edits a change chunk's header
fields, for the changes an honest daemon would never make.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import itertools
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from automerge.core import Document, Transaction
from hypothesis import strategies as st
from pnyx.daemon.services.records import DecisionInput, Recorder
from pnyx.daemon.store import ingest
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor, IngestReport
from pnyx.daemon.store.ledgerindex import LedgerIndex
from pnyx.daemon.store.node import Node, create_data_dir, open_node
from pnyx.daemon.store.sqlite import Store
from pnyx.federation import verify
from pnyx.federation.chunk import MAGIC, encode_uleb
from pnyx.federation.columns import Reader
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import Envelope, VerifiedChange, run_actor, sign_change
from pnyx.federation.errors import Rejected
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import Decision, Profile, Tally, write_decision
from pnyx.federation.ops import Rows, decode_rows
from pnyx.federation.writerules import Written

_seeds = itertools.count(1)


def new_key() -> SigningKey:
    """A deterministic key per call within one test process."""
    return SigningKey(hashlib.sha256(b"ledgerkit %d" % next(_seeds)).digest())


def memory_node(assembly: bytes, device_key: SigningKey,
                assembly_key: SigningKey | None = None) -> Node:
    store = Store(":memory:")
    docs = DocumentCache(store)
    return Node(Path("/nonexistent"), assembly, device_key, assembly_key, store, docs,
                Ingestor(store, docs))


def vote(title: str = "A decision", day: int = 1, tally: tuple[int, int, int] = (10, 2, 1),
         **extra: object) -> DecisionInput:
    return DecisionInput(title=title, text=f"text of {title}", date=dt.date(2026, 11, day),
                         tally=Tally(*tally), **extra)  # type: ignore[arg-type]


@dataclass
class Assembly:
    """An assembly founded on a node that holds its key, with further certified devices."""

    key: SigningKey
    home: Node  # holds the assembly key and the founding device
    recorder: Recorder
    devices: dict[str, Node] = field(default_factory=dict)

    @property
    def doc_id(self) -> str:
        return ledger_id(self.key.public)

    def envelopes(self, node: Node | None = None, after: int = 0) -> list[Envelope]:
        return [s.envelope for s in (node or self.home).store.envelopes(after)]

    def add_device(self, name: str, certify: bool = True) -> Node:
        """A further device holding everything the home node holds (certified if asked)."""
        device = memory_node(self.key.public, new_key())
        if certify:
            self.recorder.add_device(device.device_key.public, name)
        report = device.ingestor.ingest(self.envelopes())
        assert not report.rejected and not report.pending, report
        self.devices[name] = device
        return device


def found_assembly(name: str = "Barrio Norte") -> Assembly:
    key = new_key()
    home = memory_node(key.public, new_key(), key)
    recorder = Recorder(home)
    recorder.found(Profile("", name, "Plaza 3", 120))
    return Assembly(key, home, recorder)


@contextmanager
def founded(data: Path, name: str) -> Iterator[Recorder]:
    """A data directory holding the assembly key of an assembly `name`, founded; its node open
    for the time of the block (a daemon or a command may open it afterwards)."""
    assembly_key = new_key()
    create_data_dir(data, assembly_key.public, new_key(), assembly_key)
    node = open_node(data)
    try:
        recorder = Recorder(node)
        recorder.found(Profile(key_text(assembly_key.public), name, "", 200))
        yield recorder
    finally:
        node.close()


def fresh_store() -> tuple[Store, DocumentCache, Ingestor]:
    store = Store(":memory:")
    docs = DocumentCache(store)
    return store, docs, Ingestor(store, docs)


def deliver(node: Node, envelopes: Iterable[Envelope]) -> IngestReport:
    return node.ingestor.ingest(envelopes)


# ------------------------------------------------------------------ hand-made changes


class Author:
    """Writes changes by hand on a fork of a document, as one actor, signed by `key`.

    The actor is bound to `key` unless another actor is given (to break that rule)."""

    def __init__(self, doc: Document, doc_id: str, key: SigningKey, actor: bytes | None = None,
                 nonce: int = 1) -> None:
        self.doc = doc.fork()
        self.doc_id = doc_id
        self.key = key
        self.actor = actor or run_actor(key.public, nonce.to_bytes(8, "big"))
        self.doc.set_actor(self.actor)

    def change(self, edit: Callable[[Transaction], None]) -> bytes:
        """One change on this author's fork; returns its canonical chunk."""
        heads = self.doc.get_heads()
        with self.doc.transaction() as tx:
            edit(tx)
        changes = self.doc.get_changes(heads)
        assert len(changes) == 1
        return bytes(changes[0].raw_bytes)

    def sign(self, chunk: bytes, doc_id: str | None = None) -> Envelope:
        return sign_change(self.key, doc_id or self.doc_id, chunk)

    def decide(self, title: str = "Hand-made decision", record_id: str = "") -> Envelope:
        record_id = record_id or hashlib.sha256(title.encode()).hexdigest()[:16].translate(
            str.maketrans("0189", "wxyz"))
        decision = Decision(record_id, title, "text", dt.date(2026, 11, 2), Tally(3, 2, 1), None, "",
                            None, "decision", None)
        return self.sign(self.change(lambda tx: write_decision(tx, decision)))


def author_on(node: Node, key: SigningKey, nonce: int = 1, actor: bytes | None = None) -> Author:
    """An author forking the ledger as `node` holds it now."""
    return Author(node.docs.get(node.ledger_id), node.ledger_id, key, actor, nonce)


def rewrite_change(raw: bytes, *, deps: tuple[bytes, ...] | None = None,
                   actor: bytes | None = None, seq: int | None = None,
                   start_op: int | None = None) -> bytes:
    """A type-1 chunk with some header fields replaced and a correct checksum."""
    header = Reader(raw, pos=9)
    length = header.uleb()
    body = Reader(raw[header.pos:header.pos + length])
    old_deps = tuple(body.take(32) for _ in range(body.uleb()))
    old_actor = body.take(body.uleb())
    old_seq, old_start = body.uleb(), body.uleb()
    rest = body.data[body.pos:]
    deps = old_deps if deps is None else deps
    actor = old_actor if actor is None else actor
    new_body = (encode_uleb(len(deps)) + b"".join(deps) + encode_uleb(len(actor)) + actor
                + encode_uleb(old_seq if seq is None else seq)
                + encode_uleb(old_start if start_op is None else start_op) + rest)
    return rechecksum(new_body)


def rechecksum(body: bytes) -> bytes:
    """A type-1 change chunk around `body`, checksum fixed up (what a key holder can sign)."""
    digest = hashlib.sha256(b"\x01" + encode_uleb(len(body)) + body).digest()
    return MAGIC + digest[:4] + b"\x01" + encode_uleb(len(body)) + body


def edit_bytes(draw: st.DrawFn, body: bytearray, start: int, end: int, least: int = 1) -> None:
    """`least` to four edits of `body` between `start` and `end` (set, insert, delete or bump
    one byte), favouring the bytes where LEB128 and run lengths change meaning: what a key
    holder can sign or a damaged stick carry, once the checksum is fixed."""
    for _ in range(draw(st.integers(least, 4))):
        at = draw(st.integers(start, min(end, len(body))))
        what = draw(st.sampled_from(["set", "insert", "delete", "bump"]))
        byte = draw(st.sampled_from([0x00, 0x01, 0x3F, 0x40, 0x7F, 0x80, 0xFF]) | st.integers(0, 255))
        if what == "insert":
            body.insert(at, byte)
        elif at < len(body):
            if what == "set":
                body[at] = byte
            elif what == "delete":
                del body[at]
            else:
                body[at] = (body[at] + draw(st.sampled_from([-1, 1]))) % 256


def body_of(raw: bytes) -> bytes:
    header = Reader(raw, pos=9)
    length = header.uleb()
    return raw[header.pos:header.pos + length]


def columns_start(body: bytes) -> int:
    """Where the column metadata and op columns of a change body begin."""
    r = Reader(body)
    r.take(32 * r.uleb())
    r.take(r.uleb())
    r.uleb(), r.uleb(), r.sleb()
    r.take(r.uleb())
    for _ in range(r.uleb()):
        r.take(r.uleb())
    return r.pos


# ------------------------------------------------------------------ store state


@dataclass(frozen=True)
class StoreState:
    changes: int
    hashes: frozenset[bytes]
    pending: frozenset[bytes]


def store_state(store: Store) -> StoreState:
    hashes = frozenset(bytes(r[0]) for r in store.db.execute("SELECT hash FROM changes"))
    pending = frozenset(bytes(r[0]) for r in store.db.execute("SELECT hash FROM pending"))
    return StoreState(store.count_changes(), hashes, pending)


def index_rows(db: sqlite3.Connection) -> list[tuple[Any, ...]]:
    """Everything the index of ledger records holds (daemon/store/ledgerindex.py)."""
    return [*db.execute("SELECT * FROM ledger_entries ORDER BY ledger, collection, id"),
            *db.execute("SELECT * FROM ledger_entry_writers ORDER BY ledger, writer, id"),
            *db.execute("SELECT * FROM ledger_devices ORDER BY doc, key"),
            *db.execute("SELECT * FROM ledger_indexed ORDER BY doc")]


def lazily_indexed(envelopes: list[Envelope]) -> list[tuple[Any, ...]]:
    """The index rows of a store given these envelopes one at a time without the index's
    commit hook, then indexed from the stored changes alone (catch_up), not from the
    operations the write rules decoded at ingest."""
    store, _, ingestor = fresh_store()
    store.commit_hooks.clear()
    for envelope in envelopes:
        ingestor.ingest([envelope])
    index = LedgerIndex(store, DocumentCache(store))
    with store.transaction():
        index.catch_up()
    return index_rows(store.db)


def lifted_write_rules(vc: VerifiedChange, held: object) -> Written:
    """A stand-in for writerules.check_writes that judges nothing: the write rules lifted, for
    tests about what happens to a change that gets past every rule. It hands on the change's
    operations where they decode (none where they do not), as the index reads them otherwise."""
    try:
        rows = decode_rows(vc.change)
    except Rejected:
        rows = Rows(vc.change.start_op, vc.change.actor, [], [], [], [], [], [], [], [])
    return Written({}, rows)


def lift_write_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest judges with the write rules lifted (`lifted_write_rules`), through
    check_in_context's `rules`: federation/verify.py is compiled, and compiled code calls
    writerules.check_writes directly, so patching that name would change nothing."""
    monkeypatch.setattr(ingest, "check_in_context",
                        functools.partial(verify.check_in_context, rules=lifted_write_rules))
