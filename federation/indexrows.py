"""What the index of a ledger's records (daemon/store/ledgerindex.py) stores for its changes:
the records each change makes, read from what it makes (ops.made_under_keys), and each
record's row, with why it is void and who may write its log.

Pure, and compiled by mypyc (compiled/__init__.py): the index runs it for every ledger
change stored; compiled, an ingest of the bench's changes runs 5,500 instructions a change
fewer than with this code run as Python inside the index (callgrind: 506k against 512k). The
index passes the data in, and does the SQL and the caching itself.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from hashlib import blake2b
from typing import Final, cast

from .amvalues import Plain
from .chunk import ParsedChange
from .draws import SORTITION
from .keys import KEY_BYTES
from .ledger import ECONOMY_COLLECTIONS, decision_of, mandate_of
from .ops import Made, OpId
from .rotation import person

DECISIONS: Final = "decisions"
MANDATES: Final = "mandates"
COLLECTIONS: Final = (DECISIONS, MANDATES)  # records that may be void, counted, dated
# Also kept, as plain entries: the economy's collections and the draws' steps, which the
# view and the plan read whole (their readers leave no record of them out as void).
INDEXED: Final = (*COLLECTIONS, *ECONOMY_COLLECTIONS, SORTITION)
DEVICES: Final = "devices"  # the map of device certificates (indexed by daemon/store/devicesindex.py)
REVOKED: Final = "revoked"  # the field of a device entry that revokes it
# What a row holds for SQL NULL in its columns kind ... void (NULLABLE): the index's insert of
# one row (a concurrent twin's) binds it as nullif(?, 0), its inserts of many write NULL there
# (`shaped`). A bytes or None parameter costs the sqlite3 module a look-up in its registry of
# adapters (a tuple built and hashed: 1,100 instructions), an int none, and a decision's row
# binds seven NULLs (callgrind, the bench's packs ingest: 578,240 -> 572,188 instructions a
# change). A str never equals the integer 0 in SQL (another storage class): no value is taken
# for NULL.
NULL: Final = 0
NULLABLE: Final = range(7, 15)  # the columns that hold NULL as NULL
# A row of ledger_entries, in the order of its columns (ledgerindex.COLUMNS).
Row = tuple[int, str, str, bytes, int, bytes | None, str, str | int, str | int, str | int,
            str | int, str | int, str | int, str | int, str | int, int]
# Rows inserted many to a statement are grouped by their collection, which of their NULLABLE
# columns are NULL (a bit each, from kind's up), their actor and kind: the statement writes the
# first two, binds the ledger, actor and kind once, and the rest a row (`shaped`), where a row binding
# all 16 columns, 11 of a plain decision's the same for every row of its actor, cost their
# binding 5,700 instructions more (callgrind, packs ingest: 567,173 -> 561,444 instructions a
# change), 2,100 more with the actor bound for each row (561,444 -> 559,374), 450 more with the
# kind (a shape's, "" where NULL) bound for each row (559,374 -> 558,926).
Shape = tuple[str, int, bytes, str]
Bound = list[object]
# A record as a change makes it: (collection, id, and the op making it: actor, counter; value)
Record = tuple[str, str, bytes, int, Plain]
# A device entry a change writes: (its key, the op making it, its value)
Certified = tuple[str, OpId, Plain]
# A row of ledger_entry_writers: (ledger, writer's key, mandate's id)
WriterRow = tuple[int, str, str]
# device key (hex) -> (why its records are void, actor (hex) -> max_op of its last change
# inside the cut): the revocations in force in one ledger
Revocations = dict[str, tuple[str, dict[str, int]]]
SIGNED_8: Final = struct.Struct(">q").unpack  # id_hash: a fifth faster than int.from_bytes (measured)


def records_made(changes: list[tuple[ParsedChange, list[Made]]], maps: dict[OpId, str],
                 genesis_devices: Callable[[ParsedChange, list[Made]], list[Certified]],
                 ) -> tuple[list[Record], list[Certified], list[OpId]]:
    """What changes of one ledger make, in one pass: the records made in the maps `maps`
    names (the collection of each by the op that made it); the device entries written
    (those the genesis writes inside the `devices` map it makes are `genesis_devices`'s);
    and the device entries a revocation was written into."""
    records: list[Record] = []
    certified: list[Certified] = []
    revocations: list[OpId] = []
    for change, of_change in changes:
        for parent, key, op, value in of_change:
            if parent is None:
                if key == DEVICES:
                    certified += genesis_devices(change, of_change)
                continue
            collection = maps.get(parent)
            if collection == DEVICES:
                certified.append((key, op, value))
            elif collection is not None:
                records.append((collection, key, op[1], op[0], value))
            if key == REVOKED:
                revocations.append(parent)
    return records, certified, revocations


def index_rows(ledger: int, records: list[Record], revoked: Revocations, pack: Callable[[Plain], bytes],
               hashed: Callable[[str], int]) -> list[tuple[Row, Sequence[str]]]:
    """The row of each record (`pack` encodes its value, `hashed` its id: `id_hash`, which a
    test replaces), and the keys that may write its log (a mandate's)."""
    return [_row(ledger, collection, key, actor, counter, raw, revoked, pack, hashed)
            for collection, key, actor, counter, raw in records]


def shaped(rows: Sequence[tuple[tuple[object, ...], object]]) -> dict[Shape, list[Bound]]:
    """The rows grouped by their Shape, each as the index's insert of its shape binds it: its
    id, counter, entry and day, the NULLABLE columns after kind that hold a value, its id_hash.
    (Each row typed a plain tuple: as a Row, mypyc unpacked its 16 fields into a struct, and
    read it by index boxing them again, at 8,000 instructions a row.)"""
    out: dict[Shape, list[Bound]] = {}
    for row, _ in rows:
        nulls = 0
        values: Bound = [row[2], row[4], row[5], row[6]]
        kind = row[7]
        if not isinstance(kind, str):
            kind = ""
            nulls = 1
        bit = 2
        for at in range(8, 15):  # NULLABLE but kind
            value = row[at]
            if isinstance(value, str):
                values.append(value)
            else:
                nulls |= bit
            bit <<= 1
        values.append(row[15])
        shape = (str(row[1]), nulls, cast(bytes, row[3]), kind)
        found = out.get(shape)
        if found is None:
            found = out[shape] = []
        found.append(values)
    return out


def id_hash(key: str) -> int:
    """A record id's first 8 bytes of BLAKE2b, as a signed integer SQLite keeps in 8 bytes: what
    the index of ids holds (ledgerindex.ENTRIES_TABLE)."""
    return int(SIGNED_8(blake2b(key.encode(), digest_size=8).digest())[0])


def _row(ledger: int, collection: str, key: str, actor: bytes, counter: int, raw: Plain,
         revoked: Revocations, pack: Callable[[Plain], bytes],
         hashed: Callable[[str], int]) -> tuple[Row, Sequence[str]]:
    """One record's row: its fields as readers select by them, and why it is void; and the
    keys that may write its log (a mandate's)."""
    kind: str | int = NULL
    subject: str | int = NULL
    supersedes: str | int = NULL
    revote_of: str | int = NULL
    decision: str | int = NULL
    person_key: str | int = NULL
    council: str | int = NULL
    void: str | int = NULL
    writers: Sequence[str] = ()
    day = ""
    entry = _encoded(raw, pack)
    if collection == DECISIONS:
        found = decision_of(key, raw) if entry is not None else None
        if found is None:
            entry = None
        else:
            day = raw["date"]  # as decision_of read it: YYYY-MM-DD exactly, its isoformat()
            kind = found.kind
            if found.subject is not None:
                subject = found.subject
            if found.supersedes is not None:
                supersedes = found.supersedes
            if found.revote_of is not None:
                revote_of = found.revote_of
    elif collection == MANDATES:
        mandate = mandate_of(key, raw) if entry is not None else None
        if mandate is None:
            entry = None
        else:
            decision, council = mandate.decision, mandate.council
            person_key = person(mandate.delegate_key, mandate.delegate)
            writers = mandate.writers()
    if revoked and collection in COLLECTIONS:
        reason, inside = revoked.get(actor[:KEY_BYTES].hex(), (None, {}))
        if reason is not None and counter > inside.get(actor.hex(), 0):
            void = reason
    return (ledger, collection, key, actor, counter, entry, day, kind, subject, supersedes,
            revote_of, decision, person_key, council, void, hashed(key)), writers


def _encoded(raw: Plain, pack: Callable[[Plain], bytes]) -> bytes | None:
    """A record's plain value as msgpack, as sync messages are written: packed in a fifth
    of the time json.dumps took, read in half of json.loads's (measured); None for one it
    cannot hold, which no change the write rules accept makes (W5)."""
    try:
        packed = pack(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return packed


def is_shown(row: Row) -> int:
    """1 for the row of a record readers show (well-formed, not void), 0 otherwise."""
    return int(row[5] is not None and row[14] == NULL)


def tally(rows: list[tuple[Row, Sequence[str]]], counts: dict[str, int]) -> list[WriterRow]:
    """Rows just inserted: counted into `counts` (the records readers show, by collection);
    the rows listing who may write the log of each mandate among them."""
    writers: list[WriterRow] = []
    for row, of_row in rows:
        counts[row[1]] += is_shown(row)
        for writer in of_row:
            writers.append((row[0], writer, row[2]))
    return writers
