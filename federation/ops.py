"""Every operation of a change, decoded from its columns, for the write rules.

federation/chunk.py checks a chunk's framing and keeps its op columns; this
module reads them row by row into `Op`s, so that federation/writerules.py can
judge each operation before Automerge sees it. Format: the Automerge binary
format's change op columns (Rust `storage/change/change_op_columns.rs`), as
protocol-spec/changes.md "Operations" restates them. Input is bounded: a
change of more than MAX_OPS operations is refused before any row is built.
Raises only `Rejected` (`malformed-change` for columns that do not decode).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from enum import IntEnum
from typing import Any, NamedTuple, TypeVar

from .chunk import ParsedChange, Reader
from .errors import Reason, Rejected

MAX_OPS = 1 << 16  # far above any record; a run-length column could otherwise claim billions
T = TypeVar("T")


class Action(IntEnum):
    MAKE_MAP = 0
    PUT = 1
    MAKE_LIST = 2
    DELETE = 3
    MAKE_TEXT = 4
    INCREMENT = 5
    MAKE_TABLE = 6
    MARK = 7


# Column specs, (column id << 4) | column type.
OBJ_ACTOR, OBJ_CTR = 0x01, 0x02
KEY_ACTOR, KEY_CTR, KEY_STR = 0x11, 0x13, 0x15
INSERT = 0x34
ACTION = 0x42
VALUE_META, VALUE_RAW = 0x56, 0x57
PRED_GROUP, PRED_ACTOR, PRED_CTR = 0x70, 0x71, 0x73
EXPAND, MARK_NAME = 0x94, 0xA5
KNOWN_COLUMNS = frozenset({OBJ_ACTOR, OBJ_CTR, KEY_ACTOR, KEY_CTR, KEY_STR, INSERT, ACTION,
                           VALUE_META, VALUE_RAW, PRED_GROUP, PRED_ACTOR, PRED_CTR, EXPAND,
                           MARK_NAME})
# Value types: the low 4 bits of a value metadata entry (the rest is the length).
VALUE_KINDS = {0: "null", 1: "bool", 2: "bool", 3: "uint", 4: "int", 5: "f64", 6: "str",
               7: "bytes", 8: "counter", 9: "timestamp"}


class OpId(NamedTuple):
    """An operation's id: its counter and its actor. The root object has no id (None).
    A named tuple: ids are hashed for every op judged, and a tuple hashes in C."""

    counter: int
    actor: bytes


HEAD = OpId(0, b"")  # the list position before the first element


class Op(NamedTuple):
    id: OpId
    obj: OpId | None  # the object written to; None is the root map
    key: str | None  # map key; None for a list operation
    elem: OpId | None  # list operations: the element it follows (HEAD for the start)
    insert: bool
    action: int
    kind: str  # value type for a put (VALUE_KINDS, "unknown" otherwise); "" for other actions
    value: object
    pred: tuple[OpId, ...]  # the operations this one overwrites

    def describe(self) -> str:
        """A short name for error details: action and key."""
        try:
            action = Action(self.action).name.lower()
        except ValueError:
            action = f"action {self.action}"
        return f"{action} {self.key if self.key is not None else 'list element'}"


def decode_ops(change: ParsedChange) -> list[Op]:
    """The operations of a parsed change, in order; Rejected if the columns do not decode."""
    n = change.num_ops
    if n > MAX_OPS:
        raise Rejected(Reason.SCHEMA_VIOLATION, f"rule W1: {n} operations, at most {MAX_OPS}")
    cols = dict(change.columns)
    unknown = sorted(set(cols) - KNOWN_COLUMNS)
    if unknown:
        raise Rejected(Reason.SCHEMA_VIOLATION, f"rule W1: unknown op column {unknown[0]:#x}")
    actors = (change.actor, *change.other_actors)
    # Columns Automerge reads as never null: without them it refuses the change.
    required = (INSERT, PRED_GROUP, VALUE_META)
    if n and any(spec not in cols for spec in required):
        raise Rejected(Reason.MALFORMED_CHANGE, "an op column Automerge requires is missing")

    def actor_of(index: int | None) -> bytes | None:
        if index is None:
            return None
        if index >= len(actors):
            raise Rejected(Reason.MALFORMED_CHANGE, f"actor index {index} of {len(actors)}")
        return actors[index]

    obj_actor = _rle(cols.get(OBJ_ACTOR, b""), n, Reader.uleb)
    obj_ctr = _rle(cols.get(OBJ_CTR, b""), n, Reader.uleb)
    key_actor = _rle(cols.get(KEY_ACTOR, b""), n, Reader.uleb)
    key_ctr = _delta(cols.get(KEY_CTR, b""), n)
    key_str = _rle(cols.get(KEY_STR, b""), n, _utf8)
    insert = _booleans(cols.get(INSERT, b""), n)
    action = _rle(cols.get(ACTION, b""), n, Reader.uleb)
    values = _values(cols.get(VALUE_META, b""), cols.get(VALUE_RAW, b""), n)
    groups = _rle(cols.get(PRED_GROUP, b""), n, Reader.uleb)
    total_preds = sum(g or 0 for g in groups)
    if total_preds > MAX_OPS:
        raise Rejected(Reason.MALFORMED_CHANGE, f"{total_preds} overwritten operations")
    pred_actor = _rle(cols.get(PRED_ACTOR, b""), total_preds, Reader.uleb)
    pred_ctr = _delta(cols.get(PRED_CTR, b""), total_preds)
    ops: list[Op] = []
    used = 0
    start, actor, put = change.start_op, change.actor, Action.PUT.value
    ids: dict[tuple[int | None, int | None], OpId | None] = {}  # objects repeat across rows
    for i in range(n):
        place = (obj_ctr[i], obj_actor[i])
        obj = ids.get(place, _UNSEEN)
        if obj is _UNSEEN:
            obj = ids[place] = _op_id(place[0], actor_of(place[1]), "object")
        key = key_str[i]
        elem = None
        if key is None:
            head = key_ctr[i] == 0 and key_actor[i] is None
            elem = HEAD if head else _op_id(key_ctr[i], actor_of(key_actor[i]), "list element")
        group = groups[i]
        if group is None:
            raise Rejected(Reason.MALFORMED_CHANGE, f"op {i} has a null predecessor count")
        pred: tuple[OpId, ...] = ()
        if group:
            pred = tuple(_pred(i, pred_ctr[used + j], actor_of(pred_actor[used + j]))
                         for j in range(group))
            used += group
        act = action[i]
        if act is None:
            raise Rejected(Reason.MALFORMED_CHANGE, f"op {i} has no action")
        kind, value = values[i] if act == put else ("", None)
        ops.append(Op(OpId(start + i, actor), obj, key, elem, insert[i], act, kind, value, pred))
    return ops


_UNSEEN = OpId(-1, b"")


def _pred(i: int, counter: int | None, actor: bytes | None) -> OpId:
    pred_id = _op_id(counter, actor, "overwritten operation")
    if pred_id is None:
        raise Rejected(Reason.MALFORMED_CHANGE, f"op {i} overwrites no operation")
    return pred_id


def _op_id(counter: int | None, actor: bytes | None, what: str) -> OpId | None:
    """An id from a counter and actor column pair: both null is none (the root, or HEAD)."""
    if counter is None and actor is None:
        return None
    if counter is None or actor is None or counter == 0:
        raise Rejected(Reason.MALFORMED_CHANGE, f"half an id for a {what}")
    return OpId(counter, actor)


def _utf8(r: Reader) -> str:
    try:
        return r.take(r.uleb()).decode("utf-8")
    except UnicodeDecodeError:
        r.fail("a key is not UTF-8")


# Decoded columns by their bytes: changes of one kind repeat most of their columns byte for
# byte (the actions, the insert flags, the actor indexes), so each is decoded once. Only what
# decoded is kept, the lists are never changed by their readers, and the memo is bounded:
# at most MAX_DECODED columns of at most MEMO_ROWS rows and MEMO_BYTES bytes each.
_DECODED: dict[tuple[bytes, int, object], list[Any]] = {}
MAX_DECODED = 4_096
MEMO_ROWS = MEMO_BYTES = 64


def _rle(column: bytes, rows: int, read: Callable[[Reader], T]) -> list[T | None]:
    """A run-length encoded column of at most `rows` rows; rows it does not hold are null,
    as Automerge reads a column that runs out. Read only: the list may be shared."""
    if rows > MEMO_ROWS or len(column) > MEMO_BYTES:
        return _decode_rle(column, rows, read)
    memo = (column, rows, read)
    found = _DECODED.get(memo)
    if found is not None:
        return found
    out = _decode_rle(column, rows, read)
    if len(_DECODED) >= MAX_DECODED:
        _DECODED.clear()
    _DECODED[memo] = out
    return out


def _decode_rle(column: bytes, rows: int, read: Callable[[Reader], T]) -> list[T | None]:
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


def _delta(column: bytes, rows: int) -> list[int | None]:
    """A delta-encoded column: each value is the previous non-null one plus the delta."""
    out: list[int | None] = []
    last = 0
    for delta in _rle(column, rows, Reader.sleb):
        if delta is None:
            out.append(None)
            continue
        last += delta
        if last < 0:
            raise Rejected(Reason.MALFORMED_CHANGE, "a negative counter")
        out.append(last)
    return out


def _booleans(column: bytes, rows: int) -> list[bool]:
    """Alternating run lengths, starting with false, of exactly `rows` rows: Automerge does
    not take a change whose insert column runs out early."""
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


def _values(meta_column: bytes, raw: bytes, rows: int) -> list[tuple[str, object]]:
    """(kind, value) of each row from the value metadata and raw columns."""
    out: list[tuple[str, object]] = []
    pos = 0
    for meta in _rle(meta_column, rows, Reader.uleb):
        if meta is None:
            raise Rejected(Reason.MALFORMED_CHANGE, "a null in the value metadata column")
        end = pos + (meta >> 4)
        if end > len(raw):
            raise Rejected(Reason.MALFORMED_CHANGE, f"{meta >> 4} bytes wanted at byte {pos}, "
                                                    f"{len(raw) - pos} left")
        out.append(_value(meta & 0x0F, raw[pos:end]))
        pos = end
    if pos < len(raw):
        raise Rejected(Reason.MALFORMED_CHANGE, "the value column holds more than its metadata says")
    return out


FIXED_BYTES = {"null": 0, "bool": 0, "f64": 8}
NUMBERS = frozenset({"uint", "int", "counter", "timestamp"})


def _value(tag: int, data: bytes) -> tuple[str, object]:
    kind = VALUE_KINDS.get(tag, "unknown")
    if kind == "str":  # most values: checked first
        try:
            return kind, data.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(Reason.MALFORMED_CHANGE, "a string value is not UTF-8") from None
    fixed = FIXED_BYTES.get(kind)
    if fixed is not None and len(data) != fixed:
        raise Rejected(Reason.MALFORMED_CHANGE, f"a {kind} value of {len(data)} bytes")
    if kind == "null":
        return kind, None
    if kind == "bool":
        return kind, tag == 2
    if kind == "f64":
        return kind, struct.unpack("<d", data)[0]
    if kind in NUMBERS:
        r = Reader(data)
        number = r.uleb() if kind == "uint" else r.sleb()
        if r.pos < len(data):
            raise Rejected(Reason.MALFORMED_CHANGE, f"junk after a {kind} value")
        return kind, number
    return kind, data


MAKES = frozenset({Action.MAKE_MAP, Action.MAKE_LIST, Action.MAKE_TEXT, Action.MAKE_TABLE})
PLAIN_KINDS = frozenset({"str", "uint", "int", "f64", "bool", "bytes", "null"})  # others read as None


def made_under_keys(change: ParsedChange) -> list[tuple[OpId | None, str, OpId, object]]:
    """(parent object, map key, id of the op, value) of every object a change makes under a
    map key, with the value as a reader of the document gets it (amvalues.read_entry) when
    the change alone writes all of it, as the write rules have every record written (W6):
    maps as dicts, lists in Automerge's order (elements after the same one, the later op
    first), scalars as Python values. What an index of records needs of a judged change,
    without the document."""
    made: dict[OpId, dict[str, object] | list[object]] = {}
    after: dict[tuple[OpId, OpId], list[OpId]] = {}  # (list, element before) -> elements
    values: dict[OpId, object] = {}  # list element -> its value
    out = []
    for op in decode_ops(change):
        value: object
        if op.action in MAKES:
            value = made[op.id] = {} if op.action in (Action.MAKE_MAP, Action.MAKE_TABLE) else []
        elif op.action == Action.PUT:
            value = op.value if op.kind in PLAIN_KINDS else None
        else:
            continue
        parent = made.get(op.obj) if op.obj is not None else None
        if op.insert and isinstance(parent, list) and op.elem is not None and op.obj is not None:
            after.setdefault((op.obj, op.elem), []).append(op.id)
            values[op.id] = value
        elif op.key is not None and not op.insert:
            if isinstance(parent, dict):
                parent[op.key] = value
            elif op.action in MAKES:
                out.append((op.obj, op.key, op.id, value))
    for obj_id, made_obj in made.items():
        if isinstance(made_obj, list):
            made_obj.extend(values[e] for e in _in_order(obj_id, HEAD, after))
        else:  # keys in Automerge's order, as the document gives them
            entries = sorted(made_obj.items())
            made_obj.clear()
            made_obj.update(entries)
    return out


def _in_order(list_id: OpId, start: OpId, after: dict[tuple[OpId, OpId], list[OpId]]) -> list[OpId]:
    """The elements of a list made in one change, in Automerge's (RGA) order."""
    order: list[OpId] = []
    stack = sorted(after.get((list_id, start), ()))
    while stack:
        element = stack.pop()  # the greatest id first
        order.append(element)
        stack.extend(sorted(after.get((list_id, element), ())))
    return order
