"""The records of each ledger held, indexed in SQLite as its changes are stored.

`pnyx show`, the API's listings, `pnyx view` and the page read a ledger's
records from here, a page of the newest at a time, without loading the ledger's
Automerge document: at 100k records that load alone takes seconds.

A record is written whole by the change that makes it and never changes after
(write rules W3, W6, W7), so the changes stored in a write transaction add the
records whose maps they make, in that same transaction, just before it commits
(a commit hook of the store, whatever path stored them): a process killed
mid-ingest leaves both or neither. `ledger_index_state` says up to which store
seqno the index has seen; a reader catches up what a process without the hook
stored. Two concurrent creations of one id keep the entry Automerge shows (the
winning op), as every reader of the document does. Decisions and mandates are
void when a revoked device wrote them outside its revocation's cut
(federation/ledger.py): the revocations in force are kept per ledger, and the
void marks revised when they change (a revocation arrives, or a change of a
revoked device inside its cut). A mandate carries the date of its issuing
decision, when that decision is held and stands, so mandates page by date too.
The economy's collections and the draws' steps are kept as plain entries, for
the view and the plan, which read them whole; the devices in a table of their own
(daemon/store/devicesindex.py), since a revocation is written into its device's entry.
`ledger_entry_writers` lists, for each mandate, the keys that may write its log (its
delegate's and co-delegates'): a delegate's device finds its mandates without reading
every mandate. Rows are kept under a ledger's number (`ledger_numbers`), not its 59-byte
id: shorter rows and index keys made the index's inserts a fifth cheaper (measured). A record's
value is kept as msgpack, and a batch's rows are inserted many to a statement (`_insert`). A
row is found by a hash of its record's id (`id_hash`), which keeps the index of ids half as
long as the ids would, and the index by date holds only the records readers show: the fewer
pages random keys spread a commit over, the less a commit costs as the store grows.

A ledger held before this index existed, or indexed in an older FORMAT, is
indexed from its document the first time it is read (`ensure`); the tables of
older formats are dropped when the store is opened.

What a change makes is read from its operations as the write rules decoded them,
which ingest hands over with it (federation/ops.made_under_keys): no change is
decoded twice. A change stored otherwise is decoded again from the store, into
the same rows. The records a change makes and their rows are computed by
federation/indexrows.py, pure and compiled; this module does the SQL and the caching.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from itertools import chain
from typing import TypeVar

import msgpack
from automerge.core import ROOT, Document, ObjType
from pnyx.federation.amvalues import Plain, entry_ids, object_op, read_entry, read_map
from pnyx.federation.chunk import ParsedChange, parse_change
from pnyx.federation.docids import parse_doc_id
from pnyx.federation.errors import Rejected
from pnyx.federation.indexrows import (
    COLLECTIONS,
    DECISIONS,
    DEVICES,
    INDEXED,
    MANDATES,
    NULLABLE,
    Record,
    Revocations,
    Row,
    id_hash,
    index_rows,
    is_shown,
    records_made,
    shaped,
    tally,
)
from pnyx.federation.keys import KEY_BYTES, parse_key
from pnyx.federation.ledger import revocation_cut, void_reason
from pnyx.federation.ops import Made, OpId, Rows, decode_rows, made_under_keys

from .devicesindex import DeviceIndex, made_in_map
from .documents import DocumentCache
from .schema import create_schema, schema_transaction
from .sqlite import BY_HASH, Store, after_prefix

FORMAT = "ledger-records/v4"  # bump when what a row holds changes: every ledger is re-indexed
# (v4 keeps a record's value as msgpack, v3 kept it as JSON)
# Tables of the formats before, dropped when a store is opened: their ledgers are indexed
# again (v2 kept each row under the ledger's id, v3 under its number: ledger_numbers)
OLDER_TABLES = ("ledger_records", "ledger_writers")
LEDGER_PREFIX = "ledger/"  # what a ledger's id begins with (federation/docids.py)
MAPPED = (*INDEXED, DEVICES)  # the genesis's maps whose entries are indexed (devices: devicesindex.py)
# Columns a caller may select records by (`referring`): each has an index.
REFERENCES = ("supersedes", "subject", "revote_of", "decision", "person")
# Each record's row is found by its id through `id_hash` (ID_HASH), never by an index of
# the ids themselves: ids are random, so each commit wrote index entries on pages all over
# such an index, and the more so the more records the store held (at 50k records, 0.27 WAL
# pages a change). An 8-byte hash makes an index entry half as long: half as many pages to
# write. A writer chooses its record ids but not their hashes, so no ledger can pile its rows
# under one hash; each query compares the id itself too. Two creations of one id (concurrent)
# are found by the hashes before rows are inserted (`_insert`).
ENTRIES_TABLE = """
CREATE TABLE IF NOT EXISTS ledger_entries (
    ledger INTEGER NOT NULL,
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    actor BLOB NOT NULL,
    counter INTEGER NOT NULL,
    entry BLOB,
    day TEXT NOT NULL,
    kind TEXT,
    subject TEXT,
    supersedes TEXT,
    revote_of TEXT,
    decision TEXT,
    person TEXT,
    council TEXT,
    void TEXT,
    id_hash INTEGER NOT NULL
)"""
SCHEMA = ENTRIES_TABLE + """;
CREATE TABLE IF NOT EXISTS ledger_numbers (
    ledger INTEGER PRIMARY KEY,
    doc TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS ledger_entries_by_id ON ledger_entries (ledger, id_hash);
CREATE INDEX IF NOT EXISTS ledger_entries_by_date ON ledger_entries (ledger, collection, day, id)
    WHERE entry IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_entries_by_kind ON ledger_entries (ledger, kind)
    WHERE kind <> 'decision';
CREATE INDEX IF NOT EXISTS ledger_entries_by_subject ON ledger_entries (ledger, subject)
    WHERE subject IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_entries_by_supersedes ON ledger_entries (ledger, supersedes)
    WHERE supersedes IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_entries_by_revote_of ON ledger_entries (ledger, revote_of)
    WHERE revote_of IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_entries_by_decision ON ledger_entries (ledger, decision)
    WHERE decision IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_entries_by_person ON ledger_entries (ledger, person)
    WHERE person IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_entries_void ON ledger_entries (ledger, collection, id)
    WHERE void IS NOT NULL;
CREATE INDEX IF NOT EXISTS ledger_entries_by_actor ON ledger_entries (ledger, actor);
CREATE TABLE IF NOT EXISTS ledger_entry_writers (
    ledger INTEGER NOT NULL,
    writer TEXT NOT NULL,
    id TEXT NOT NULL,
    PRIMARY KEY (ledger, writer, id)
);
CREATE TABLE IF NOT EXISTS ledger_index_state (
    upto INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_indexed (
    doc TEXT PRIMARY KEY,
    format TEXT NOT NULL,
    revoked TEXT NOT NULL,
    maps TEXT NOT NULL DEFAULT '{}',
    decisions INTEGER NOT NULL DEFAULT 0,
    mandates INTEGER NOT NULL DEFAULT 0
);
"""
COLUMNS = ("ledger", "collection", "id", "actor", "counter", "entry", "day", "kind", "subject", "supersedes",
           "revote_of", "decision", "person", "council", "void", "id_hash")
# a row's NULLs come as indexrows.NULL, not None (see there)
VALUES = f"({', '.join('nullif(?, 0)' if at in NULLABLE else '?' for at in range(len(COLUMNS)))})"
ROW = f"({', '.join(COLUMNS)}) VALUES {VALUES}"
# OR FAIL: a statement that may stop halfway (an insert of many rows, `_shaped_insert`, whose rows
# each may break a constraint) otherwise keeps a statement journal, a copy of every page it
# changes taken before it changes it, to take back its own rows alone: past 64 KiB spilled to a
# temporary file, some 4 kB written there for each row (the rows of a batch land on pages of the
# index of ids all over it). A row refused here fails its whole transaction (the store rolls it
# back), so the rows before it need no taking back of their own. Measured: an ingest of bench
# ingest's 10k changes from packs wrote 18,352 times to temporary files, 306 OR FAIL; replaying
# the writes of 50k changes in 10 ledgers, the rows' inserts cost 1.5-2 us a change less (of 7-9).
INSERT_ROW = f"INSERT OR FAIL INTO ledger_entries {ROW}"
CHUNK = 50  # rows inserted by one statement (_insert)
IN_PART = 500  # values one IN (...) list binds (`_parts`)
T = TypeVar("T")
INSERT_WRITERS = "INSERT OR IGNORE INTO ledger_entry_writers (ledger, writer, id) VALUES (?, ?, ?)"
STANDING = "entry IS NOT NULL AND void IS NULL"  # a record every reader shows
BY_ID = "ledger = ? AND id_hash = ? AND collection = ? AND id = ?"  # one record, by ID_HASH
# Named: with only `ledger = ?` to match, SQLite's planner took the index by actor as readily
# as the partial index of kinds, and read every record of the ledger (measured: 2.4 ms at 10k
# records against 0.05, and a ratification's view check 61 ms at 100k).
KINDS = ("SELECT id, entry FROM ledger_entries INDEXED BY ledger_entries_by_kind"
         f" WHERE ledger = ? AND kind <> 'decision' AND {STANDING}")
# The newest records of a collection: by the index of shown records by date, in its order.
NEWEST = (f"SELECT id, entry FROM ledger_entries WHERE ledger = ? AND collection = ? AND {STANDING}"
          " ORDER BY day DESC, id DESC LIMIT ?")
MAX_PARSED = 20_000  # parsed changes kept for the end of one transaction (ingest's batch at most)
SQL_INT_MAX = 2**63 - 1  # a larger page asks for every record, and SQLite binds no larger integer
REPORT_EVERY = 2_000  # records indexed between two reports of the one-time indexing
# Told how far the one-time indexing of a ledger from its document has come, as (ledger, records
# indexed, of how many): seconds at 100k records, which a command shows (daemon/cli/progress.py).
REBUILDING: ContextVar[Callable[[str, int, int], None] | None] = ContextVar("rebuilding", default=None)


class LedgerIndex:
    """The index of one store's ledgers, brought up to date with the changes stored in each
    write transaction just before it commits (a commit hook of the store), and before reads."""

    def __init__(self, store: Store, docs: DocumentCache) -> None:
        self.store = store
        self.docs = docs
        self._maps: dict[str, dict[OpId, str]] = {}  # ledger -> collection by the op making its map
        self._known: tuple[int, str, Revocations | None] | None = None  # (transaction, ledger, ...)
        # ledger changes ingest stored in this transaction, by hash: parsed, and what each makes
        self._handed: dict[bytes, tuple[ParsedChange, list[Made]]] = {}
        self._numbers: dict[str, int] = {}  # ledger -> its number in the index's tables
        # one Packer kept: msgpack.packb makes one a call, allocating (and freeing) its buffer
        self._packer = msgpack.Packer()
        with schema_transaction(store.db):
            _rebuilt_with_id_hashes(store.db)
            create_schema(store.db, SCHEMA)
            for table in OLDER_TABLES:  # their ledgers are indexed again, in FORMAT (`ensure`)
                store.db.execute(f"DROP TABLE IF EXISTS {table}")
        self.devices = DeviceIndex(store.db)
        # Changes held before the index existed are not caught up: their ledgers are indexed
        # whole from their documents when first read (`ensure`).
        if store.db.execute("SELECT 1 FROM ledger_index_state").fetchone() is None:  # no write else
            store.db.execute("INSERT INTO ledger_index_state (upto) SELECT coalesce(max(seqno), 0)"
                             " FROM changes WHERE NOT EXISTS (SELECT 1 FROM ledger_index_state)")
        # one index keeps a store's: the one whose hook runs takes what ingest hands it
        self._hooked = not any(isinstance(getattr(hook, "__self__", None), LedgerIndex)
                               for hook in store.commit_hooks)
        if self._hooked:
            store.commit_hooks.append(self.catch_up)
            store.abort_hooks.append(self._forget)  # what a rolled-back transaction wrote is gone
        else:
            store.abort_hooks.append(self._numbers.clear)

    def _forget(self) -> None:
        self._maps.clear()
        self._handed.clear()
        self._numbers.clear()
        self._known = None

    def _number(self, doc_id: str) -> int | None:
        """The number standing for a ledger in the index's tables (None: never indexed): a
        small integer keys its rows and their indexes, where the ledger's id, 59 bytes long,
        made every row and index entry longer and every comparison slower."""
        found = self._numbers.get(doc_id)
        if found is None:
            row = self.store.db.execute("SELECT ledger FROM ledger_numbers WHERE doc = ?",
                                        (doc_id,)).fetchone()
            if row is None:
                return None
            found = self._numbers[doc_id] = int(row[0])
        return found

    def _numbered(self, doc_id: str) -> int:
        """A ledger's number, given one now if it has none (inside a write transaction)."""
        found = self._number(doc_id)
        if found is None:
            found = self.store.db.execute("INSERT INTO ledger_numbers (doc) VALUES (?)",
                                          (doc_id,)).lastrowid
            assert found is not None
            self._numbers[doc_id] = found
        return found

    # --- kept up to date in each write transaction ----------------------------------------

    def catch_up(self) -> None:
        """Index the ledger changes stored since the index was last brought up to date (inside
        the write transaction that stored them): their records, and the void marks where they
        may change which records are void. The operations of a change ingest judged are read
        as the write rules decoded them (`stored`); any other change stored since (by a
        process without the index, or a hand-filled table) is read from the store."""
        db = self.store.db
        upto, last = self._upto(), self.store.last_seqno()
        if last <= upto:
            return
        handed, self._handed = self._handed, {}
        changes: dict[str, list[tuple[ParsedChange, list[Made]]]] = {}
        here = self.store.stored_here(upto, last)  # all stored in this transaction: no read back
        if here is None:
            since = db.execute("SELECT doc, hash FROM changes WHERE seqno > ? AND substr(doc, 1, 7) ="
                               " 'ledger/' ORDER BY seqno", (upto,)).fetchall()
        else:
            since = [(doc_id, h) for _, doc_id, h, _ in here if doc_id.startswith(LEDGER_PREFIX)]
        for doc_id, h in since:
            found = handed.get(h) or self._decoded(h)
            if found is not None:
                changes.setdefault(doc_id, []).append(found)
        for doc_id, stored in changes.items():
            self._index(doc_id, stored)
        db.execute("UPDATE ledger_index_state SET upto = ?", (last,))

    def _decoded(self, change_hash: bytes) -> tuple[ParsedChange, list[Made]] | None:
        """A change stored without being handed over (`stored`), parsed, with what it makes;
        None for one that does not parse, and nothing made by one whose ops do not decode: the
        store never holds either from ingest (a test filling the table by hand, or lifting
        the write rules, does)."""
        (raw,) = self.store.db.execute(f"SELECT change FROM changes WHERE {BY_HASH}",
                                       (change_hash,)).fetchone()
        try:
            change = parse_change(bytes(raw))
        except Rejected:
            return None
        try:
            return change, made_under_keys(decode_rows(change))
        except Rejected:
            return change, []

    def stored(self, change: ParsedChange, rows: Rows) -> None:
        """A ledger change ingest just stored, with its operations as the write rules decoded
        them: what it makes is read from those, sparing a second parse and decode."""
        if self._hooked and len(self._handed) < MAX_PARSED:
            self._handed[change.hash] = (change, made_under_keys(rows))

    def _upto(self) -> int:
        """The last store seqno whose change the index has seen."""
        return int(self.store.db.execute("SELECT upto FROM ledger_index_state").fetchone()[0])

    def _index(self, doc_id: str, changes: list[tuple[ParsedChange, list[Made]]]) -> None:
        """Index what these changes of one ledger, stored in order, wrote: read from the
        changes alone (the ledger's document is read only when a revocation may have moved)."""
        revoked = self._revocations(doc_id)
        if revoked is None:
            if all(change.deps for change, _ in changes):
                return  # indexed before this index existed, or in another format: see `ensure`
            self._begin(doc_id, {key: op for _, of_change in changes for parent, key, op, _ in of_change
                                 if parent is None and key in MAPPED})
            revoked = {}
        records, certified, revocations = records_made(changes, self._collections(doc_id), made_in_map)
        for key, op, value in certified:
            self.devices.certified(doc_id, key, op, value)
        if revocations or (revoked and any(
                change.actor[:KEY_BYTES].hex() in revoked for change, _ in changes)):
            doc = self.docs.get(doc_id)
            self.devices.revoked_in(doc_id, revocations, doc)
            now = self._revoked(doc_id, doc)
            if now != revoked:
                self._revise(doc_id, revoked, now)
                revoked = now
        ledger = self._numbered(doc_id)
        if not records:
            return
        counted = self._put(ledger, records, revoked)
        if counted[DECISIONS] or counted[MANDATES]:
            self.store.db.execute("UPDATE ledger_indexed SET decisions = decisions + ?,"
                                  " mandates = mandates + ? WHERE doc = ?",
                                  (counted[DECISIONS], counted[MANDATES], doc_id))

    def _begin(self, doc_id: str, maps: Mapping[str, OpId]) -> None:
        """Index a ledger from its first change: the op that made each collection's map (the
        genesis makes them all, once: W8), and no revocation yet."""
        self._known = None
        self._maps.pop(doc_id, None)
        self.store.db.execute(
            "INSERT OR REPLACE INTO ledger_indexed (doc, format, revoked, maps) VALUES (?, ?, '{}', ?)",
            (doc_id, FORMAT, json.dumps({c: [op.actor.hex(), op.counter] for c, op in sorted(maps.items())})))

    def _devices_of(self, doc_id: str, doc: Document) -> None:
        """Every device entry of a ledger, read from its document."""
        devices = read_map(doc, DEVICES)
        for key, obj in entry_ids(doc, DEVICES).items():
            made = object_op(obj)
            if made is not None:
                self.devices.certified(doc_id, key, OpId(made[1], made[0]), devices.get(key))

    def _revocations(self, doc_id: str) -> Revocations | None:
        """The revocations in force the index holds for a ledger; None if it is not indexed.
        Remembered for the rest of a write transaction: nobody else writes meanwhile."""
        known = self._known
        if known is not None and known[0] == self.store.writing != 0 and known[1] == doc_id:
            return known[2]
        row = self.store.db.execute("SELECT format, revoked FROM ledger_indexed WHERE doc = ?",
                                    (doc_id,)).fetchone()
        found = None if row is None or row[0] != FORMAT else {
            device: (reason, inside) for device, (reason, inside) in json.loads(row[1]).items()}
        self._known = (self.store.writing, doc_id, found)
        return found

    def _collections(self, doc_id: str) -> dict[OpId, str]:
        """The collection each map made by the ledger's genesis is, by the op that made it."""
        if doc_id not in self._maps:
            row = self.store.db.execute("SELECT maps FROM ledger_indexed WHERE doc = ?", (doc_id,)).fetchone()
            self._maps[doc_id] = {OpId(counter, bytes.fromhex(actor)): collection
                                  for collection, (actor, counter) in json.loads(row[0]).items()}
        return self._maps[doc_id]

    def _revoked(self, doc_id: str, doc: Document) -> Revocations:
        """The validly signed revocations of a ledger and where each cut ends in op counters,
        as federation/ledger.py reads them, with the changes inside each cut read from the
        store (an actor's op counters grow with its seq): only the devices whose entry holds
        a revocation are read, found in the table of devices."""
        assembly = parse_doc_id(doc_id).assembly
        assert assembly is not None
        out: Revocations = {}
        for key in self.devices.revoked(doc_id):
            raw = parse_key(key)
            cut = revocation_cut(assembly, raw, read_entry(doc, "devices", key))
            if cut is None:
                continue
            inside = {}
            for actor, seq in sorted(cut.items()):
                if bytes.fromhex(actor)[:KEY_BYTES] != raw:
                    continue  # another device's actor: no change of it is judged by this cut
                found = self.store.db.execute(
                    "SELECT max(max_op) FROM changes WHERE doc = ? AND actor = ? AND seq <= ?",
                    (doc_id, bytes.fromhex(actor), seq)).fetchone()[0]
                if found is not None:
                    inside[actor] = int(found)
            out[raw.hex()] = (void_reason(raw), inside)
        return out

    def _revise(self, doc_id: str, before: Revocations, now: Revocations) -> None:
        """Mark void, and no longer void, the records of the devices whose revocation changed."""
        db = self.store.db
        self._known = None
        db.execute("UPDATE ledger_indexed SET revoked = ? WHERE doc = ?",
                   (json.dumps(now, sort_keys=True), doc_id))
        changed = False  # whether any record's void mark may have moved
        ledger = self._numbered(doc_id)
        for device in sorted(set(before) | set(now)):
            if before.get(device) == now.get(device):
                continue
            low = bytes.fromhex(device)
            # the device's actors, those beginning with its key (rule E3), found by the index
            # of actors: what a revocation costs does not grow with the ledger
            actors = [bytes(a) for (a,) in db.execute(
                "SELECT DISTINCT actor FROM ledger_entries WHERE ledger = ? AND actor >= ? AND actor < ?"
                " AND substr(actor, 1, ?) = ?", (ledger, low, after_prefix(low), KEY_BYTES, low))]
            changed = changed or bool(actors)
            for actor in actors:
                if device in now:
                    reason, inside = now[device]
                    db.execute("UPDATE ledger_entries SET void = CASE WHEN counter > ? THEN ? END "
                               f"WHERE ledger = ? AND actor = ? AND collection IN {COLLECTIONS}",
                               (inside.get(actor.hex(), 0), reason, ledger, actor))
                else:
                    db.execute("UPDATE ledger_entries SET void = NULL WHERE ledger = ? AND actor = ?",
                               (ledger, actor))
        if changed:  # a device that wrote no record (a lost phone, unused) changes no count
            self._recount(doc_id)
            self._date_mandates(ledger, None)

    def _recount(self, doc_id: str) -> None:
        """Count again the records readers show (after their void marks changed)."""
        for collection in COLLECTIONS:
            self.store.db.execute(
                f"UPDATE ledger_indexed SET {collection} = (SELECT count(*) FROM ledger_entries"
                f" WHERE ledger = ? AND collection = ? AND {STANDING}) WHERE doc = ?",
                (self._numbered(doc_id), collection, doc_id))

    def _put(self, ledger: int, records: list[Record], revoked: Revocations) -> dict[str, int]:
        """The rows of records, and the dates of the mandates they issue or are; returns how
        many more records readers show, by collection (fewer where a shown one was replaced)."""
        rows = index_rows(ledger, records, revoked, self._packer.pack, id_hash)
        held = self._held(ledger, rows)
        fresh: list[tuple[Row, Sequence[str]]] = []
        twins: list[tuple[Row, Sequence[str]]] = []
        for item in rows:
            named = item[0][1:3]
            (twins if named in held else fresh).append(item)
            held.add(named)
        shown = dict.fromkeys(INDEXED, 0)
        self._insert(ledger, fresh, shown)
        for row, writers in twins:  # after the row each is a twin of, held or inserted above
            self._concurrent(row, writers, shown)
        if self._any_mandate(ledger):  # or none to date
            issuing = [row[2] for row, _ in rows if row[1] == DECISIONS]
            issued = [decision for row, _ in rows
                      if row[1] == MANDATES and isinstance(decision := row[11], str)]
            self._date_mandates(ledger, issuing + issued)
        return shown

    def _any_mandate(self, ledger: int) -> bool:
        """Whether a ledger holds any mandate naming its decision (those inserted just now too):
        one search of the index of decisions, where a ledger of decisions alone (the bench's)
        spent 5,000 instructions a change finding that none of its decisions issues any
        (callgrind, packs ingest: 572,188 -> 567,173)."""
        return self.store.db.execute(
            "SELECT 1 FROM ledger_entries INDEXED BY ledger_entries_by_decision"
            " WHERE ledger = ? AND decision IS NOT NULL LIMIT 1", (ledger,)).fetchone() is not None

    def _held(self, ledger: int, rows: list[tuple[Row, Sequence[str]]]) -> set[tuple[str, str]]:
        """Which of these rows' records (collection, id) the index holds already: made again
        concurrently. Found by their ids' hashes, 500 a statement: no unique index of the ids
        is kept to refuse them (ENTRIES_TABLE)."""
        out: set[tuple[str, str]] = set()
        for part, marks in _parts([row[15] for row, _ in rows]):
            out.update(self.store.db.execute(
                "SELECT collection, id FROM ledger_entries INDEXED BY ledger_entries_by_id WHERE ledger = ?"
                f" AND id_hash IN ({marks})", (ledger, *part)))
        return out

    def _insert(self, ledger: int, rows: list[tuple[Row, Sequence[str]]], shown: dict[str, int]) -> None:
        """New records' rows inserted CHUNK a statement, grouped by their shape (indexrows.Shape):
        one statement a row cost as much as all the rest of the indexing, one statement opening
        each index once for CHUNK rows a third less (measured)."""
        db = self.store.db
        for (collection, nulls, actor, kind), bound in shaped(rows).items():
            whole = len(bound) - len(bound) % CHUNK
            if whole:
                many = _shaped_insert(collection, nulls, CHUNK)
                for at in range(0, whole, CHUNK):
                    db.execute(many, (ledger, actor, kind, *chain.from_iterable(bound[at:at + CHUNK])))
            if whole < len(bound):
                one = _shaped_insert(collection, nulls, 1)
                db.executemany(one, [(ledger, actor, kind, *row) for row in bound[whole:]])
        writers = tally(rows, shown)
        if writers:
            db.executemany(INSERT_WRITERS, writers)

    def _concurrent(self, row: Row, writers: Sequence[str], shown: dict[str, int]) -> None:
        """A record whose id the index holds already, made concurrently: the greater op wins,
        as Automerge shows it."""
        db = self.store.db
        ledger, collection, key, actor, counter = row[:5]
        held, held_counter, held_actor, standing = db.execute(
            f"SELECT rowid, counter, actor, {STANDING} FROM ledger_entries WHERE {BY_ID}",
            (ledger, row[15], collection, key)).fetchone()
        if (held_counter, bytes(held_actor)) >= (counter, actor):
            return
        db.execute("DELETE FROM ledger_entries WHERE rowid = ?", (held,))
        db.execute(INSERT_ROW, row)
        db.execute("DELETE FROM ledger_entry_writers WHERE ledger = ? AND id = ?", (ledger, key))
        db.executemany(INSERT_WRITERS, [(ledger, writer, key) for writer in writers])
        shown[collection] += is_shown(row) - int(standing)

    def _date_mandates(self, ledger: int, decisions: Iterable[str] | None) -> None:
        """Give the mandates issued by `decisions` (every mandate when None) the date of their
        issuing decision where it stands ('' where none does). The decisions that issue any
        are found by one statement, the ids as a JSON array: one a record cost a tenth of the
        index."""
        db = self.store.db
        issuing = ("SELECT DISTINCT decision FROM ledger_entries WHERE ledger = ? AND"
                   " collection = 'mandates' AND")
        found = [decision for (decision,) in (
            db.execute(issuing + " decision IS NOT NULL", (ledger,)) if decisions is None else
            db.execute(issuing + " decision IN (SELECT value FROM json_each(?))",  # a search each
                       (ledger, json.dumps(sorted(set(decisions))))))]
        if found:
            days = dict(self._standing(ledger, DECISIONS, found, "id, day"))
            db.executemany("UPDATE ledger_entries SET day = ? WHERE ledger = ? AND decision = ?"
                           " AND collection = 'mandates'", [(days.get(d, ""), ledger, d) for d in found])

    # --- built from the document, for ledgers held before -----------------------------------

    def ensure(self, doc_id: str) -> None:
        """Index a ledger held here from its document if it is not indexed yet (a store made
        before this index, or an older FORMAT): once, the first time it is read."""
        if self._revocations(doc_id) is not None:
            return
        with self.store.transaction():
            if self._revocations(doc_id) is not None:
                return  # another process indexed it meanwhile
            self.rebuild(doc_id)

    def rebuild(self, doc_id: str) -> None:
        """Index a ledger afresh from its whole document (inside a transaction)."""
        db = self.store.db
        ledger = self._numbered(doc_id)
        # rows deleted in the order they were written, by actor: by their ids' hashes, each
        # delete touched pages all over the table and its indexes (twice as slow, measured)
        db.execute("DELETE FROM ledger_entries INDEXED BY ledger_entries_by_actor WHERE ledger = ?",
                   (ledger,))
        db.execute("DELETE FROM ledger_entry_writers WHERE ledger = ?", (ledger,))
        self.devices.forget(doc_id)
        doc = self.docs.get(doc_id)
        maps = {}
        for collection in MAPPED:
            item = doc.get(ROOT, collection)
            made = None if item is None or item[0] != ObjType.Map else object_op(bytes(item[1]))
            if made is not None:
                maps[collection] = OpId(made[1], made[0])
        self._begin(doc_id, maps)
        self._devices_of(doc_id, doc)
        revoked = self._revoked(doc_id, doc)
        db.execute("UPDATE ledger_indexed SET revoked = ? WHERE doc = ?",
                   (json.dumps(revoked, sort_keys=True), doc_id))
        self._known = None
        report = REBUILDING.get() or (lambda *_: None)
        entries = {collection: entry_ids(doc, collection) for collection in INDEXED}
        total, done = sum(map(len, entries.values())), 0
        report(doc_id, 0, total)
        for collection in INDEXED:
            raws = read_map(doc, collection)
            records: list[Record] = []
            for key, obj in entries[collection].items():
                made = object_op(obj)
                if made is not None:
                    records.append((collection, key, made[0], made[1], raws.get(key)))
                done += 1
                if done % REPORT_EVERY == 0 and done < total:
                    self._put(ledger, records, revoked)
                    records = []
                    report(doc_id, done, total)
            self._put(ledger, records, revoked)
        self._recount(doc_id)
        report(doc_id, total, total)

    # --- reads --------------------------------------------------------------------------

    @contextmanager
    def reading(self, doc_id: str) -> Iterator[None]:
        """Reads of one ledger from one state of the store: indexed first if it is not yet,
        then inside one read transaction, so a daemon storing changes meanwhile is seen
        by all of them or none."""
        self.ensure(doc_id)
        db = self.store.db
        if self.store.last_seqno() > self._upto():
            with self.store.transaction():
                self.catch_up()  # stored by a process that does not keep the index
        if db.in_transaction:
            yield
            return
        db.execute("BEGIN")
        try:
            yield
        finally:
            db.execute("COMMIT")

    def count(self, doc_id: str, collection: str) -> int:
        """How many records of a collection every reader shows (well-formed, not void)."""
        assert collection in COLLECTIONS
        row = self.store.db.execute(f"SELECT {collection} FROM ledger_indexed WHERE doc = ?",
                                    (doc_id,)).fetchone()
        return 0 if row is None else int(row[0])

    def _known_number(self, doc_id: str) -> int:
        """A ledger's number for a read; 0, which SQLite never gives a row, if it has none."""
        return self._number(doc_id) or 0

    def newest(self, doc_id: str, collection: str, limit: int) -> dict[str, Plain]:
        """The `limit` last records of a collection by (date, id): a decision's own date, a
        mandate's issuing decision's."""
        return _entries(self.store.db.execute(
            NEWEST, (self._known_number(doc_id), collection, min(limit, SQL_INT_MAX))))

    def records(self, doc_id: str, collection: str) -> dict[str, Plain]:
        """Every record of a collection that readers show."""
        return _entries(self.store.db.execute(
            f"SELECT id, entry FROM ledger_entries WHERE ledger = ? AND collection = ? AND {STANDING}",
            (self._known_number(doc_id), collection)))

    def ids(self, doc_id: str, collection: str) -> list[str]:
        """The ids of every record of a collection that readers show."""
        return [key for (key,) in self.store.db.execute(
            f"SELECT id FROM ledger_entries WHERE ledger = ? AND collection = ? AND {STANDING}"
            " ORDER BY id", (self._known_number(doc_id), collection))]

    def referring(self, doc_id: str, collection: str, column: str,
                  values: Iterable[str]) -> dict[str, Plain]:
        """The records of a collection whose `column` (one of REFERENCES) is one of `values`."""
        assert column in REFERENCES
        ledger = self._known_number(doc_id)
        out: dict[str, Plain] = {}
        for part, marks in _parts(sorted(set(values))):
            out.update(_entries(self.store.db.execute(
                f"SELECT id, entry FROM ledger_entries WHERE ledger = ? AND {column} IN "
                f"({marks}) AND collection = ? AND {STANDING}", (ledger, *part, collection))))
        return out

    def by_id(self, doc_id: str, collection: str, ids: Iterable[str]) -> dict[str, Plain]:
        return _entries(self._standing(self._known_number(doc_id), collection, ids, "id, entry"))

    def _standing(self, ledger: int, collection: str, ids: Iterable[str],
                  columns: str) -> Iterator[tuple[str, bytes]]:
        """`columns` of the records of a collection readers show with these ids, found by their
        hashes, 500 a statement."""
        for part, marks in _parts(sorted(set(ids))):
            yield from self.store.db.execute(  # named: for many ids the planner chose to read them all
                f"SELECT {columns} FROM ledger_entries INDEXED BY ledger_entries_by_id"
                f" WHERE ledger = ? AND id_hash IN ({marks})"
                f" AND collection = ? AND id IN ({marks}) AND {STANDING}",
                (ledger, *map(id_hash, part), collection, *part))

    def made_by(self, doc_id: str, collection: str, key: str) -> OpId | None:
        """The op that made a record readers show (of two concurrent creations, the one read)."""
        row = self.store.db.execute(f"SELECT actor, counter FROM ledger_entries WHERE {BY_ID} AND {STANDING}",
                                    (self._known_number(doc_id), id_hash(key), collection, key)).fetchone()
        return None if row is None else OpId(int(row[1]), bytes(row[0]))

    def bylaws(self, doc_id: str) -> dict[str, Plain]:
        """Every decision of kind `bylaws`: they alone make the bylaws through time."""
        return self.of_kind(doc_id, "bylaws")

    def of_kind(self, doc_id: str, kind: str) -> dict[str, Plain]:
        """Every decision of one kind other than a plain `decision` (bylaws, proposals...)."""
        assert kind != "decision"
        return _entries(self.store.db.execute(
            "SELECT id, entry FROM ledger_entries WHERE ledger = ? AND kind <> 'decision'"
            f" AND kind = ? AND {STANDING}", (self._known_number(doc_id), kind)))

    def written_by(self, doc_id: str, writer: str) -> dict[str, Plain]:
        """Every mandate whose log the key `writer` (text) may write: its delegate's or a
        co-delegate's (Mandate.writers)."""
        ledger = self._known_number(doc_id)
        ids = [key for (key,) in self.store.db.execute(
            "SELECT id FROM ledger_entry_writers WHERE ledger = ? AND writer = ?", (ledger, writer))]
        return _entries(self._standing(ledger, MANDATES, ids, "id, entry"))

    def revoked(self, doc_id: str) -> set[bytes]:
        """The devices whose revocation is in force in a ledger: whatever they write next is void."""
        return {bytes.fromhex(device) for device in self._revocations(doc_id) or {}}

    def kinds(self, doc_id: str) -> dict[str, Plain]:
        """Every decision of a kind other than a plain `decision`: what the view reads."""
        return _entries(self.store.db.execute(KINDS, (self._known_number(doc_id),)))

    def void(self, doc_id: str) -> dict[str, str]:
        """Every void record's id and why, as Ledger.void says (a mandate's reason last)."""
        return dict(self.store.db.execute(
            "SELECT id, void FROM ledger_entries WHERE ledger = ? AND void IS NOT NULL"
            " ORDER BY collection, id", (self._known_number(doc_id),)))


@functools.lru_cache(maxsize=256)
def _shaped_insert(collection: str, nulls: int, rows: int) -> str:
    """The insert of `rows` rows of one shape (indexrows.Shape): the ledger, the actor and the
    kind bound once (?1, ?2, ?3: unused where kind is NULL), the collection and the NULLs
    written in, the rest of each row bound as indexrows.shaped gives it."""
    quoted = collection.replace("'", "''")
    width = 5 + len(NULLABLE) - 1 - bin(nulls >> 1).count("1")  # values bound a row
    kind = "NULL" if nulls & 1 else "?3"
    out = []
    for at in range(rows):
        marks = iter(f"?{4 + at * width + n}" for n in range(width))
        first = [next(marks) for _ in range(4)]  # id, counter, entry, day
        nullable = ", ".join("NULL" if nulls >> n & 1 else next(marks) for n in range(1, len(NULLABLE)))
        out.append(f"(?1, '{quoted}', {first[0]}, ?2, {', '.join(first[1:])}, {kind}, {nullable},"
                   f" {next(marks)})")
    return f"INSERT OR FAIL INTO ledger_entries ({', '.join(COLUMNS)}) VALUES " + ", ".join(out)


def _parts(values: list[T]) -> Iterator[tuple[list[T], str]]:
    """`values` IN_PART at a time, each with the marks of an IN list binding them: one
    statement for many, within what SQLite binds to one."""
    for at in range(0, len(values), IN_PART):
        part = values[at:at + IN_PART]
        yield part, ",".join("?" * len(part))


def _rebuilt_with_id_hashes(db: sqlite3.Connection) -> None:
    """The table of records of a store made before `id_hash`, whose rows were keyed by their
    ids (and indexed by day, every record), copied into the table as it is now with each
    row's hash: SQLite drops a primary key only with its table. Once, inside the transaction
    that opens the store; the indexes are made after it."""
    row = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ledger_entries'"
                     ).fetchone()
    if row is None or "id_hash" in row[0]:
        return
    db.create_function("id_hash", 1, id_hash, deterministic=True)
    db.execute(ENTRIES_TABLE.replace("IF NOT EXISTS ledger_entries", "ledger_entries_rebuilt"))
    db.execute(f"INSERT INTO ledger_entries_rebuilt ({', '.join(COLUMNS)})"
               f" SELECT {', '.join(COLUMNS[:-1])}, id_hash(id) FROM ledger_entries")
    db.execute("DROP TABLE ledger_entries")  # and its indexes, made again by SCHEMA
    db.execute("ALTER TABLE ledger_entries_rebuilt RENAME TO ledger_entries")


def _entries(rows: Iterable[tuple[str, bytes]]) -> dict[str, Plain]:
    return {key: msgpack.unpackb(entry) for key, entry in rows}

