"""Reading the bytes of a change: a cursor that refuses what does not decode, and the
run-length encoded op columns, decoded fast and once.

Column formats are the Automerge binary format's (protocol-spec/changes.md, "Operations").
Most columns of most changes hold short runs of one-byte values, and changes of one kind
repeat many columns byte for byte: the fast decoders read those in a few C-level steps and
small columns are remembered by their bytes. Anything unusual goes to the exact decoder,
which reads any valid column and says what is wrong with an invalid one, so the fast
paths change no outcome and no error. Raises only `Rejected`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeVar

from .bounded import make_room
from .errors import Reason, Rejected

T = TypeVar("T")
MAX_OPS: Final = 1 << 16  # far above any record; a run-length column could otherwise claim billions
_U64_LIMIT: Final = 1 << 64
_I64_LIMIT: Final = 1 << 63


class Reader:
    """A cursor over bytes that turns every decoding failure into `Rejected`.

    `short` is the reason for running past the end, `bad` for anything else (LEB128
    values that are non-minimal or over 64 bits, counts the input cannot hold).
    """

    __slots__ = ("bad", "data", "pos", "short")

    def __init__(self, data: bytes, short: Reason = Reason.MALFORMED_CHANGE,
                 bad: Reason = Reason.MALFORMED_CHANGE, pos: int = 0) -> None:
        self.data = data
        self.pos = pos
        self.short = short
        self.bad = bad

    def fail(self, detail: str) -> NoReturn:
        raise Rejected(self.bad, f"{detail} at byte {self.pos}")

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def take(self, n: int) -> bytes:
        pos = self.pos
        end = pos + n
        if end > len(self.data):
            raise Rejected(self.short, f"{n} bytes wanted at byte {pos}, {self.remaining()} left")
        self.pos = end
        return self.data[pos:end]

    def uleb(self) -> int:
        """An unsigned LEB128 that fits in 64 bits, in its minimal encoding."""
        data, pos = self.data, self.pos
        if pos < len(data) and data[pos] < 0x80:  # one byte: most values
            self.pos = pos + 1
            return data[pos]
        result, shift, byte, _ = self._leb()
        if byte == 0 and shift > 7:
            self.fail("non-minimal LEB128")
        if result >= _U64_LIMIT:
            self.fail("LEB128 over 64 bits")
        return result

    def sleb(self) -> int:
        """A signed LEB128 that fits in 64 bits, in its minimal encoding."""
        data, pos = self.data, self.pos
        if pos < len(data) and data[pos] < 0x80:  # one byte: -64..63
            self.pos = pos + 1
            byte = data[pos]
            return byte - 0x80 if byte & 0x40 else byte
        result, shift, byte, prev = self._leb()
        redundant = (byte, prev & 0x40) in ((0, 0), (0x7F, 0x40))
        if shift > 7 and redundant:
            self.fail("non-minimal LEB128")
        if byte & 0x40:
            result -= 1 << shift
        if not -_I64_LIMIT <= result < _I64_LIMIT:
            self.fail("LEB128 over 64 bits")
        return result

    def _leb(self) -> tuple[int, int, int, int]:
        """The bytes of a LEB128, read up to its last: the value bits, how many there are, and
        the last byte and the one before it, which `uleb` and `sleb` judge each as they must.
        More than ten bytes is over 64 bits whatever they hold."""
        data, pos = self.data, self.pos
        end = len(data)
        result = shift = prev = 0
        while True:
            if pos >= end:
                raise Rejected(self.short, "LEB128 runs past the end")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                self.pos = pos
                return result, shift, byte, prev
            if shift >= 70:
                self.pos = pos
                self.fail("LEB128 over 64 bits")
            prev = byte

    def count(self, min_item_bytes: int, what: str) -> int:
        """A uLEB item count, refused if the rest of the input cannot hold that many items."""
        n = self.uleb()
        if n * min_item_bytes > self.remaining():
            self.fail(f"{n} {what} cannot fit in {self.remaining()} bytes")
        return n



def read_key(r: Reader) -> str:
    try:
        return r.take(r.uleb()).decode("utf-8")
    except UnicodeDecodeError:
        r.fail("a key is not UTF-8")


# Decoded columns by their bytes: changes of one kind repeat most of their columns byte for
# byte (the actions, the insert flags, the actor indexes), so each is decoded once. One memo
# per decoder, keyed by the column's bytes alone (no key tuple built per lookup): a column
# decodes to exactly `rows` rows, so a list of another length is a miss. Only what decoded is
# kept, the lists are never changed by their readers, and each memo is bounded: at most
# MAX_DECODED columns of at most MEMO_ROWS rows and MEMO_BYTES bytes each.
_INTS: Final[dict[bytes, list[int | None]]] = {}
_DELTAS: Final[dict[bytes, list[int | None]]] = {}
_STRINGS: Final[dict[bytes, list[str | None]]] = {}
_BOOLEANS: Final[dict[bytes, list[bool]]] = {}
_DECODED: Final = (_INTS, _DELTAS, _STRINGS, _BOOLEANS)
MAX_DECODED: Final = 2_048  # each: a batch of changes (500) checked, then judged, finds its own
MEMO_ROWS: Final = 64
MEMO_BYTES: Final = 128  # a record's field names (string_column) take 76 bytes


def shared_rows(fill: object) -> list[list[Any]]:
    """Rows all `fill` (a column a change leaves out, the list positions or predecessors of a
    change without list operations or overwrites): one list for each number of rows up to
    MEMO_ROWS, shared and read only as the remembered columns are, not a new list for each of
    them in every change (`filled`)."""
    return [[fill] * rows for rows in range(MEMO_ROWS + 1)]


def filled(shared: list[list[Any]], rows: int, fill: object) -> list[Any]:
    """`[fill] * rows`, taken from `shared` (`shared_rows(fill)`) when small: read only."""
    return shared[rows] if rows <= MEMO_ROWS else [fill] * rows


_NULLS: Final = shared_rows(None)


def nulls(rows: int) -> list[Any]:
    return filled(_NULLS, rows, None)


def _recalled(memo: dict[bytes, list[T]], column: bytes, rows: int) -> list[T] | None:
    """The column as `memo`'s decoder decoded it, if it is small and was remembered.
    Read only: the list may be shared. (Plain calls, not a decorator: compiled, a call
    through a closure costs more than the lookup.)"""
    if len(column) > MEMO_BYTES:
        return None
    found = memo.get(column)
    return found if found is not None and len(found) == rows else None


def _kept(memo: dict[bytes, list[T]], column: bytes, rows: int, out: list[T]) -> list[T]:
    """`out`, the column decoded by `memo`'s decoder, remembered if it is small."""
    if rows <= MEMO_ROWS:
        remember(memo, column, out)
    return out


def remember(memo: dict[bytes, T], column: bytes, decoded: T) -> None:
    """Keep what a column of at most MEMO_BYTES decoded to in `memo`, one of at most
    MAX_DECODED columns (the memos here, and chunk.py's of action columns)."""
    if len(column) <= MEMO_BYTES:
        if len(memo) >= MAX_DECODED:  # asked here: make_room is a call into source code
            make_room(memo, MAX_DECODED)
        memo[column] = decoded


# Each byte as bytes: compiled, `bytes((n,))` is a generic call of the bytes type.
BYTES: Final = tuple(bytes((n,)) for n in range(0x100))


class _Unusual(Exception):
    """A column the fast decoders leave to the exact one: it decodes it or says what is wrong."""


def _leb(column: bytes, pos: int) -> tuple[int, int]:
    """The uLEB128 at `pos` if it takes one or two bytes (and is minimal), and the next pos."""
    byte = column[pos]
    if byte < 0x80:
        return byte, pos + 1
    high = column[pos + 1] if pos + 1 < len(column) else 0
    if not 0 < high < 0x80:
        raise _Unusual
    return (byte & 0x7F) | high << 7, pos + 2


def _runs(column: bytes, rows: int, signed: bool) -> list[int | None]:
    """A uLEB (or, `signed`, sLEB) run-length column, fast where its runs are under 64 and
    its values take one byte (uLEB: two), as almost every change's do; the others, and any
    column with something wrong, are left to the exact decoder."""
    out: list[int | None] = []
    pos, end = 0, len(column)
    try:
        while pos < end:
            run = column[pos]
            pos += 1
            if run == 0:  # a run of nulls
                count, pos = _leb(column, pos)
                if len(out) + count > rows:
                    raise _Unusual
                out += [None] * count
            elif run < 0x40:  # one value, repeated
                if signed:
                    value = column[pos]
                    if value >= 0x80:
                        raise _Unusual
                    pos += 1
                    out += [value - 0x80 if value & 0x40 else value] * run
                else:
                    value, pos = _leb(column, pos)
                    out += [value] * run
            elif run < 0x80:  # a literal run of 0x80 - run values
                stop = pos + 0x80 - run
                literal = column[pos:stop]
                if stop <= end and literal.isascii():  # one byte each
                    out += [v - 0x80 if v & 0x40 else v for v in literal] if signed else literal
                    pos = stop
                elif signed:
                    raise _Unusual
                else:
                    for _ in range(0x80 - run):
                        value, pos = _leb(column, pos)
                        out.append(value)
            else:
                raise _Unusual  # a run of 64 or more
            if len(out) > rows:
                raise _Unusual
    except (_Unusual, IndexError):
        return decode_rle(column, rows, Reader.sleb if signed else Reader.uleb)
    if len(out) < rows:  # asked first: the usual column holds every row
        out += [None] * (rows - len(out))
    return out


def int_column(column: bytes, rows: int) -> list[int | None]:
    """A uLEB run-length column of at most `rows` rows; rows it does not hold are null,
    as Automerge reads a column that runs out. Remembered: read only."""
    if not column:  # absent: all null, and never remembered (columns of 0 rows would evict it)
        return nulls(rows)
    found = _recalled(_INTS, column, rows)
    return found if found is not None else _kept(_INTS, column, rows, _runs(column, rows, False))


def string_column(column: bytes, rows: int) -> list[str | None]:
    """A string run-length column, fast when it is ASCII, as keys almost always are.
    Remembered: read only."""
    if not column:  # absent: all null, and never remembered (columns of 0 rows would evict it)
        return nulls(rows)
    found = _recalled(_STRINGS, column, rows)
    if found is None:
        found = _after_first(column, rows)
    return found if found is not None else _kept(_STRINGS, column, rows, _strings(column, rows))


def _after_first(column: bytes, rows: int) -> list[str | None] | None:
    """A column opening with a literal run of ASCII strings, read as its first string and the
    column of the rest: a change that makes a record writes its key, new in every change,
    then the names of its fields, the same in every change of the kind, which are then
    remembered (as the column of the rest, a column in itself: the run one string shorter).
    None when the column does not open so or the rest does not decode: the exact decoder
    then reads the whole column, and says what is wrong with it (what decodes in the rest
    and the first string decodes in the whole column, to the same rows)."""
    run = column[0]
    if not 0x40 <= run < 0x7F or rows < 2 or len(column) < 2:  # a literal run of 2 or more
        return None
    stop = 2 + column[1]  # a length under 0x80: one byte
    if column[1] >= 0x80 or stop > len(column):
        return None
    try:
        first = column[2:stop].decode("ascii")
    except UnicodeDecodeError:
        return None
    rest_column = BYTES[run + 1] + column[stop:]
    rest = _recalled(_STRINGS, rest_column, rows - 1)
    if rest is None:
        try:
            rest = _kept(_STRINGS, rest_column, rows - 1, _strings(rest_column, rows - 1))
        except Rejected:
            return None
    out: list[str | None] = [first]
    out += rest
    return out


def _strings(column: bytes, rows: int) -> list[str | None]:
    if not column.isascii():
        return decode_rle(column, rows, read_key)
    text = column.decode("ascii")  # one character per byte: lengths and offsets agree
    out: list[str | None] = []
    pos, end = 0, len(column)
    try:
        while pos < end:
            run = column[pos]  # every byte is under 0x80: every LEB128 is one byte
            pos += 1
            if run == 0:  # a run of nulls
                count = column[pos]
                pos += 1
                if len(out) + count > rows:
                    raise _Unusual
                out += [None] * count
                continue
            if run < 0x40:  # one string, repeated
                stop = pos + 1 + column[pos]
                if stop > end:
                    raise _Unusual
                out += [text[pos + 1:stop]] * run
                pos = stop
            else:
                for _ in range(0x80 - run):  # a literal run of strings
                    stop = pos + 1 + column[pos]
                    if stop > end:
                        raise _Unusual
                    out.append(text[pos + 1:stop])
                    pos = stop
            if len(out) > rows:
                raise _Unusual
    except (_Unusual, IndexError):
        return decode_rle(column, rows, read_key)
    if len(out) < rows:  # asked first: the usual column holds every row
        out += [None] * (rows - len(out))
    return out


def decode_rle(column: bytes, rows: int, read: Callable[[Reader], T]) -> list[T | None]:
    """The exact decoder: every column the fast ones leave, and what is wrong with it."""
    out: list[T | None] = []
    r = Reader(column)
    end, sleb, uleb = len(column), r.sleb, r.uleb
    while r.pos < end:
        run = sleb()
        count = run if run > 0 else -run if run < 0 else uleb()
        if len(out) + count > rows:
            raise Rejected(Reason.MALFORMED_CHANGE, f"an op column holds over {rows} rows")
        if run > 0:
            out.extend([read(r)] * count)
        elif run < 0:
            out.extend([read(r) for _ in range(count)])
        else:
            out.extend([None] * count)
    if len(out) < rows:
        out.extend([None] * (rows - len(out)))
    return out


def delta_column(column: bytes, rows: int) -> list[int | None]:
    """A delta-encoded column: each value is the previous non-null one plus the delta.
    Remembered: read only."""
    if not column:  # absent: all null, and never remembered (columns of 0 rows would evict it)
        return nulls(rows)
    found = _recalled(_DELTAS, column, rows)
    return found if found is not None else _kept(_DELTAS, column, rows, _deltas(column, rows))


def _deltas(column: bytes, rows: int) -> list[int | None]:
    out: list[int | None] = []
    last = 0
    for delta in _runs(column, rows, True):
        if delta is None:
            out.append(None)
            continue
        last += delta
        if last < 0:
            raise Rejected(Reason.MALFORMED_CHANGE, "a negative counter")
        out.append(last)
    return out


def boolean_column(column: bytes, rows: int) -> list[bool]:
    """Alternating run lengths, starting with false, of exactly `rows` rows: Automerge does
    not take a change whose insert column runs out early. Remembered: read only."""
    found = _recalled(_BOOLEANS, column, rows)
    return found if found is not None else _kept(_BOOLEANS, column, rows, _booleans(column, rows))


def _booleans(column: bytes, rows: int) -> list[bool]:
    out: list[bool] = []
    r = Reader(column)
    end = len(column)
    value = False
    while r.pos < end:
        count = r.uleb()
        if len(out) + count > rows:
            raise Rejected(Reason.MALFORMED_CHANGE, f"a boolean column holds over {rows} rows")
        out.extend([value] * count)
        value = not value
    if len(out) != rows:
        raise Rejected(Reason.MALFORMED_CHANGE, f"a boolean column holds {len(out)} of {rows} rows")
    return out


