"""The fast paths of verified ingest change no outcome: on random columns and on real changes
with bytes edited, each gives exactly what the straightforward reading gives (the same
values, or the same refusal with the same detail), and their memos stay bounded."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pnyx.federation import changepack, chunk, columns, ledger, ops, writerules
from pnyx.federation.chunk import encode_uleb, parse_change
from pnyx.federation.columns import Reader
from pnyx.federation.docids import RECORD_ALPHABET, RECORD_ID_RE, parse_doc_id
from pnyx.federation.envelope import Envelope, VerifiedChange
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.ops import OpId
from pnyx.federation.writerules import MADE
from pnyx.federation.writerules import Path as RulePath

from .examples import examples
from .ledgerkit import body_of, columns_start, edit_bytes, rechecksum
from .test_chunk import encode_sleb
from .test_ops import changes

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec/vectors"
SETTINGS = settings(max_examples=examples(600), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def forget_columns() -> None:
    """Every memo of decoded columns emptied: what follows decodes anew."""
    for memo in columns._DECODED:
        memo.clear()
    chunk._ACTION_COUNTS.clear()


def outcome(read: Callable[[], object]) -> tuple[object, ...]:
    try:
        return ("read", read())
    except Rejected as exc:
        return ("refused", exc.reason, exc.detail)


@st.composite
def rle_columns(draw: st.DrawFn, value: st.SearchStrategy[bytes]) -> bytes:
    """A run-length column of runs, literals and nulls (long ones too), then perhaps damaged."""
    out = b""
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["run", "literal", "literal", "nulls"]))
        count = draw(st.integers(1, 4) | st.sampled_from([0, 63, 64, 65, 200]) | st.integers(0, 70))
        if kind == "run":
            out += encode_sleb(count) + draw(value)
        elif kind == "literal":
            out += encode_sleb(-count) + b"".join(draw(value) for _ in range(min(count, 70)))
        else:
            out += b"\x00" + encode_uleb(count)
    damage = draw(st.sampled_from(["none", "none", "none", "cut", "byte", "append"]))
    if damage == "cut" and out:
        out = out[:draw(st.integers(0, len(out) - 1))]
    elif damage == "byte" and out:
        at = draw(st.integers(0, len(out) - 1))
        out = out[:at] + bytes([draw(st.integers(0, 255))]) + out[at + 1:]
    elif damage == "append":
        out += draw(st.binary(min_size=1, max_size=3))
    return out


LEBS = st.builds(encode_uleb, st.integers(0, 127) | st.integers(0, 300)
                 | st.sampled_from([128, 16383, 16384, 1 << 63]))
SLEBS = st.builds(encode_sleb, st.integers(-64, 63) | st.integers(-300, 300)
                  | st.sampled_from([64, -65, 8191, -8192]))
TEXTS = st.text(max_size=5).map(str.encode) | st.binary(max_size=4)
STRINGS = TEXTS.map(lambda t: encode_uleb(len(t)) + t)
ROWS = st.sampled_from([12, 64, 300, 0, 1, 65])


@SETTINGS
@given(rle_columns(LEBS) | st.binary(max_size=40), ROWS)
def test_unsigned_columns_read_as_the_exact_decoder_reads_them(column: bytes, rows: int) -> None:
    forget_columns()
    assert outcome(lambda: columns.int_column(column, rows)) == \
        outcome(lambda: columns.decode_rle(column, rows, Reader.uleb))


@SETTINGS
@given(rle_columns(SLEBS) | st.binary(max_size=40), ROWS)
def test_signed_and_delta_columns_read_as_the_exact_decoder_reads_them(column: bytes, rows: int) -> None:
    def exact() -> list[int | None]:
        last, out = 0, []
        for delta in columns.decode_rle(column, rows, Reader.sleb):
            if delta is not None:
                last += delta
                if last < 0:
                    raise Rejected(chunk.Reason.MALFORMED_CHANGE, "a negative counter")
            out.append(None if delta is None else last)
        return out

    forget_columns()
    assert outcome(lambda: columns._runs(column, rows, True)) == \
        outcome(lambda: columns.decode_rle(column, rows, Reader.sleb))
    assert outcome(lambda: columns.delta_column(column, rows)) == outcome(exact)


@SETTINGS
@given(rle_columns(STRINGS) | st.binary(max_size=40), ROWS)
def test_string_columns_read_as_the_exact_decoder_reads_them(column: bytes, rows: int) -> None:
    forget_columns()
    assert outcome(lambda: columns.string_column(column, rows)) == \
        outcome(lambda: columns.decode_rle(column, rows, columns.read_key))


def with_first(column: bytes, first: bytes) -> bytes:
    """`column` with the first string of its opening literal run (if it opens with one) replaced."""
    if len(column) < 2 or not 0x40 <= column[0] < 0x80 or column[1] >= 0x80:
        return column
    return column[:1] + encode_uleb(len(first)) + first + column[2 + column[1]:]


@SETTINGS
@given(rle_columns(STRINGS) | st.binary(max_size=40), ROWS, TEXTS)
@example(b"\x7d\x02ab\x05title\x04text", 3, b"cd").via("a record's key, then its fields' names")
def test_string_columns_differing_only_in_their_first_string_read_as_the_exact_decoder_reads_them(
        column: bytes, rows: int, first: bytes) -> None:
    """The rest of a column after its first string is remembered (a record's key, new in every
    change, then the names of its fields): read again, and with another first string."""
    forget_columns()
    for read in (column, with_first(column, first), column):
        assert outcome(lambda read=read: columns.string_column(read, rows)) == \
            outcome(lambda read=read: columns.decode_rle(read, rows, columns.read_key))


@SETTINGS
@given(st.text(alphabet=RECORD_ALPHABET + "0189AZ\né", min_size=15, max_size=17) | st.text(max_size=20))
@example("abcdefghij234567").via("a record id")
@example("abcdefghij234567\n").via("a record id, then a newline")
def test_record_keys_are_judged_as_the_record_id_pattern_judges_them(key: str) -> None:
    assert writerules._segment_matches("{record}", key) == (RECORD_ID_RE.match(key) is not None)
    assert ledger.record_id(key) == (RECORD_ID_RE.match(key) is not None)


@SETTINGS
@given(st.text(alphabet="0123456789-W:T ", min_size=0, max_size=12) | st.text(max_size=12))
@example("2026-04-10").via("a date")
@example("2026-02-30").via("no such day")
@example("20260410").via("a form Python reads, ledgers do not")
def test_dates_remembered_are_read_as_the_first_reading_reads_them(text: str) -> None:
    def outcome() -> object:
        try:
            return ledger.parse_date(text)
        except ValueError as exc:
            return str(exc)
    first = outcome()
    assert outcome() == first  # the second from the memo, when the first was a date
    expected = dt.date.fromisoformat(text) if re.fullmatch("[0-9]{4}-[0-9]{2}-[0-9]{2}", text) \
        and _iso(text) else None
    assert (first if isinstance(first, dt.date) else None) == expected


def _iso(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def seed_changes() -> list[tuple[str, bytes]]:
    """Real changes, with the document each was written to: every write-rule vector (every
    row of the table, certificates and lists included) and two hand-made ones."""
    vectors = json.loads((VECTORS / "writerules.json").read_text())["vectors"]
    envelopes = [msgpack.unpackb(bytes.fromhex(v["envelope"])) for v in vectors]
    ledger = envelopes[0][0]
    return [(e[0], parse_change(e[1]).raw) for e in envelopes] + [(ledger, c) for c in changes()]


SEEDS = seed_changes()


def column_spans(raw: bytes, body_len: int) -> list[tuple[int, int]]:
    """Where each op column lies in the body of `raw`: edits aimed at one column."""
    parsed = parse_change(raw)
    at = body_len - len(b"".join(parsed.columns))  # a change of ours has no extra bytes
    spans = []
    for column in parsed.columns:
        spans.append((at, at + len(column)))
        at += len(column)
    return spans


@st.composite
def edited_changes(draw: st.DrawFn) -> tuple[str, bytes]:
    """A real change with up to four bytes edited in its columns (or anywhere), checksum fixed."""
    doc_id, raw = draw(st.sampled_from(SEEDS))
    body = bytearray(body_of(raw))
    start, end = draw(st.sampled_from([(columns_start(bytes(body)), len(body))] * 3 + [(0, len(body))]
                                      + list(column_spans(raw, len(body)))))
    edit_bytes(draw, body, start, end, least=0)
    return doc_id, rechecksum(bytes(body))


def fast_and_slow(fast: Callable[[], object], slow: Callable[[], object]) -> tuple[object, object]:
    """The outcomes of reading through the fast paths, and of the straightforward reading.
    Both are called, never patched in: compiled modules (pnyx.compiled) call their own
    functions directly, so a monkeypatched function would not be the one that runs."""
    forget_columns()
    first = outcome(fast)
    forget_columns()
    return first, outcome(slow)


def ops_row_by_row(raw: bytes) -> list[ops.Op]:
    """decode_ops without the column-by-column reading: every row read and checked alone."""
    change = parse_change(raw)
    rows = ops.decoded_columns(change).row_by_row(change.start_op)
    return [rows.op(i) for i in range(len(rows.action))]


@SETTINGS
@given(rle_columns(LEBS) | st.binary(max_size=40), ROWS)
@example(b"\x01\x08", 12).via("a counter alone")
@example(b"\x7e\x06\x1f", 2).via("an unknown type last")
def test_value_types_are_checked_as_a_stream_of_runs_would_check_them(column: bytes, rows: int) -> None:
    fast, slow = fast_and_slow(lambda: chunk._refuse_unreadable_values(column, rows),
                               lambda: chunk._refuse_unreadable_values(column, rows, stream=True))
    assert fast == slow


@SETTINGS
@given(edited_changes())
def test_ops_read_at_once_are_the_ops_read_row_by_row(
        edited: tuple[str, bytes]) -> None:
    fast, slow = fast_and_slow(lambda: ops.decode_ops(parse_change(edited[1])),
                               lambda: ops_row_by_row(edited[1]))
    assert fast == slow


HELD_PATHS: dict[int, RulePath] = {1: ("decisions",), 2: ("devices",), 3: ("mandates",),
                                   4: ("decisions", "abcdefghabcdefgh"), 5: ()}


class Held:
    """A document held with a few maps (by the counter of the op that made them), where
    some keys exist already."""

    def object_path(self, doc_id: str, obj: OpId) -> RulePath | None:
        return HELD_PATHS.get(obj.counter % 8)

    def has_entry(self, doc_id: str, path: RulePath, key: str, heads: Any) -> bool:
        return sum(key.encode()) % 4 == 0

    def first_change(self, doc_id: str) -> bytes | None:
        return None


@SETTINGS
@given(edited_changes())
def test_fields_judged_at_once_are_judged_as_op_by_op(
        edited: tuple[str, bytes]) -> None:
    doc_id, raw = edited

    def judge(grouped: bool) -> object:
        change = parse_change(raw)
        vc = VerifiedChange(Envelope(doc_id, raw, bytes(32), b""), parse_doc_id(doc_id), change)
        written = writerules.check_writes(vc, Held(), grouped)
        # what the daemon asks of every ledger change: whether it writes under `devices`
        assert written.devices == ("devices" in {path[0] for path in written.values})
        return sorted((p, "made" if v is MADE else v) for p, v in written.values.items())

    fast, slow = fast_and_slow(lambda: judge(True), lambda: judge(False))
    assert fast == slow


def test_ints_of_two_bytes_are_read_as_the_exact_decoder_reads_them() -> None:
    """Every value of two bytes with int metadata, minimal or not, read through the fast path
    for two-byte ints and through the exact reader of one value."""
    meta = b"\x01" + encode_uleb(2 << 4 | 4)  # one row: an int of two bytes

    def fast_and_exact(raw: bytes) -> tuple[object, object]:
        return outcome(lambda: ops._values(meta, raw, 1)[1][0]), outcome(lambda: ops._value(4, raw)[1])

    for first in range(0x100):
        for second in range(0x100):
            fast, exact = fast_and_exact(bytes([first, second]))
            assert fast == exact, (first, second)


@SETTINGS
@given(st.lists(st.binary(min_size=32, max_size=32), max_size=3),
       st.sampled_from([0, 1, 0x7E, 0x7F, 0x80, 0x81, 0x3FFE, 0x3FFF, 0x4000, 0x4001, 70_000]))
def test_joined_chunks_are_the_chunks_concatenation_builds(deps: list[bytes], size: int) -> None:
    """changepack.join_chunk's lengths from its tables and its joins, against `+` and encode_uleb."""
    rest = bytes(max(0, size - 1 - 32 * len(deps)))
    body = encode_uleb(len(deps)) + b"".join(deps) + rest
    hashed = bytes((chunk.CHANGE_CHUNK,)) + encode_uleb(len(body)) + body
    digest = hashlib.sha256(hashed).digest()
    assert changepack.join_chunk(deps, rest) == (chunk.MAGIC + digest[:4] + hashed, digest)


def header_read_by_a_reader(data: bytes) -> tuple[object, ...] | None:
    """What chunk.parse_change's Reader says of a type 1 chunk's header (None: nothing wrong)."""
    header = Reader(data, short=chunk.TRUNCATED)
    try:
        header.take(9)
        length = header.uleb()
    except Rejected as exc:
        return ("refused", exc.reason, exc.detail)
    if length > header.remaining():
        return ("refused", Reason.TRUNCATED, f"body of {length} bytes, {header.remaining()} present")
    if length < header.remaining():
        return ("refused", Reason.TRAILING_BYTES, f"{header.remaining() - length} bytes after the body")
    return None


@SETTINGS
@given(st.sampled_from(SEEDS), st.integers(0, 3), st.binary(min_size=0, max_size=3),
       st.integers(-2, 2))
def test_chunk_headers_read_fast_are_read_as_a_reader_reads_them(
        seed: tuple[str, bytes], cut: int, length: bytes, extra: int) -> None:
    """parse_change's header fast path (a two-byte body length, read in place) against a
    Reader: lengths of one to three bytes, minimal or not, short or long by a byte or two."""
    raw = seed[1]
    body = raw[9 + len(encode_uleb(len(raw) - 9)):]
    if extra < 0:
        body = body[:extra]
    data = raw[:9] + (length if cut else encode_uleb(len(body))) + body + bytes(max(extra, 0))
    expected = header_read_by_a_reader(data)
    got = outcome(lambda: parse_change(data))
    if expected is not None:
        assert got == expected
    else:  # the header passes: whatever follows is the body's (its checksum first)
        assert got[0] == "read" or got[1] is not Reason.TRUNCATED or "body of" not in str(got[2])
