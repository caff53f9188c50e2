"""federation/chunk.py against real Automerge changes, crafted bad chunks and fuzzing."""

from __future__ import annotations

import datetime
import functools
import hashlib
import tracemalloc
import zlib
from collections.abc import Sequence

import automerge.core as am
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pnyx.federation.chunk import (
    ACTION_COLUMN,
    MAGIC,
    MAX_CHUNK_BYTES,
    ParsedChange,
    Reader,
    encode_uleb,
    parse_change,
)
from pnyx.federation.errors import Reason, Rejected

from .examples import examples
from .funnel import Funnel
from .ledgerkit import edit_bytes

ALICE = bytes(range(1, 41))  # 40 bytes, like the daemon's signer key + run nonce
BOB = b"\xb0" * 16
CAROL = b"\xc0"  # a one-byte actor id is legal too


# ---------------------------------------------------------------- helpers


def encode_sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def change_hash(body: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + encode_uleb(len(body)) + body).digest()


def make_chunk(body: bytes, kind: int = 1) -> bytes:
    """A chunk around `body` with a correct checksum; kind 2 deflates the body."""
    payload = deflate(body) if kind == 2 else body
    return MAGIC + change_hash(body)[:4] + bytes([kind]) + encode_uleb(len(payload)) + payload


def body_of(raw: bytes) -> bytes:
    reader = Reader(raw, pos=9)
    length = reader.uleb()
    assert reader.remaining() == length
    return raw[reader.pos:]


def make_body(
    *,
    deps: Sequence[bytes] = (),
    actor: bytes = BOB,
    seq: int = 1,
    start_op: int = 1,
    time: int = 0,
    message: bytes = b"",
    others: Sequence[bytes] = (),
    columns: Sequence[tuple[int, bytes]] = ((66, b"\x7f\x01"),),
    extra: bytes = b"",
) -> bytes:
    """A change body; the default holds one op (a literal run of one action 1)."""
    out = encode_uleb(len(deps)) + b"".join(deps)
    out += encode_uleb(len(actor)) + actor + encode_uleb(seq) + encode_uleb(start_op)
    out += encode_sleb(time) + encode_uleb(len(message)) + message
    out += encode_uleb(len(others)) + b"".join(encode_uleb(len(a)) + a for a in others)
    out += encode_uleb(len(columns))
    out += b"".join(encode_uleb(spec) + encode_uleb(len(data)) for spec, data in columns)
    return out + b"".join(data for _, data in columns) + extra


def rejected(data: bytes) -> Reason:
    with pytest.raises(Rejected) as info:
        parse_change(data)
    return info.value.reason


def assert_same(parsed: ParsedChange, change: am.Change) -> None:
    assert parsed.hash == change.hash
    assert parsed.raw == change.raw_bytes
    assert parsed.deps == tuple(change.deps)
    assert parsed.actor == change.actor_id
    assert parsed.seq == change.seq
    assert parsed.start_op == change.start_op
    assert parsed.num_ops == len(change)
    assert parsed.max_op == change.max_op


# ---------------------------------------------------------------- real changes


@functools.cache
def automerge_changes() -> tuple[am.Change, ...]:
    """Changes of three actors: every scalar type, maps, lists, text, marks, deletes,
    concurrent edits merged (several deps, other actors) and big deflated changes."""
    alice = am.Document(ALICE)
    with alice.transaction() as tx:
        tx.put(am.ROOT, "title", am.ScalarType.Str, "assemblée")
        tx.put(am.ROOT, "n", am.ScalarType.Int, -5)
        tx.put(am.ROOT, "u", am.ScalarType.Uint, 1 << 40)
        tx.put(am.ROOT, "f", am.ScalarType.F64, 0.5)
        tx.put(am.ROOT, "b", am.ScalarType.Boolean, True)
        tx.put(am.ROOT, "z", am.ScalarType.Null, None)
        tx.put(am.ROOT, "raw", am.ScalarType.Bytes, b"\x00\xff")
        tx.put(am.ROOT, "at", am.ScalarType.Timestamp, datetime.datetime(2024, 5, 1))
        members = tx.put_object(am.ROOT, "members", am.ObjType.Map)
        tx.put(members, "alice", am.ScalarType.Str, "chair")
        items = tx.put_object(am.ROOT, "items", am.ObjType.List)
        text = tx.put_object(am.ROOT, "minutes", am.ObjType.Text)
    with alice.transaction() as tx:
        for i, ch in enumerate("opening"):
            tx.insert(text, i, am.ScalarType.Str, ch)
        for i in range(3):
            tx.insert(items, i, am.ScalarType.Int, i)
        nested = tx.insert_object(items, 3, am.ObjType.Map)
        tx.put(nested, "k", am.ScalarType.Str, "v")
    bob = alice.fork()
    bob.set_actor(BOB)
    carol = alice.fork()
    carol.set_actor(CAROL)
    with alice.transaction() as tx:
        tx.delete(text, 0)
        tx.put(members, "alice", am.ScalarType.Str, "secretary")
    with bob.transaction() as tx:
        tx.delete(items, 1)
        tx.insert(text, 7, am.ScalarType.Str, "!")
        tx.put(members, "bob", am.ScalarType.Str, "member")
    with carol.transaction() as tx:
        tx.mark(text, 0, 4, "bold", am.ScalarType.Boolean, True, am.ExpandMark.Both)
        tx.delete(am.ROOT, "z")
    alice.merge(bob)
    alice.merge(carol)
    with alice.transaction() as tx:  # three concurrent heads: three deps
        tx.put(am.ROOT, "merged", am.ScalarType.Boolean, True)
    with bob.transaction() as tx:  # big: raw chunk over 256 bytes, so `bytes` is deflated
        for i in range(60):
            tx.put(am.ROOT, f"motion-{i}", am.ScalarType.Str, f"text of motion {i}")
    with bob.transaction() as tx:
        for _ in range(3):
            tx.delete(items, 0)
        for i, ch in enumerate("x" * 400):
            tx.insert(text, i, am.ScalarType.Str, ch)
    alice.merge(bob)
    with alice.transaction() as tx:
        tx.delete(members, "bob")
    return tuple(alice.get_changes([]))


def test_the_parser_reads_every_interesting_case_of_the_corpus() -> None:
    """What parse_change reads from the corpus covers several deps, three actors, other
    actors and deflated chunks (the cases test_fields_equal_automerge compares)."""
    changes = automerge_changes()
    parsed = [parse_change(c.bytes) for c in changes]
    assert len(parsed) == 9
    assert max(len(p.deps) for p in parsed) == 3
    assert {p.actor for p in parsed} == {ALICE, BOB, CAROL}
    assert any(c.other_actor_ids for c in changes)
    deflated = [(c, p) for c, p in zip(changes, parsed, strict=True) if c.bytes[8] == 2]
    assert len(deflated) >= 2
    for change, p in deflated:  # read from the deflated form, kept as the raw one
        assert p.raw == change.raw_bytes != change.bytes and p.raw[8] == 1 and len(p.raw) > 256
    assert all(p.raw == c.bytes for c, p in zip(changes, parsed, strict=True) if c.bytes[8] == 1)


@pytest.mark.parametrize("form", ["raw_bytes", "bytes"])
def test_fields_equal_automerge(form: str) -> None:
    for change in automerge_changes():
        assert_same(parse_change(getattr(change, form)), change)


def test_deflated_checksum_is_over_the_inflated_change() -> None:
    change = next(c for c in automerge_changes() if c.bytes[8] == 2)
    assert change.bytes[4:8] == change.raw_bytes[4:8] == change.hash[:4]
    compressed = body_of(change.bytes)
    assert zlib.decompress(compressed, -15) == body_of(change.raw_bytes)
    # Checksumming the compressed form instead (a plausible mistake) must not pass.
    wrong = hashlib.sha256(b"\x02" + encode_uleb(len(compressed)) + compressed).digest()[:4]
    forged = MAGIC + wrong + change.bytes[8:]
    assert rejected(forged) is Reason.BAD_CHECKSUM


@st.composite
def edit_scripts(draw: st.DrawFn) -> list[tuple[int, str, int, str]]:
    """(actor index, operation, position, text) steps; 'commit' ends a transaction."""
    ops = st.sampled_from(["put", "del-key", "ins", "del-text", "commit", "merge"])
    step = st.tuples(st.integers(0, 1), ops, st.integers(0, 50), st.text(max_size=3))
    return draw(st.lists(step, min_size=1, max_size=60))


@settings(max_examples=60, deadline=None)
@given(edit_scripts())
def test_random_edit_histories_equal_automerge(script: list[tuple[int, str, int, str]]) -> None:
    docs = [am.Document(ALICE), am.Document(BOB)]
    with docs[0].transaction() as tx:
        text = tx.put_object(am.ROOT, "t", am.ObjType.Text)
    docs[1].merge(docs[0])
    for who, op, pos, value in script:
        doc = docs[who]
        if op == "merge":
            doc.merge(docs[1 - who])
            continue
        with doc.transaction() as tx:
            length = tx.length(text)
            keys = tx.keys(am.ROOT)
            if op == "put":
                tx.put(am.ROOT, f"k{pos % 7}", am.ScalarType.Str, value)
            elif op == "del-key" and keys:
                tx.delete(am.ROOT, keys[pos % len(keys)])
            elif op == "ins":
                for i, ch in enumerate(value or "a"):
                    tx.insert(text, min(pos, length) + i, am.ScalarType.Str, ch)
            elif op == "del-text" and length:
                tx.delete(text, pos % length)
    docs[0].merge(docs[1])
    for change in docs[0].get_changes([]):
        assert_same(parse_change(change.raw_bytes), change)
        assert_same(parse_change(change.bytes), change)


# ---------------------------------------------------------------- crafted chunks


def test_handmade_change_and_op_counting() -> None:
    dep = b"\x11" * 32
    body = make_body(deps=[dep, b"\x22" * 32], actor=ALICE, seq=3, start_op=10, time=-7,
                     message="motion adoptée ✓".encode(), others=[BOB, CAROL], extra=b"future")
    for kind in (1, 2):
        parsed = parse_change(make_chunk(body, kind))
        assert parsed == ParsedChange(change_hash(body), make_chunk(body), (dep, b"\x22" * 32),
                                      ALICE, 3, 10, 1)
        assert parsed.max_op == 10
    runs = {
        b"": 0,
        encode_sleb(5) + encode_uleb(1): 5,  # one value repeated
        encode_sleb(-3) + bytes([1, 2, 3]): 3,  # literal values
        encode_sleb(300) + encode_uleb(7) + encode_sleb(-2) + encode_uleb(200) + b"\x01": 302,
    }
    for column, ops in runs.items():
        parsed = parse_change(make_chunk(make_body(start_op=4, columns=[(66, column)])))
        assert (parsed.num_ops, parsed.max_op) == (ops, 3 + ops)
        compressed = make_chunk(make_body(start_op=4, columns=[(66 | 8, deflate(column))]))
        assert rejected(compressed) is Reason.MALFORMED_CHANGE
    other_columns = [(1, b"\x7f\x00"), (2, b"\x7f\x00"), (66, b"\x7f\x01"), (86, b"")]
    assert parse_change(make_chunk(make_body(columns=other_columns))).num_ops == 1
    no_ops = parse_change(make_chunk(make_body(start_op=9, columns=[])))
    assert (no_ops.num_ops, no_ops.max_op) == (0, 8)
    top = parse_change(make_chunk(make_body(start_op=(1 << 32) - 1)))
    assert top.max_op == (1 << 32) - 1


def test_bad_magic_and_chunk_type() -> None:
    raw = automerge_changes()[0].raw_bytes
    for i in range(4):
        assert rejected(raw[:i] + bytes([raw[i] ^ 0x40]) + raw[i + 1:]) is Reason.BAD_MAGIC
    assert rejected(b"\x00") is Reason.BAD_MAGIC
    assert rejected(b"{}") is Reason.BAD_MAGIC
    document = am.Document(ALICE)
    with document.transaction() as tx:
        tx.put(am.ROOT, "a", am.ScalarType.Int, 1)
    saved = document.save()
    assert saved[:4] == MAGIC and saved[8] == 0
    assert rejected(saved) is Reason.NOT_A_CHANGE
    for kind in (0, 3, 0x42, 0xFF):
        assert rejected(raw[:8] + bytes([kind]) + raw[9:]) is Reason.NOT_A_CHANGE


def test_every_prefix_is_truncated() -> None:
    assert rejected(b"") is Reason.TRUNCATED
    for change in automerge_changes()[:4] + automerge_changes()[-3:]:
        for chunk in (change.raw_bytes, change.bytes):
            for end in range(len(chunk)):
                assert rejected(chunk[:end]) is Reason.TRUNCATED, end


def test_trailing_bytes() -> None:
    for change in automerge_changes():
        for chunk in (change.raw_bytes, change.bytes):
            assert rejected(chunk + b"\x00") is Reason.TRAILING_BYTES
            assert rejected(chunk + chunk) is Reason.TRAILING_BYTES


def test_any_flipped_bit_after_the_magic_fails_the_checksum() -> None:
    for change in automerge_changes():
        raw = change.raw_bytes
        header_end = len(raw) - len(body_of(raw))
        for i in [*range(4, 8), *range(header_end, len(raw))]:
            for bit in (0x01, 0x80):
                flipped = raw[:i] + bytes([raw[i] ^ bit]) + raw[i + 1:]
                assert rejected(flipped) is Reason.BAD_CHECKSUM, (i, bit)


def test_flipped_byte_in_deflated_chunk() -> None:
    for change in (c for c in automerge_changes() if c.bytes[8] == 2):
        chunk = change.bytes
        header_end = len(chunk) - len(body_of(chunk))
        for i in [*range(4, 8), *range(header_end, len(chunk), 7)]:
            flipped = chunk[:i] + bytes([chunk[i] ^ 0x10]) + chunk[i + 1:]
            assert rejected(flipped) in (Reason.BAD_CHECKSUM, Reason.MALFORMED_CHANGE)


def test_oversized_input_and_deflate_bombs() -> None:
    assert rejected(MAGIC + bytes(MAX_CHUNK_BYTES)) is Reason.OVERSIZED
    bomb = bytes(8 * MAX_CHUNK_BYTES)  # deflates to about 8 KiB
    chunk = MAGIC + b"\0\0\0\0\x02" + encode_uleb(len(deflate(bomb))) + deflate(bomb)
    assert len(chunk) < 16_000
    assert rejected(chunk) is Reason.OVERSIZED
    # Just too big once the canonical header is added; just small enough is checked further.
    top = MAX_CHUNK_BYTES - 8 - 1 - len(encode_uleb(MAX_CHUNK_BYTES))
    assert rejected(make_chunk(bytes(top + 1), kind=2)) is Reason.OVERSIZED
    assert rejected(make_chunk(bytes(top), kind=2)) is Reason.MALFORMED_CHANGE


def test_deflate_bomb_is_never_inflated_in_full() -> None:
    bomb = deflate(bytes(64 * MAX_CHUNK_BYTES))
    for chunk in (MAGIC + b"\0\0\0\0\x02" + encode_uleb(len(bomb)) + bomb,):
        tracemalloc.start()
        try:
            assert rejected(chunk) is Reason.OVERSIZED
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 4 * MAX_CHUNK_BYTES


def test_bad_deflate_streams() -> None:
    body = make_body()
    stream = deflate(body)
    checksum = change_hash(body)[:4]
    for payload in (stream[:-2], stream + b"junk", b"\xff" * 20):
        chunk = MAGIC + checksum + b"\x02" + encode_uleb(len(payload)) + payload
        assert rejected(chunk) is Reason.MALFORMED_CHANGE
    bad_column = make_body(columns=[(66 | 8, deflate(b"\x7f\x01")[:-1])])
    assert rejected(make_chunk(bad_column)) is Reason.MALFORMED_CHANGE


MALFORMED_BODIES = {
    "empty body": b"",
    "dep count beyond the data": encode_uleb(5) + b"\x11" * 64,
    "dep of 31 bytes": b"\x01" + b"\x11" * 31,
    "actor length beyond the data": b"\x00" + encode_uleb(1000) + BOB,
    "seq 0": make_body(seq=0),
    "start_op 0": make_body(start_op=0),
    "non-minimal seq": make_body().replace(BOB + b"\x01\x01", BOB + b"\x81\x00\x01"),
    "seq over 64 bits": b"\x00\x01\xaa" + b"\xff" * 9 + b"\x02\x01\x00\x00\x00\x00",
    "time over 64 bits": make_body(time=1 << 63),
    "message not UTF-8": make_body(message=b"\xc3\x28"),
    "message is a surrogate": make_body(message=b"\xed\xa0\x80"),
    "other actor beyond the data": make_body(others=[BOB])[:-12],
    "columns out of order": make_body(columns=[(66, b"\x7f\x01"), (2, b"\x7f\x00")]),
    "duplicated column": make_body(columns=[(66, b"\x7f\x01"), (66, b"\x7f\x01")]),
    "duplicated column, one deflated": make_body(
        columns=[(66, b"\x7f\x01"), (66 | 8, deflate(b"\x7f\x01"))]),
    "column spec over 32 bits": make_body(columns=[(66, b"\x7f\x01"), (1 << 32, b"")]),
    "column data beyond the body": make_body(columns=[(66, b"\x7f\x01"), (86, b"\x16")])[:-1],
    "column count beyond the data": make_body(columns=[])[:-1] + encode_uleb(100),
    "action column of the wrong type": make_body(columns=[(67, b"\x7f\x01")]),
    "null action": make_body(columns=[(66, b"\x00\x01\x7e\x01\x02")]),  # null, 2 literals
    "literal run beyond the column": make_body(columns=[(66, b"\x7d\x01\x02")]),
    "RLE value non-minimal": make_body(columns=[(66, b"\x7f\x81\x00")]),
    "RLE run non-minimal": make_body(columns=[(66, b"\xff\x7f\x01")]),
    "value missing after run": make_body(columns=[(66, b"\x02")]),
    "ops past u32 counters": make_body(start_op=1 << 32),
    "start_op past u32 counters, no ops": make_body(start_op=1 << 32, columns=[]),
    "run past u32 counters": make_body(start_op=3, columns=[(66, encode_sleb(1 << 32) + b"\x01")]),
}


@pytest.mark.parametrize("name", MALFORMED_BODIES)
def test_malformed_bodies(name: str) -> None:
    body = MALFORMED_BODIES[name]
    for kind in (1, 2):
        assert rejected(make_chunk(body, kind)) is Reason.MALFORMED_CHANGE, name


def test_malformed_header_length() -> None:
    assert rejected(MAGIC + b"\0\0\0\0\x01\x80\x00") is Reason.MALFORMED_CHANGE
    assert rejected(MAGIC + b"\0\0\0\0\x01" + b"\xff" * 10 + b"\x01") is Reason.MALFORMED_CHANGE
    assert rejected(MAGIC + b"\0\0\0\0\x01" + encode_uleb(1 << 40)) is Reason.TRUNCATED


# ---------------------------------------------------------------- LEB128


@given(st.integers(0, (1 << 64) - 1))
def test_uleb_round_trip(n: int) -> None:
    data = encode_uleb(n)
    reader = Reader(data)
    assert reader.uleb() == n and reader.remaining() == 0


@given(st.integers(-(1 << 63), (1 << 63) - 1))
def test_sleb_round_trip(n: int) -> None:
    reader = Reader(encode_sleb(n))
    assert reader.sleb() == n and reader.remaining() == 0


@pytest.mark.parametrize("data", [
    bytes([129] * 12), bytes([129] * 9 + [2]), bytes([129, 0]), encode_uleb(1 << 64),
])
def test_uleb_refused(data: bytes) -> None:
    with pytest.raises(Rejected):
        Reader(data).uleb()


@pytest.mark.parametrize("data", [
    b"\xff\x7f", b"\x80\x00", encode_sleb(1 << 63), encode_sleb(-(1 << 63) - 1), b"\x80",
])
def test_sleb_refused(data: bytes) -> None:
    with pytest.raises(Rejected):
        Reader(data).sleb()


def test_reader_stops_early() -> None:
    reader = Reader(b"\x80" * 100_000 + b"\x01")
    with pytest.raises(Rejected):
        reader.uleb()
    assert reader.pos == 10  # not a 700,000-bit integer built byte by byte
    reader = Reader(b"\xff" * 100_000 + b"\x7f")
    with pytest.raises(Rejected):
        reader.sleb()
    assert reader.pos == 10
    reader = Reader(encode_uleb(3) + bytes(5))
    with pytest.raises(Rejected):
        reader.count(2, "columns")  # three columns need at least six bytes
    assert reader.pos == 1
    assert Reader(encode_uleb(3) + bytes(6)).count(2, "columns") == 3


def test_encode_uleb_vectors() -> None:
    assert encode_uleb(0) == b"\x00"
    assert encode_uleb(127) == b"\x7f"
    assert encode_uleb(128) == b"\x80\x01"
    assert encode_uleb(624485) == b"\xe5\x8e\x26"
    with pytest.raises(ValueError):
        encode_uleb(-1)


# ---------------------------------------------------------------- fuzzing


def parse_or_reject(data: bytes) -> ParsedChange | None:
    """Only `Rejected` may escape; whatever is accepted must be self-consistent."""
    try:
        parsed = parse_change(data)
    except Rejected:
        return None
    assert parsed.hash == hashlib.sha256(parsed.raw[8:]).digest()
    assert parsed.raw[8] == 1 and parse_change(parsed.raw) == parsed
    assert all(len(dep) == 32 for dep in parsed.deps)
    assert parsed.seq >= 1 and parsed.start_op >= 1 and parsed.num_ops >= 0
    return parsed


FUZZ = settings(max_examples=examples(3000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER_REASONS = {Reason.BAD_MAGIC, Reason.TRUNCATED, Reason.NOT_A_CHANGE, Reason.TRAILING_BYTES,
                  Reason.BAD_CHECKSUM, Reason.OVERSIZED, Reason.MALFORMED_CHANGE}  # the last: deflate


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_random_bytes_are_refused_at_the_header(data: bytes) -> None:
    """Junk never gets past the magic and the checksum, and is refused only with Rejected."""
    for junk in (data, MAGIC + data):
        assert rejected(junk) in HEADER_REASONS


ACTIONS = st.lists(st.sampled_from([0, 1, 2, 3, 4, 6, 7]), min_size=1, max_size=20)  # no increment (5)


@st.composite
def built_changes(draw: st.DrawFn) -> tuple[dict[str, object], bytes]:
    """A change body built field by field (what was put in, and the body); one in three is
    then cut or has a byte replaced, so the body checks run on well-formed and broken input."""
    fields: dict[str, object] = {
        "deps": draw(st.lists(st.binary(min_size=32, max_size=32), max_size=3)),
        "actor": draw(st.binary(min_size=1, max_size=40)),
        "seq": draw(st.integers(1, 1 << 40)),
        "start_op": draw(st.integers(1, 1 << 20)),
        "time": draw(st.integers(-(1 << 62), 1 << 62)),
        "message": draw(st.text(max_size=20)).encode(),
        "others": draw(st.lists(st.binary(min_size=1, max_size=16), max_size=3)),
        "extra": draw(st.binary(max_size=8)),
    }
    actions = draw(ACTIONS)
    columns = [(ACTION_COLUMN, encode_sleb(-len(actions)) + bytes(actions))]
    columns += [(spec, draw(st.binary(max_size=6))) for spec in
                draw(st.lists(st.sampled_from([1, 2, 17, 33, 49, 81, 97, 113]), unique=True, max_size=3))]
    body = make_body(columns=sorted(columns), **fields)  # type: ignore[arg-type]
    fields["num_ops"] = len(actions)
    damage = draw(st.sampled_from(["none", "none", "cut", "byte"]))
    if damage == "cut":
        body = body[:draw(st.integers(0, len(body) - 1))]
    elif damage == "byte":
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1:]
    return (fields if damage == "none" else {}), body


def test_fuzz_built_changes_are_read_exactly_as_built() -> None:
    """Checksummed chunks around field-by-field bodies: every intact one is accepted with the
    fields it was built from, a damaged one is refused or self-consistent, and most inputs get
    past the header to the body checks."""
    funnel = Funnel()

    @settings(FUZZ, max_examples=examples(1500))  # each input is a whole change: half the examples do
    @given(built_changes(), st.sampled_from([1, 2]))
    def run(built: tuple[dict[str, object], bytes], kind: int) -> None:
        fields, body = built
        funnel.saw("input")
        parsed = parse_or_reject(make_chunk(body, kind))
        if parsed is not None:
            funnel.saw("accepted")
        if fields:
            assert parsed is not None, fields
            assert (list(parsed.deps), parsed.actor, parsed.seq, parsed.start_op, parsed.num_ops) == (
                fields["deps"], fields["actor"], fields["seq"], fields["start_op"], fields["num_ops"])

    run()
    funnel.assert_share("accepted", 0.4)


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    change = draw(st.sampled_from(automerge_changes()))
    body = bytearray(body_of(change.raw_bytes))
    edit_bytes(draw, body, 0, len(body))
    return bytes(body)


def test_fuzz_mutated_changes_with_fixed_checksum() -> None:
    """Real changes with a few bytes edited and the checksum fixed up: a share is still
    accepted (and self-consistent), so the body checks are what decides."""
    funnel = Funnel()

    @FUZZ
    @given(mutated_bodies(), st.sampled_from([1, 2]))
    def run(body: bytes, kind: int) -> None:
        funnel.saw("input")
        if parse_or_reject(make_chunk(body, kind)) is not None:
            funnel.saw("accepted")

    run()
    funnel.assert_share("accepted", 0.1)
