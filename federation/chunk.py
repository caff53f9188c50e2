"""Parse and check an Automerge change chunk before Automerge ever sees it.

Changes arrive from untrusted peers, and Automerge (1.0.0rc1, Rust 0.5.7) handles bad
chunks badly: some are dropped silently, some panic, some are accepted and leave a
document that no longer loads. So every chunk is parsed here first, in pure Python,
into the few fields the protocol checks (hash, deps, actor, seq, op range), and
anything that is not a well-formed change becomes `Rejected` with a stable reason.
The hash is always computed here, never taken from the sender.

Format (Rust `storage/chunk.rs`, `storage/change.rs`): magic `85 6f 4a 83`, 4-byte
checksum, type byte (1 change, 2 raw-deflated change), uLEB128 body length, body.
The hash is SHA-256 over `01 || uLEB(len) || body` of the *uncompressed* change, so a
type-2 chunk is checked against its inflated form and its checksum is the inflated
change's. Input is bounded: nothing here allocates much more than MAX_CHUNK_BYTES.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from typing import Final, NoReturn

from .columns import MAX_OPS, Reader, int_column, remember
from .errors import Reason, Rejected
from .frozen import Frozen

MAX_CHUNK_BYTES: Final = 1 << 18
MAGIC: Final = b"\x85\x6f\x4a\x83"
HASH_BYTES: Final = 32
CHANGE_CHUNK: Final = 1
DEFLATED_CHANGE_CHUNK: Final = 2
DEFLATE_BIT: Final = 0b1000
ACTION_COLUMN_ID: Final = 4
ACTION_COLUMN: Final = (ACTION_COLUMN_ID << 4) | 2  # column type 2: uLEB RLE integers
VALUE_COLUMN_ID: Final = 5
VALUE_META_COLUMN: Final = (VALUE_COLUMN_ID << 4) | 6  # column type 6: value metadata, uLEB RLE
INCREMENT_ACTION: Final = 5
# Value types (low 4 bits of a value metadata entry) Automerge 1.0.0rc1 panics on reading:
# 8 is a counter, 10 to 15 are reserved for future types.
UNREADABLE_VALUE_TYPES = frozenset({8, *range(10, 16)})
_UNREADABLE_BITS: Final[int] = sum(1 << t for t in UNREADABLE_VALUE_TYPES)  # bit t: type t is one
# Automerge keeps op counters in a u32 and refuses a change whose start_op exceeds it.
MAX_OP_COUNTER: Final = (1 << 32) - 1
TRUNCATED: Final = Reason.TRUNCATED  # read for every chunk: an Enum member by name costs ~1k instructions


class ParsedChange(Frozen):
    """A change chunk as parsed and checked here."""

    FIELDS = ("hash", "raw", "deps", "actor", "seq", "start_op", "num_ops")

    def __init__(self, hash: bytes, raw: bytes, deps: tuple[bytes, ...], actor: bytes, seq: int,
                 start_op: int, num_ops: int, other_actors: tuple[bytes, ...] = (),
                 specs: list[int] | None = None, columns: list[bytes] | None = None) -> None:
        self.hash: Final = hash  # SHA-256 of type 1 || uLEB(len) || uncompressed body, computed here
        self.raw: Final = raw  # canonical uncompressed chunk (type 1), as Automerge's Change.raw_bytes
        self.deps: Final = deps  # 32-byte hashes in chunk order
        self.actor: Final = actor
        self.seq: Final = seq
        self.start_op: Final = start_op
        self.num_ops: Final = num_ops  # rows of the op columns
        # For decoding the ops (federation/ops.py): the other actors, and the spec and bytes
        # of each column, in the chunk's order (two lists, not a dict: compiled, a dict of
        # them cost a tenth of the parse, measured). They follow from `raw`, so they take
        # no part in equality (not in FIELDS). Read only.
        self.other_actors: Final = other_actors
        self.specs: Final[list[int]] = [] if specs is None else specs
        self.columns: Final[list[bytes]] = [] if columns is None else columns

    @property
    def max_op(self) -> int:
        return self.start_op + self.num_ops - 1


def encode_uleb(n: int) -> bytes:
    """Minimal unsigned LEB128 encoding of `n` (the form Automerge writes and requires)."""
    if n < 0:
        raise ValueError("uLEB128 encodes non-negative integers only")
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def inflate(data: bytes, limit: int = MAX_CHUNK_BYTES) -> bytes:
    """Inflate a complete raw-deflate stream, refusing more than `limit` bytes of output."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise Rejected(Reason.MALFORMED_CHANGE, f"bad deflate data: {exc}") from None
    if len(out) > limit:
        raise Rejected(Reason.OVERSIZED, f"inflates to over {limit} bytes")
    if not inflater.eof or inflater.unused_data:
        raise Rejected(Reason.MALFORMED_CHANGE, "deflate stream incomplete or followed by junk")
    return out


def parse_change(data: bytes, digest: bytes | None = None) -> ParsedChange:
    """Parse and check one change chunk (type 1 or 2); raise only `Rejected`. `digest`: the
    SHA-256 of a type 1 chunk after its checksum, when this process computed it from exactly
    these bytes already (changepack.py rebuilds and hashes every chunk it unpacks), so that
    it is not computed twice; never a hash that came from a peer."""
    if len(data) > MAX_CHUNK_BYTES:
        raise Rejected(Reason.OVERSIZED, f"chunk of {len(data)} bytes")
    if data[:4] != MAGIC[:len(data[:4])]:
        raise Rejected(Reason.BAD_MAGIC, data[:4].hex())
    checksum = data[4:8]
    size = len(data)
    if size > 11 and data[8] == CHANGE_CHUNK and data[9] >= 0x80 and 0 < data[10] < 0x80 \
            and size - 11 == (data[9] & 0x7F | data[10] << 7):
        # the usual chunk, read here: a change whose body takes a minimal two-byte length
        # (128 bytes to 16 kB) and exactly the rest; any other is read by a Reader, which
        # says what is wrong with it (0.5k instructions a change, measured)
        kind, start = CHANGE_CHUNK, 11
    else:
        header = Reader(data, short=TRUNCATED)
        header.take(8)
        kind = header.take(1)[0]
        if kind not in (CHANGE_CHUNK, DEFLATED_CHANGE_CHUNK):
            raise Rejected(Reason.NOT_A_CHANGE, f"chunk type {kind}")
        length = header.uleb()
        if length > header.remaining():
            raise Rejected(Reason.TRUNCATED, f"body of {length} bytes, {header.remaining()} present")
        if length < header.remaining():
            raise Rejected(Reason.TRAILING_BYTES, f"{header.remaining() - length} bytes after the body")
        start = header.pos
    if kind == CHANGE_CHUNK:
        raw, body = data, data[start:]
    else:
        body = inflate(data[start:])
        raw = MAGIC + checksum + bytes([CHANGE_CHUNK]) + encode_uleb(len(body)) + body
        if len(raw) > MAX_CHUNK_BYTES:
            raise Rejected(Reason.OVERSIZED, f"inflated chunk of {len(raw)} bytes")
    if digest is None or kind != CHANGE_CHUNK:
        digest = hashlib.sha256(memoryview(raw)[8:]).digest()
    if digest[:4] != checksum:
        raise Rejected(Reason.BAD_CHECKSUM, f"checksum {checksum.hex()}, hash {digest.hex()}")
    return _parse_body(body, digest, raw)


def _parse_body(body: bytes, digest: bytes, raw: bytes) -> ParsedChange:
    r = Reader(body)
    deps = tuple([r.take(HASH_BYTES) for _ in range(r.count(HASH_BYTES, "deps"))])
    actor = r.take(r.uleb())
    seq = r.uleb()
    start_op = r.uleb()
    if seq == 0 or start_op == 0:
        r.fail("seq and start_op start at 1")
    r.sleb()  # time
    try:
        r.take(r.uleb()).decode("utf-8")
    except UnicodeDecodeError:
        r.fail("message is not UTF-8")
    others = tuple([r.take(r.uleb()) for _ in range(r.count(1, "other actors"))])
    # Column metadata, sorted strictly ascending by spec, never deflated. Value
    # and object columns share an id across two types, so uniqueness is per (id, type).
    previous = -1
    specs: list[int] = []
    lengths: list[int] = []  # beside specs: a tuple each would be built and freed per column
    end = len(body)
    data_len = 0
    for _ in range(r.count(2, "columns")):
        pos = r.pos  # one-byte LEB128s (almost all of them) read here, the others by `r`
        if pos + 1 < end and body[pos] < 0x80 and body[pos + 1] < 0x80:
            spec, col_len = body[pos], body[pos + 1]
            r.pos = pos + 2
        else:
            spec = r.uleb()
            col_len = r.uleb()
        if spec <= previous or spec & DEFLATE_BIT or spec > 0xFFFFFFFF \
                or (spec >> 4 == ACTION_COLUMN_ID and spec != ACTION_COLUMN):
            _refuse_spec(r, spec, previous)
        previous = spec
        specs.append(spec)
        lengths.append(col_len)
        data_len += col_len
    if data_len > r.remaining():
        r.fail(f"columns hold {data_len} bytes, {r.remaining()} left")
    columns: list[bytes] = []
    action = value_meta = None  # the two columns read here (each spec comes once at most)
    at = r.pos
    for i, spec in enumerate(specs):
        col_len = lengths[i]
        column = body[at:at + col_len]
        columns.append(column)
        if spec == ACTION_COLUMN:
            action = column
        elif spec == VALUE_META_COLUMN:
            value_meta = column
        at += col_len
    num_ops = 0 if action is None else _count_actions(action)
    if value_meta is not None:
        _refuse_unreadable_values(value_meta, num_ops)
    # The rest of the body is extra bytes, kept by Automerge and covered by the hash.
    if start_op + max(num_ops - 1, 0) > MAX_OP_COUNTER:
        r.fail(f"ops {start_op}..{start_op + num_ops - 1} exceed Automerge's u32 counters")
    return ParsedChange(digest, raw, deps, actor, seq, start_op, num_ops, others, specs, columns)


def _refuse_spec(r: Reader, spec: int, previous: int) -> NoReturn:
    """What is wrong with a column spec, checked in this order."""
    if spec & DEFLATE_BIT:
        r.fail("compressed columns are not allowed in a change (Automerge refuses them)")
    if spec > 0xFFFFFFFF or spec <= previous:
        r.fail(f"column spec {spec} out of order, duplicated or over 32 bits")
    r.fail(f"action column has spec {spec}")


def _rle_runs(column: bytes) -> Iterator[tuple[int, int | None]]:
    """(run length, value) of a uLEB RLE column; value None for a run of nulls."""
    r = Reader(column)
    end = len(column)
    while r.pos < end:
        run = r.sleb()
        if run > 0:
            yield run, r.uleb()
        elif run < 0:
            if -run > r.remaining():
                r.fail(f"literal run of {-run} cannot fit")
            for _ in range(-run):
                yield 1, r.uleb()
        else:
            yield r.uleb(), None


# Counters and unknown value types are refused: automerge 1.0.0rc1 panics (Rust todo!) on
# reading one and the panic poisons the document, so one signed change holding one would
# make the document unreadable for good.
UNREADABLE = "counters and unknown value types are not allowed (automerge 1.0.0rc1 panics on them)"


# Ops in action columns counted: changes of one kind repeat their action column byte for
# byte. Only columns that passed are kept, small ones, as many as columns.py keeps of each kind.
_ACTION_COUNTS: Final[dict[bytes, int]] = {}


def _count_actions(column: bytes) -> int:
    """Ops in the action column; a null action (Automerge fails on it) and an increment
    are refused."""
    known = _ACTION_COUNTS.get(column)
    if known is not None:
        return known
    rows = _counted(column)
    remember(_ACTION_COUNTS, column, rows)
    return rows


def _counted(column: bytes) -> int:
    r = Reader(column)
    rows = 0
    end = len(column)
    while r.pos < end:
        run = r.sleb()
        if run == 0:
            r.fail("null in the action column")
        values = 1 if run > 0 else -run
        actions = column[r.pos:r.pos + values]  # shorter if the column ends first
        if len(actions) == values and actions.isascii():  # the usual case: one-byte values
            r.pos += values
        else:
            actions = bytes(min(r.uleb(), 0xFF) for _ in range(values))  # stops at the end
        if INCREMENT_ACTION in actions:
            raise Rejected(Reason.MALFORMED_CHANGE, UNREADABLE)
        rows += run if run > 0 else values
        if rows > MAX_OP_COUNTER:
            raise Rejected(Reason.MALFORMED_CHANGE, f"over {MAX_OP_COUNTER} ops")
    return rows


def _refuse_unreadable_values(column: bytes, rows: int, stream: bool = False) -> None:
    """Through the decoder ops.py reads the column with (and so from its memo), for a change
    it can read; as a stream of runs for any other, or for all with `stream` (what the
    decoder's reading must agree with: tests/test_fast_paths.py)."""
    metas: list[int | None] | None = None
    if rows <= MAX_OPS and not stream:
        try:
            metas = int_column(column, rows)
        except Rejected:
            metas = None  # more rows than ops, or not decodable: ops.py refuses it later
    if metas is None:
        unreadable = any(meta is not None and meta & 0x0F in UNREADABLE_VALUE_TYPES
                         for _, meta in _rle_runs(column))
    else:
        unreadable = False
        for meta in metas:
            if meta is not None and _UNREADABLE_BITS >> (meta & 0x0F) & 1:
                unreadable = True
                break
    if unreadable:
        raise Rejected(Reason.MALFORMED_CHANGE, UNREADABLE)
