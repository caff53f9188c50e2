"""The SQLite store: the source of truth for every verified change.

An append-only table of verified envelopes, the bounded pending set, evidence
of equivocation, document snapshots and peers. WAL mode with synchronous=FULL:
a write is acknowledged only after its transaction commits, and a process
killed with SIGKILL loses nothing it acknowledged. Batches that nobody is told
about until later (the slices of a push, what a pull brings) commit without
syncing (`unsynced`) and are synced once before anyone is (`sync`): a power
cut in between can only lose a suffix of them, never acknowledged. Automerge
documents are derived from this store (daemon/store/documents.py), never the
other way round.
"""

from __future__ import annotations

import os
import sqlite3
import time
import weakref
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, TypeVar

import msgpack
from pnyx.federation.bounded import make_room
from pnyx.federation.changepack import actor_and_seq
from pnyx.federation.chunk import ParsedChange
from pnyx.federation.envelope import Envelope, VerifiedChange, decode_envelope
from pnyx.federation.keys import KEY_BYTES
from pnyx.federation.ops import OpId
from pnyx.federation.verify import HeldChange

from .faults import StoreFault
from .pending import PendingSet
from .schema import create_schema, schema_transaction

T = TypeVar("T")
MAX_EVIDENCE_SENT = 1_000  # evidence envelopes offered per exchange or bundle
HASH_BYTES = 32
MAX_REMEMBERED = 10_000  # held changes remembered in memory; past it the older half is forgotten
MAX_IN_QUERY = 500  # hashes asked about in one query
# The WAL is copied into the database file (a checkpoint) once it holds this many pages (64 MiB
# of 4 kiB pages), and whenever the daemon is idle (`checkpoint`), not at SQLite's default of
# 1,000 pages: each checkpoint syncs the WAL and the file and copies the latest version of each
# page written since the last, in the committing transaction's time. At the default, about half
# of a batch's COMMIT time was the checkpoints' (measured, an ingest of 10,000 changes); with
# fewer of them a page written by many batches (an index's) is copied once, and copying waits
# for a quiet moment (or the close of the store's last connection, which SQLite checkpoints).
WAL_CHECKPOINT_PAGES = 16_384
WAL_KEPT_BYTES = 4 << 20  # a WAL file emptied by a checkpoint is cut back to this size

# A bytes or None parameter is bound as it is, but the sqlite3 module first looks for an adapter
# for it (unlike int and str): a miss in its registry, then __adapt__ and __conform__ looked
# up, about a third of the cost of inserting a change's row, which binds seven (measured).
# Found registered as itself, it is bound at once. Process-wide, as every adapter is.


def _as_is(value: T) -> T:
    return value


# bytes.__bytes__ (Python 3.11 on) returns the very object without a call of Python code
sqlite3.register_adapter(bytes, getattr(bytes, "__bytes__", _as_is))
# None by a method of an empty dict, which gives None for any key without a call of Python code:
# `_as_is` was called for each None bound, seven times a change ingested (cProfile).
_NOTHING: dict[None, None] = {}
sqlite3.register_adapter(type(None), _NOTHING.get)

# A change is found by its hash through an index of the hash's first 8 bytes (BY_HASH), not of
# the whole 32: hashes come in no order, so each batch's inserts land all over the index, and each
# commit wrote out nearly every page of it again. An index entry a third as long makes a third as
# many pages to write (measured, 50,000 changes: 147 MB of WAL against 102 MB, and the insert and
# commit of a change 15 us against 9 past 40,000 changes held). A prefix shared by two changes (of
# 2^64, found only by grinding one's own changes) costs one more row read, never a wrong answer:
# each query compares the whole hash too.
HASH_PREFIX = "substr(hash, 1, 8)"
BY_HASH = f"{HASH_PREFIX} = substr(?1, 1, 8) AND hash = ?1"  # the change whose hash is ?1
# A change's row names its document by number (`documents`), not by its id of some 60
# characters: the two indexes that begin with the document, (document, actor, seq) and
# (document, seqno), hold entries half and a tenth as long. Measured, inserting 50,000 changes
# of 10 ledgers 2,000 a commit: 862 bytes of WAL a change against 1,114, and 12% fewer
# instructions; pulling 50k changes 500 a commit (daemon/net/slices.py): 0.99 WAL frames a
# change against 1.22 (1.25 against 1.99 over the last 10k), and the store file 21% smaller.
# What needs the document reads the view `changes`, which gives it by its id; its joins
# are resolved through the index of ids or the numbers' primary key (EXPLAIN QUERY PLAN).
# The view gives the signer too: a stored change's actor is its signer's key and 8 bytes (rule
# E3, envelope.check_envelope), so the row does not keep it twice.
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS documents (
    number INTEGER PRIMARY KEY,
    doc TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS change_rows (
    seqno INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    document INTEGER NOT NULL,
    actor BLOB NOT NULL,
    seq INTEGER NOT NULL,
    start_op INTEGER NOT NULL,
    max_op INTEGER NOT NULL,
    deps BLOB NOT NULL,
    signature BLOB NOT NULL,
    change BLOB NOT NULL,
    vouch BLOB,
    UNIQUE (document, actor, seq)
);
CREATE INDEX IF NOT EXISTS change_rows_by_hash ON change_rows ({HASH_PREFIX});
CREATE INDEX IF NOT EXISTS change_rows_by_document ON change_rows (document, seqno);
CREATE VIEW IF NOT EXISTS changes AS
    SELECT c.seqno, c.hash, d.doc, c.actor, c.seq, c.start_op, c.max_op, c.deps,
           substr(c.actor, 1, {KEY_BYTES}) AS signer, c.signature, c.change, c.vouch
    FROM change_rows c JOIN documents d ON d.number = c.document;
CREATE TABLE IF NOT EXISTS pending (
    hash BLOB PRIMARY KEY,
    doc TEXT NOT NULL,
    envelope BLOB NOT NULL,
    awaiting_doc TEXT
);
CREATE INDEX IF NOT EXISTS pending_by_awaited ON pending (awaiting_doc);
CREATE TABLE IF NOT EXISTS pending_missing (
    hash BLOB NOT NULL,
    missing BLOB NOT NULL,
    PRIMARY KEY (hash, missing)
);
CREATE INDEX IF NOT EXISTS pending_missing_by_missing ON pending_missing (missing);
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY,
    doc TEXT NOT NULL,
    hash BLOB NOT NULL,
    signer BLOB NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    envelope BLOB NOT NULL,
    vouch BLOB,
    chain BLOB,
    UNIQUE (hash, reason)
);
CREATE TABLE IF NOT EXISTS heads (
    doc TEXT NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (doc, hash)
);
CREATE TABLE IF NOT EXISTS arrivals (
    seqno INTEGER PRIMARY KEY,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS vouchers (
    hash BLOB PRIMARY KEY,
    envelope BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    doc TEXT PRIMARY KEY,
    upto INTEGER NOT NULL,
    data BLOB NOT NULL
);
"""
INSERT_CHANGES = ("INSERT INTO change_rows (seqno, hash, document, actor, seq, start_op, max_op, deps,"
                  " signature, change, vouch) VALUES (?,?,?,?,?,?,?,?,?,?,?)")
OLD_SCHEMA = ("the store pnyx.sqlite was made by an older pnyx, which kept its changes in another "
              "form: move it aside and sync again from a peer (or import a bundle exported by the "
              "older pnyx)")


class _Remembered(dict[bytes, HeldChange]):
    """Held changes remembered by hash; a missing one is read by its store (None if not held),
    named weakly: a store left unclosed is still freed when its last reference goes."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = weakref.ref(store)

    def __missing__(self, change_hash: bytes) -> HeldChange | None:
        store = self.store()
        return None if store is None else store.read_held(change_hash)


class ChangeAt(NamedTuple):
    """A held change by its arrival number, with its hash and chunk."""

    seqno: int
    hash: bytes
    chunk: bytes


@dataclass(frozen=True)
class StoredChange:
    seqno: int
    envelope: Envelope


class Store:
    """One connection to the store file; not shared between threads.

    Held changes are remembered in memory as they are stored or looked up: the table is
    append-only, so what is held never changes, and the checks of a change mostly ask about
    the changes just before it. Inside a write transaction nobody else writes, so what is
    *not* held is remembered too, until it ends: the hashes a batch was found not to hold
    (`expect`) and each actor's highest seq in a document, which answer most questions
    about a new change without a query. The heads and arrivals of the changes stored are
    written once per batch (`settle`), before the transaction commits.

    The rows of the changes stored are written together too, with their arrival numbers
    given here as SQLite would give them (one past the greatest): inserted one at a time,
    between the checks and Automerge's work on each change, each insert found its index pages
    gone from the CPU's caches and cost twice as much (measured). They are held back until
    the connection is next used, for anything (`db`), or the batch settles: every read, here
    or by whoever holds the store, sees them."""

    def __init__(self, path: Path | str) -> None:
        self._held: dict[bytes, HeldChange] = _Remembered(self)
        # The change index's `lookup` (federation.verify.ChangeIndex), asked by the checks of
        # every change about each dependency: the remembered changes' own item lookup, which
        # reads the table (`read_held`) only for a change not remembered. No Python code runs
        # for one remembered, as a method's would (a call from compiled code: 1.9k instructions).
        self.lookup: Callable[[bytes], HeldChange | None] = self._held.__getitem__
        self._at: dict[tuple[str, bytes, int], bytes] = {}  # (doc, actor, seq) -> hash held
        self._numbers: dict[str, int] = {}  # doc -> its number in `documents`
        # hashes not held, in this write transaction (ingest asks it before `holds`, a call less)
        self.absent: set[bytes] = set()
        self._tops: dict[tuple[str, bytes], int] = {}  # (doc, actor) -> highest seq held, in it
        # (seqno, doc, hash, deps) of the changes stored in this write transaction, in order, and
        # how many of them are settled (their heads and arrival written)
        self._stored: list[tuple[int, str, bytes, tuple[bytes, ...]]] = []
        self._settled = 0
        self._rows: list[tuple[object, ...]] = []  # rows of changes stored, not yet written ...
        self._next_seqno = 0  # ... and the arrival number of the next (0: not known yet)
        self.serial = 0  # write transactions begun ...
        self.writing = 0  # ... and the number of the one open (0: none): no other process writes
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0)
        if self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'changes'"
                           ).fetchone() is not None:
            self._db.close()
            raise StoreFault(OLD_SCHEMA, 503)
        self._wal = f"{path}-wal"
        self._commits = 0  # transactions committed unsynced so far ...
        self._synced = 0  # ... and how many of them a finished sync of the WAL covers
        self._in_unsynced = False
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
        self.db.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
        self.db.execute("PRAGMA foreign_keys=ON")
        with schema_transaction(self.db):
            create_schema(self.db, SCHEMA)
            self.pending = PendingSet(self.db)
        # called when a transaction is rolled back: caches built on what it wrote forget it
        self.abort_hooks: list[Callable[[], None]] = []
        self.abort_hooks.append(self.pending.stale)
        # called inside a write transaction just before it commits: indexes kept in step with it
        self.commit_hooks: list[Callable[[], None]] = []

    @property
    def db(self) -> sqlite3.Connection:
        """The connection, once the rows of the changes stored are written (see the class)."""
        if self._rows:
            rows, self._rows = self._rows, []
            self._db.executemany(INSERT_CHANGES, rows)
        return self._db

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT: the write lock is taken up front, so reads inside
        the transaction see everything any other process committed before it."""
        if self.db.in_transaction:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        rows_before = self.db.total_changes
        self.serial += 1
        self.writing = self.serial
        # Inside the transaction nobody else writes: what it asks often is answered from memory.
        self.pending.empty = self.db.execute("SELECT 1 FROM pending LIMIT 1").fetchone() is None
        try:
            yield
            self.settle()
            for commit_hook in self.commit_hooks:
                commit_hook()
            wrote = self.db.total_changes != rows_before
            self.db.execute("COMMIT")
            if self._in_unsynced:
                self._commits += 1
            elif wrote:  # a synced commit that wrote a frame syncs the whole WAL
                self._synced = self._commits
        except BaseException:
            # A COMMIT that failed (a full disk) may leave the transaction open: reads on this
            # connection would see what was never stored, and the next write would join it.
            self._rows.clear()
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self.forget_remembered()
            for hook in self.abort_hooks:
                hook()
            raise
        finally:
            self.pending.empty = False
            self.writing = 0
            self._forget_unheld()

    @contextmanager
    def unsynced(self) -> Iterator[None]:
        """Transactions that commit in the block do not wait for the disk: in WAL mode they are
        as safe from a killed process as any (the OS holds what they wrote) and never corrupt
        the file, but a power cut may undo the last of them. For batches whose outcome is told
        to nobody before `sync` (measured: 200 pushed slices of 50 changes committed in 1.44 s
        synced, 0.47 s not). The block holds no `await`: another write of this process (the
        API's) must not commit unsynced in it."""
        assert not self.db.in_transaction, "the safety level is set between transactions"
        self.db.execute("PRAGMA synchronous=NORMAL")
        self._in_unsynced = True
        try:
            yield
        finally:
            self._in_unsynced = False
            self.db.execute("PRAGMA synchronous=FULL")

    @contextmanager
    def synced_at_end(self) -> Iterator[None]:
        """Transactions that commit in the block are synced once, as it ends (even by an
        exception): for work of several transactions whose outcome nobody is told before the
        block ends (an ingest of many batches: one sync in place of one per batch). Inside a
        transaction or an `unsynced` block, whoever opened it decides when to sync."""
        if self.db.in_transaction or self._in_unsynced:
            yield
            return
        try:
            with self.unsynced():
                yield
        finally:
            self.sync()

    def sync(self) -> None:
        """Make every transaction committed so far durable, as synchronous=FULL does at each
        commit: one fsync of the WAL (`sync_wal`). Nothing to do when the last commit was
        synced."""
        due = self.sync_due()
        if due is not None:
            self.sync_wal()
            self.synced(due)

    def sync_due(self) -> int | None:
        """What a sync begun now covers (for `synced`), or None if every commit is synced.
        With `sync_wal` on another thread and `synced` after it, a caller awaits its sync
        while this connection goes on committing (daemon/net/slices.py `made_durable`)."""
        return self._commits if self._synced < self._commits else None

    def sync_wal(self) -> None:
        """One fsync of the WAL, which holds every commit in order. It touches the file, never
        the connection, so it may run on another thread while this one commits: a commit made
        meanwhile is left to the next sync. SQLite keeps no lock on the WAL file itself (its
        locks are on the database and -shm files), so opening and closing it here releases none."""
        if os.path.exists(self._wal):
            fd = os.open(self._wal, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def checkpoint(self) -> None:
        """Copy the WAL into the database file now (an idle daemon does: see
        WAL_CHECKPOINT_PAGES), as far as no reader of another process still needs it; it
        never waits for one. The WAL is synced first, as at every checkpoint: what it holds
        was durable or is made so, never lost."""
        if not self.db.in_transaction:
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def synced(self, due: int) -> None:
        """A sync that `sync_due` gave `due` for has finished."""
        self._synced = max(self._synced, due)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a write transaction: everything written in the block is taken back if it
        raises (ingest tries a batch the fast way first, daemon/store/ingest.py)."""
        assert self.writing, "a savepoint is taken inside a write transaction"
        self.db.execute("SAVEPOINT batch")
        try:
            yield
        except BaseException:
            self._rows.clear()
            self._db.execute("ROLLBACK TO batch")
            self._db.execute("RELEASE batch")
            self.forget_remembered()
            self._forget_unheld()
            self.pending.stale()
            self.pending.empty = self.db.execute("SELECT 1 FROM pending LIMIT 1").fetchone() is None
            raise
        self.db.execute("RELEASE batch")

    def _forget_unheld(self) -> None:
        """What is known not held holds only inside one transaction (or up to a rollback)."""
        self.absent.clear()
        self._tops.clear()
        self._stored.clear()
        self._settled = 0
        self._next_seqno = 0

    # --- the change index (federation.verify.ChangeIndex) ----------------------------

    def read_held(self, change_hash: bytes) -> HeldChange | None:
        """`lookup` of a change not remembered: read from the table, remembered if held."""
        row = self.db.execute(
            f"SELECT doc, actor, seq, max_op, deps FROM changes WHERE {BY_HASH}", (change_hash,)
        ).fetchone()
        if row is None:
            return None
        held = HeldChange(row[0], bytes(row[1]), row[2], row[3], split_hashes(row[4]))
        self._remember(change_hash, held)
        return held

    def _remember(self, change_hash: bytes, held: HeldChange) -> None:
        if len(self._held) >= MAX_REMEMBERED:  # _at grows with it, never past it
            make_room(self._held, MAX_REMEMBERED)
            make_room(self._at, MAX_REMEMBERED)
        self._held[change_hash] = held
        self._at[(held.doc_id, held.actor, held.seq)] = change_hash

    def forget_remembered(self) -> None:
        """A rollback may have taken back changes remembered as stored; an idle daemon lets
        go of what it remembered (DocumentCache.tend). A document numbered by what it took
        back has no number."""
        self._held.clear()
        self._at.clear()
        self._numbers.clear()

    def hash_at(self, doc_id: str, actor: bytes, seq: int) -> bytes | None:
        """In a write transaction, asked first whether `seq` is past the actor's last change held:
        the common case, a new change, answered without a key of three made and looked up."""
        if self.writing:
            top = self._tops.get((doc_id, actor))
            if top is None:
                top = self._tops[(doc_id, actor)] = int(self.db.execute(
                    "SELECT coalesce(max(seq), 0) FROM changes WHERE doc = ? AND actor = ?",
                    (doc_id, actor)).fetchone()[0])
            if seq > top:
                return None
        found = self._at.get((doc_id, actor, seq))
        if found is not None:
            return found
        row = self.db.execute(
            "SELECT hash FROM changes WHERE doc = ? AND actor = ? AND seq = ?", (doc_id, actor, seq)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def change_with_op(self, doc_id: str, op: OpId) -> ChangeAt | None:
        """The held change of `doc_id` that made op `op`: an actor's op counters grow with its
        seq, so it is the actor's first change ending at or past it (read through the (doc,
        actor, seq) index)."""
        row = self.db.execute(
            "SELECT start_op, seqno, hash, change FROM changes WHERE doc = ? AND actor = ?"
            " AND max_op >= ? ORDER BY seq LIMIT 1", (doc_id, op.actor, op.counter)).fetchone()
        if row is None or row[0] > op.counter:
            return None
        return ChangeAt(int(row[1]), bytes(row[2]), bytes(row[3]))

    def chunk_with_op(self, doc_id: str, op: OpId) -> bytes | None:
        """The canonical chunk of `change_with_op` (asked once per object, then remembered)."""
        found = self.change_with_op(doc_id, op)
        return None if found is None else found.chunk

    def first_change(self, doc_id: str) -> bytes | None:
        """A held change of `doc_id` without dependencies (a ledger's genesis)."""
        row = self.db.execute("SELECT hash FROM changes WHERE doc = ? AND deps = x'' ORDER BY seqno"
                              " LIMIT 1", (doc_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def holds(self, change_hash: bytes) -> bool:
        if change_hash in self._held:
            return True
        if change_hash in self.absent:
            return False
        row = self.db.execute(f"SELECT 1 FROM change_rows WHERE {BY_HASH}", (change_hash,)).fetchone()
        return row is not None

    def expect(self, hashes: Collection[bytes]) -> None:
        """Find out in one query which of the hashes a write transaction is about to judge
        are not held, so that `holds` answers them from memory until it ends."""
        assert self.writing, "what is not held is known only inside a write transaction"
        todo = [h for h in hashes if h not in self._held]
        for i in range(0, len(todo), MAX_IN_QUERY):
            part = todo[i:i + MAX_IN_QUERY]
            held = {bytes(r[0]) for r in self.db.execute(
                f"SELECT hash FROM change_rows WHERE {HASH_PREFIX} IN ({','.join('?' * len(part))})",
                [h[:8] for h in part])}  # and any other change of the same prefix: not one of them
            self.absent.update(part if not held else [h for h in part if h not in held])

    # --- accepted changes -------------------------------------------------------------

    def insert_change(self, vc: VerifiedChange, doc_id: str, c: ParsedChange, change_hash: bytes,
                      deps: tuple[bytes, ...]) -> int:
        """Store one change, its row written with the others of the batch (see the class); its
        heads and arrival are written by `settle`, before commit. Returns its arrival number.
        Given what ingest already read of the change (its document, parsed change, hash and
        dependencies): each read of a compiled object's attribute costs about 40 ns, more than
        passing it on (ingest reads them once a change)."""
        assert self.writing, "changes are stored inside a write transaction"
        actor, seq, max_op = c.actor, c.seq, c.max_op
        seqno = self._next_seqno or self.last_seqno() + 1
        self._next_seqno = seqno + 1
        number = self._numbers.get(doc_id) or self._number(doc_id)
        self._rows.append((seqno, change_hash, number, actor, seq, c.start_op, max_op, b"".join(deps),
                           vc.envelope.signature, c.raw, vc.vouch))
        held = self._held  # _remember, inlined: a call less for every change stored
        if len(held) >= MAX_REMEMBERED:
            make_room(held, MAX_REMEMBERED)
            make_room(self._at, MAX_REMEMBERED)
        held[change_hash] = HeldChange(doc_id, actor, seq, max_op, deps)
        self._at[(doc_id, actor, seq)] = change_hash
        self.absent.discard(change_hash)
        tops, key = self._tops, (doc_id, actor)
        if seq > tops.get(key, seq):
            tops[key] = seq
        self._stored.append((seqno, doc_id, change_hash, deps))
        return seqno

    def _number(self, doc_id: str) -> int:
        """The number of `doc_id` in `documents`, given it with its first change stored."""
        self.db.execute("INSERT OR IGNORE INTO documents (doc) VALUES (?)", (doc_id,))
        number = self._numbers[doc_id] = int(self.db.execute(
            "SELECT number FROM documents WHERE doc = ?", (doc_id,)).fetchone()[0])
        return number

    def settle(self) -> None:
        """Write the heads and the arrival of the changes stored since the last call: a
        head is a change no other one depends on, so of a batch only its last changes
        become heads and only the heads it builds on stop being heads. One arrivals row
        marks the first change of the batch: all of it arrived then (`arrived_before`)."""
        rows = self._stored[self._settled:]
        if not rows:
            return
        self._settled = len(self._stored)
        stored = {(doc, h) for _, doc, h, _ in rows}
        built_on = {(doc, dep) for _, doc, _, deps in rows for dep in deps}
        self.db.executemany("DELETE FROM heads WHERE doc = ? AND hash = ?", built_on - stored)
        self.db.executemany("INSERT INTO heads (doc, hash) VALUES (?, ?)",
                            [(doc, h) for _, doc, h, _ in rows if (doc, h) not in built_on])
        self.db.execute("INSERT INTO arrivals (seqno, at) VALUES (?, ?)", (rows[0][0], time.time()))

    def stored_here(self, after: int, upto: int) -> list[tuple[int, str, bytes, tuple[bytes, ...]]] | None:
        """(seqno, doc, hash, deps) of every change stored after arrival number `after` up to
        `upto`, in order, if this write transaction stored each of them (None: it did not, read
        them from the table). The commit hooks of an index use it: reading the rows back cost
        about 0.5 us a change, of the 13 that indexing a ledger change does (measured)."""
        stored = self._stored
        if stored and stored[0][0] == after + 1 and stored[-1][0] == upto and len(stored) == upto - after:
            return stored
        return None

    def keep_voucher(self, envelope: Envelope, change_hash: bytes) -> None:
        """The signed change that vouched for changes kept here (changes.md, "Vouched
        changes"), kept whatever became of it: those changes are served and re-verified with it."""
        self.db.execute("INSERT OR IGNORE INTO vouchers (hash, envelope) VALUES (?, ?)",
                        (change_hash, envelope.encode()))

    def voucher(self, change_hash: bytes) -> Envelope | None:
        row = self.db.execute("SELECT envelope FROM vouchers WHERE hash = ?",
                              (change_hash,)).fetchone()
        return None if row is None else decode_envelope(bytes(row[0]))

    def arrived_before(self, at: float) -> int:
        """The last arrival number stored before `at` (`bundle export --since`): arrival
        numbers grow with time, so every change stored at or after `at` comes after it.
        An arrivals row gives the time of its change and of every change up to the next
        row (one row per batch; stores written before kept one per change). Changes stored
        before the arrivals table existed count as stored before any date."""
        row = self.db.execute("SELECT min(seqno) FROM arrivals WHERE at >= ?", (at,)).fetchone()
        return self.last_seqno() if row[0] is None else int(row[0]) - 1

    def changes_of(self, doc_id: str, after_seqno: int = 0) -> Iterator[tuple[int, bytes]]:
        """(seqno, canonical chunk) of a document's changes after `after_seqno`, in order."""
        for seqno, change in self.db.execute(
            "SELECT seqno, change FROM changes WHERE doc = ? AND seqno > ? ORDER BY seqno",
            (doc_id, after_seqno),
        ):
            yield seqno, bytes(change)

    def envelopes(self, after_seqno: int = 0) -> Iterator[StoredChange]:
        """Every stored envelope in arrival order; used to re-verify and to export."""
        for seqno, doc, change, signer, signature in self.db.execute(
            "SELECT seqno, doc, change, signer, signature FROM changes WHERE seqno > ?"
            " ORDER BY seqno", (after_seqno,)
        ):
            yield StoredChange(seqno, Envelope(doc, bytes(change), bytes(signer), bytes(signature)))

    def envelope(self, change_hash: bytes) -> Envelope | None:
        row = self.db.execute(f"SELECT doc, change, signer, signature FROM changes WHERE {BY_HASH}",
                              (change_hash,)).fetchone()
        return None if row is None else Envelope(row[0], bytes(row[1]), bytes(row[2]), bytes(row[3]))

    def actor_cut(self, doc_id: str, signer: bytes) -> dict[str, int]:
        """Each actor of `signer` in `doc_id` (hex) with the highest seq held. Its actors begin
        with its key (rule E3): they are found by the index of (doc, actor, seq), so a device's
        cut costs what its own changes do, not what the whole document's do."""
        return {bytes(actor).hex(): int(seq) for actor, seq in self.db.execute(
            "SELECT actor, max(seq) FROM changes WHERE doc = ? AND actor >= ? AND actor < ?"
            " GROUP BY actor", (doc_id, signer, after_prefix(signer)))}

    def known_signer(self, doc_id: str, signer: bytes) -> bool:
        """Whether a key already wrote to `doc_id` (the assembly key wrote a ledger's genesis).
        Being the assembly key of a ledger this store does not hold makes no one known:
        any throwaway key is the assembly key of its own ledger."""
        return self.db.execute("SELECT 1 FROM changes WHERE doc = ? AND actor >= ? AND actor < ?"
                               " LIMIT 1", (doc_id, signer, after_prefix(signer))).fetchone() is not None

    def heads(self) -> Iterator[tuple[str, bytes]]:
        """(doc, head hash) of every document, ordered by doc."""
        for doc, h in self.db.execute("SELECT doc, hash FROM heads ORDER BY doc"):
            yield doc, bytes(h)

    def vector(self, doc_id: str) -> dict[bytes, int]:
        """Each actor of `doc_id` with the highest seq held."""
        return {bytes(actor): int(seq) for actor, seq in self.db.execute(
            "SELECT actor, max(seq) FROM changes WHERE doc = ? GROUP BY actor", (doc_id,))}

    def vectors(self) -> Iterator[tuple[str, dict[bytes, int]]]:
        """Every document with its vector (actor -> highest seq held), ordered by doc."""
        doc_now: str | None = None
        vector: dict[bytes, int] = {}
        for doc, actor, seq in self.db.execute(
                "SELECT doc, actor, max(seq) FROM changes GROUP BY doc, actor ORDER BY doc, actor"):
            if doc != doc_now:
                if doc_now is not None:
                    yield doc_now, vector
                doc_now, vector = doc, {}
            vector[bytes(actor)] = int(seq)
        if doc_now is not None:
            yield doc_now, vector

    def documents(self) -> list[str]:
        """Every document held: each has at least one head, and the heads table is small."""
        return [row[0] for row in self.db.execute("SELECT DISTINCT doc FROM heads ORDER BY doc")]

    def count_documents(self) -> int:
        """How many documents are held: a document is numbered with its first change stored."""
        return int(self.db.execute("SELECT count(*) FROM documents").fetchone()[0])

    def count_changes(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM change_rows").fetchone()[0])

    def count_changes_of(self, doc_id: str, after_seqno: int) -> tuple[int, int]:
        """How many changes of `doc_id` came after arrival number `after_seqno`, and in all."""
        newer, total = self.db.execute(
            "SELECT count(*) FILTER (WHERE seqno > ?), count(*) FROM changes WHERE doc = ?",
            (after_seqno, doc_id)).fetchone()
        return int(newer), int(total)

    def last_seqno(self) -> int:
        return int(self.db.execute("SELECT coalesce(max(seqno), 0) FROM change_rows").fetchone()[0])

    def holds_document(self, doc_id: str) -> bool:
        row = self.db.execute("SELECT 1 FROM changes WHERE doc = ? LIMIT 1", (doc_id,)).fetchone()
        return row is not None

    def documents_since(self, after_seqno: int) -> list[str]:
        """The documents that gained changes after arrival number `after_seqno`."""
        return [row[0] for row in self.db.execute(
            "SELECT DISTINCT doc FROM changes WHERE seqno > ? ORDER BY doc", (after_seqno,))]

    # --- evidence ---------------------------------------------------------------------

    def add_evidence(self, envelope: Envelope, change_hash: bytes, reason: str, detail: str,
                     vouch: bytes | None = None, chain: Sequence[bytes] = ()) -> None:
        """One change kept as evidence; a refused change that came vouched (empty signature)
        with its voucher's hash (the voucher in the vouchers table) and the chunks between
        them, oldest first (federation/evidence.py)."""
        self.db.execute(
            "INSERT OR IGNORE INTO evidence (doc, hash, signer, reason, detail, envelope, vouch, chain)"
            " VALUES (?,?,?,?,?,?,?,?)",
            (envelope.doc_id, change_hash, envelope.signer, reason, detail, envelope.encode(), vouch,
             None if vouch is None else msgpack.packb(list(chain))),
        )

    def holds_evidence(self, change_hash: bytes, reason: str) -> bool:
        return self.db.execute("SELECT 1 FROM evidence WHERE hash = ? AND reason = ?",
                               (change_hash, reason)).fetchone() is not None

    def count_evidence(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM evidence").fetchone()[0])

    def evidence_hashes(self) -> dict[str, list[bytes]]:
        """Per document, the hashes of every change kept as evidence (part of its digest)."""
        out: dict[str, list[bytes]] = {}
        for doc, h in self.db.execute("SELECT DISTINCT doc, hash FROM evidence ORDER BY doc, hash"):
            out.setdefault(doc, []).append(bytes(h))
        return out

    def refused_evidence(self, docs: Collection[str] | None = None,
                         limit: int = MAX_EVIDENCE_SENT) -> list[list[Envelope]]:
        """Evidence that is not held as changes (the refused halves), of `docs` (all without),
        for peers and bundles, each as the envelopes that travel together: a signed one alone;
        one refused vouched (empty signature), then the chain between it and its voucher, then
        the voucher, so that its receiver finds the same voucher and chain in its pack group.
        Each receiver refuses them itself and so keeps the same evidence. At most `limit`
        envelopes, whole pieces only."""
        rows = self.db.execute(
            "SELECT DISTINCT e.doc, e.hash, e.envelope, e.chain, v.envelope FROM evidence e"
            " LEFT JOIN vouchers v ON v.hash = e.vouch WHERE NOT EXISTS (SELECT 1 FROM change_rows c"
            " WHERE substr(c.hash, 1, 8) = substr(e.hash, 1, 8) AND c.hash = e.hash)"
            " ORDER BY e.doc, e.hash")
        pieces: list[tuple[str, int, int, bytes, list[Envelope]]] = []
        for doc, change_hash, envelope, chain, voucher in rows:
            if docs is not None and doc not in docs:
                continue
            if chain is None:
                pieces.append((doc, 0, 0, bytes(change_hash), [decode_envelope(bytes(envelope))]))
            elif voucher is not None:
                head = decode_envelope(bytes(voucher))
                pieces.append((doc, 1, -actor_and_seq(head.change)[1], bytes(change_hash), [
                    decode_envelope(bytes(envelope), vouched=True),
                    *(Envelope(doc, c, actor_and_seq(c)[0][:KEY_BYTES], b"")
                      for c in msgpack.unpackb(bytes(chain))), head]))
        # Per document the signed ones first, then the vouched ones by their voucher's seq,
        # newest first: a later voucher of the same actor then never follows (and so never
        # vouches for) an earlier one, whose receiver must find it signed where it is.
        pieces.sort(key=lambda p: p[:4])
        out: list[list[Envelope]] = []
        count = 0
        for *_, piece in pieces:
            if count + len(piece) > limit:
                break
            out.append(piece)
            count += len(piece)
        return out

    def evidence(self) -> list[tuple[str, bytes, bytes, str, str]]:
        return [(r[0], bytes(r[1]), bytes(r[2]), r[3], r[4]) for r in self.db.execute(
            "SELECT doc, hash, signer, reason, detail FROM evidence ORDER BY id")]

    # --- snapshots --------------------------------------------------------------------

    def snapshot(self, doc_id: str) -> tuple[int, bytes] | None:
        row = self.db.execute("SELECT upto, data FROM snapshots WHERE doc = ?", (doc_id,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def snapshot_upto(self, doc_id: str) -> int:
        """The last arrival number the document's snapshot includes, 0 without one."""
        row = self.db.execute("SELECT upto FROM snapshots WHERE doc = ?", (doc_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def save_snapshot(self, doc_id: str, upto: int, data: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO snapshots (doc, upto, data) VALUES (?,?,?)",
                        (doc_id, upto, data))


def split_hashes(blob: bytes) -> tuple[bytes, ...]:
    return tuple(bytes(blob[i:i + HASH_BYTES]) for i in range(0, len(blob), HASH_BYTES))


def after_prefix(prefix: bytes) -> bytes:
    """The least blob greater than every blob that begins with `prefix` (all 0xff: none, so
    the greatest blob of a key's length and more)."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\xff" * (len(prefix) + 64)  # longer than any actor id (rule E3)
    return stripped[:-1] + bytes([stripped[-1] + 1])
