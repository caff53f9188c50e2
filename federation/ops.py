"""Every operation of a change, decoded from its columns, for the write rules.

federation/chunk.py checks a chunk's framing and keeps its op columns; this
module reads them (federation/columns.py decodes each) into `Rows`, one list per
field, so that federation/writerules.py can judge each operation before Automerge
sees it. The rows are read column by column; when that finds anything wrong,
they are read again one by one, so that the refusal names the first bad row.
Format: the Automerge binary format's change op columns (Rust
`storage/change/change_op_columns.rs`), as protocol-spec/changes.md
"Operations" restates them. Input is bounded: a
change of more than MAX_OPS operations is refused before any row is built.
Raises only `Rejected` (`malformed-change` for columns that do not decode).
"""

from __future__ import annotations

import struct
from enum import IntEnum
from itertools import repeat
from typing import Any, Final, NamedTuple, cast, final

from .bounded import keep, make_room
from .chunk import ParsedChange
from .columns import (
    MAX_OPS,
    Reader,
    boolean_column,
    delta_column,
    filled,
    int_column,
    nulls,
    shared_rows,
    string_column,
)
from .errors import Reason, Rejected


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
# Final: compiled code reads a Final module constant directly, any other through the
# module's dict (so every constant read per change or per op is Final).
OBJ_ACTOR: Final = 0x01
OBJ_CTR: Final = 0x02
KEY_ACTOR: Final = 0x11
KEY_CTR: Final = 0x13
KEY_STR: Final = 0x15
INSERT: Final = 0x34
ACTION: Final = 0x42
VALUE_META: Final = 0x56
VALUE_RAW: Final = 0x57
PRED_GROUP: Final = 0x70
PRED_ACTOR: Final = 0x71
PRED_CTR: Final = 0x73
EXPAND: Final = 0x94
MARK_NAME: Final = 0xA5
# Each known column's slot: where decoded_columns puts its bytes (0: not a known column).
COLUMN_SLOTS: Final = (0, OBJ_ACTOR, OBJ_CTR, KEY_ACTOR, KEY_CTR, KEY_STR, INSERT, ACTION, VALUE_META,
                       VALUE_RAW, PRED_GROUP, PRED_ACTOR, PRED_CTR, EXPAND, MARK_NAME)
KNOWN_COLUMNS: Final = frozenset(COLUMN_SLOTS[1:])
KNOWN_BELOW: Final = 0x100  # every known spec is under it: ...
SLOTS: Final = bytes(COLUMN_SLOTS.index(spec) if spec in KNOWN_COLUMNS else 0  # ... and its slot here
                     for spec in range(KNOWN_BELOW))
REQUIRED_SLOTS: Final = 1 << SLOTS[INSERT] | 1 << SLOTS[PRED_GROUP] | 1 << SLOTS[VALUE_META]
EMPTY: Final = b""
# Value types: the low 4 bits of a value metadata entry (the rest is the length).
VALUE_KINDS: Final = {0: "null", 1: "bool", 2: "bool", 3: "uint", 4: "int", 5: "f64", 6: "str",
                      7: "bytes", 8: "counter", 9: "timestamp"}


class OpId(NamedTuple):
    """An operation's id: its counter and its actor. The root object has no id (None).
    A named tuple: ids are hashed for every op judged, and a tuple hashes in C."""

    counter: int
    actor: bytes


# tuple.__new__, looked up once: compiled code calling it by name looks the method up each time.
NEW_TUPLE: Final = tuple.__new__


def new_op_id(counter: int, actor: bytes) -> OpId:
    """`OpId(counter, actor)`, built as the tuple it is: compiled code calling a NamedTuple
    runs its generated `__new__` as Python (about 0.3 µs an id, measured), and ingest builds
    a few ids for every change."""
    return NEW_TUPLE(OpId, (counter, actor))


def own_id(objs: list[OpId | None], i: int, start: int, actor: bytes) -> OpId:
    """The id of row `i` of a change (`objs`: the object each row writes to): the one the next
    row writes to, when that row writes into what row `i` made (a record's first field
    does), so that an id is not built twice (1.3k instructions each, measured)."""
    if i + 1 < len(objs):
        following = objs[i + 1]
        if following is not None and following[0] == start + i and following[1] == actor:
            return following
    return new_op_id(start + i, actor)


HEAD: Final = OpId(0, b"")  # the list position before the first element
# As plain ints: compiled code looks an enum's members up by name.
PUT: Final = int(Action.PUT)
MAKE_MAP: Final = int(Action.MAKE_MAP)
MAKE_TABLE: Final = int(Action.MAKE_TABLE)
# What a put writes (a str, int, float, bool, bytes or None). A name of this module, not
# `object`: mypyc reads a NamedTuple's field types from the module's names at import.
Value = object


class Op(NamedTuple):
    id: OpId
    obj: OpId | None  # the object written to; None is the root map
    key: str | None  # map key; None for a list operation
    elem: OpId | None  # list operations: the element it follows (HEAD for the start)
    insert: bool
    action: int
    kind: str  # value type for a put (VALUE_KINDS, "unknown" otherwise); "" for other actions
    value: Value
    pred: tuple[OpId, ...]  # the operations this one overwrites

    def describe(self) -> str:
        """A short name for error details: action and key."""
        try:
            action = Action(self.action).name.lower()
        except ValueError:
            action = f"action {self.action}"
        return f"{action} {self.key if self.key is not None else 'list element'}"


@final
class Rows:
    """A change's operations column by column: row i of each list is op i (`op(i)` builds it).
    The write rules read the columns, so no `Op` is built for a change they allow. A plain
    slotted class, not a NamedTuple: built for every change, compiled it is built by its own
    `__init__` (a NamedTuple through a generic call of tuple.__new__, ~1k instructions)."""

    __slots__ = ("action", "actor", "elem", "insert", "key", "kind", "obj", "pred", "start", "value")

    def __init__(self, start: int, actor: bytes, obj: list[OpId | None], key: list[str | None],
                 elem: list[OpId | None], insert: list[bool], action: list[int], kind: list[str],
                 value: list[object], pred: list[tuple[OpId, ...]]) -> None:
        self.start, self.actor = start, actor  # the first op's counter, and the change's actor
        self.obj, self.key, self.elem, self.insert, self.action = obj, key, elem, insert, action
        self.kind, self.value, self.pred = kind, value, pred

    def op(self, i: int) -> Op:
        return Op(OpId(self.start + i, self.actor), self.obj[i], self.key[i], self.elem[i],
                  self.insert[i], self.action[i], self.kind[i], self.value[i], self.pred[i])


def decode_ops(change: ParsedChange) -> list[Op]:
    """The operations of a parsed change, in order; Rejected if the columns do not decode."""
    rows = decode_rows(change)
    ids = map(OpId, range(rows.start, rows.start + len(rows.action)), repeat(rows.actor))
    return list(map(Op, ids, rows.obj, rows.key, rows.elem, rows.insert, rows.action, rows.kind,
                    rows.value, rows.pred))


def decode_rows(change: ParsedChange) -> Rows:
    """The operations of a parsed change as columns; Rejected if the columns do not decode."""
    columns = decoded_columns(change)
    try:
        return columns.rows_at_once(change.start_op)
    except Rejected:
        return columns.row_by_row(change.start_op)  # raises what the first bad row breaks


def decoded_columns(change: ParsedChange) -> _Columns:
    """The op columns of a parsed change, decoded, to be read as rows."""
    n = change.num_ops
    if n > MAX_OPS:
        raise Rejected(Reason.SCHEMA_VIOLATION, f"rule W1: {n} operations, at most {MAX_OPS}")
    specs, data = change.specs, change.columns
    cols = [EMPTY] * len(COLUMN_SLOTS)  # each known column's bytes by its slot, b"" if absent
    present = 0  # a bit for each slot
    for i, spec in enumerate(specs):
        slot = SLOTS[spec] if spec < KNOWN_BELOW else 0
        if not slot:
            unknown = min(set(specs) - KNOWN_COLUMNS)
            raise Rejected(Reason.SCHEMA_VIOLATION, f"rule W1: unknown op column {unknown:#x}")
        cols[slot] = data[i]
        present |= 1 << slot
    if n and present & REQUIRED_SLOTS != REQUIRED_SLOTS:  # never null to Automerge
        raise Rejected(Reason.MALFORMED_CHANGE, "an op column Automerge requires is missing")
    obj_actor = int_column(cols[SLOTS[OBJ_ACTOR]], n)
    obj_ctr = int_column(cols[SLOTS[OBJ_CTR]], n)
    key_actor = int_column(cols[SLOTS[KEY_ACTOR]], n)
    key_ctr = delta_column(cols[SLOTS[KEY_CTR]], n)
    key_str = string_column(cols[SLOTS[KEY_STR]], n)
    insert = boolean_column(cols[SLOTS[INSERT]], n)
    action = int_column(cols[SLOTS[ACTION]], n)
    kinds, values = _values(cols[SLOTS[VALUE_META]], cols[SLOTS[VALUE_RAW]], n)
    groups = int_column(cols[SLOTS[PRED_GROUP]], n)
    total_preds = 0  # a loop: sum(filter(...)) looks both up by name and calls them generically
    for group in groups:
        if group is not None:
            total_preds += group
    if total_preds > MAX_OPS:
        raise Rejected(Reason.MALFORMED_CHANGE, f"{total_preds} overwritten operations")
    # (actor,) + others, not (actor, *others): compiled, the starred form builds a list and
    # copies it into the tuple (a thousand instructions a change, measured)
    return _Columns((change.actor,) + change.other_actors, obj_actor, obj_ctr,  # noqa: RUF005
                    key_actor, key_ctr, key_str, insert, action, kinds, values, groups,
                    int_column(cols[SLOTS[PRED_ACTOR]], total_preds),
                    delta_column(cols[SLOTS[PRED_CTR]], total_preds))


class _Columns:
    """The decoded columns of a change, before they are read as ops. A plain class, not a
    NamedTuple: compiled, its methods are then called directly, not looked up by name."""

    def __init__(self, actors: tuple[bytes, ...], obj_actor: list[int | None],
                 obj_ctr: list[int | None], key_actor: list[int | None], key_ctr: list[int | None],
                 key_str: list[str | None], insert: list[bool], action: list[int | None],
                 kinds: list[str], values: list[object], groups: list[int | None],
                 pred_actor: list[int | None], pred_ctr: list[int | None]) -> None:
        self.actors = actors
        self.obj_actor = obj_actor
        self.obj_ctr = obj_ctr
        self.key_actor = key_actor
        self.key_ctr = key_ctr
        self.key_str = key_str
        self.insert = insert
        self.action = action
        self.kinds = kinds  # fresh lists (never memo-shared): rows_at_once blanks non-puts in place
        self.values = values
        self.groups = groups
        self.pred_actor = pred_actor
        self.pred_ctr = pred_ctr

    def actor_of(self, index: int | None) -> bytes | None:
        if index is None:
            return None
        if index >= len(self.actors):
            raise Rejected(Reason.MALFORMED_CHANGE, f"actor index {index} of {len(self.actors)}")
        return self.actors[index]

    def rows_at_once(self, start: int) -> Rows:
        """The rows read column by column: what `row_by_row` reads, and Rejected whenever it
        is (perhaps for another row: then `row_by_row` says which is first)."""
        n = len(self.action)
        objs = self.objects(start)
        keys = self.key_str
        elems: list[OpId | None] = nulls(n)
        if _any_null(keys):
            elems = [None if key is not None else self.elem(ctr, actor)
                     for key, ctr, actor in zip(keys, self.key_ctr, self.key_actor, strict=True)]
        if _any_null(self.groups) or _any_null(self.action):
            raise Rejected(Reason.MALFORMED_CHANGE, "a null predecessor count or action")
        actions: list[int] = self.action  # type: ignore[assignment]  # no null: just checked
        preds: list[tuple[OpId, ...]] = filled(_NO_PREDS, n, ())  # shared: read only
        if self.pred_actor:
            preds = self.preds()
        kinds, values = self.kinds, self.values
        if actions.count(PUT) != n:
            for i, act in enumerate(actions):
                if act != PUT:  # only a put has a value
                    kinds[i], values[i] = "", None
        return Rows(start, self.actors[0], objs, keys, elems, self.insert, actions, kinds, values, preds)

    def objects(self, start: int) -> list[OpId | None]:
        """The object each row writes to: rows of one object follow each other and share its
        id, so an id is built only where the object changes (a dict of the ids built, to
        find one again, cost more than building the few a change writes to, measured), and
        an object made before this change (`start`: its first op) is taken from the ids
        remembered of earlier changes (`_held_id`)."""
        objs: list[OpId | None] = []
        obj_actor = self.obj_actor
        last_ctr: int | None = -1
        last_actor: int | None = -1
        obj: OpId | None = None
        for i, ctr in enumerate(self.obj_ctr):
            actor = obj_actor[i]
            # by identity first: a run's rows share one int object
            if (ctr is not last_ctr or actor is not last_actor) \
                    and (ctr != last_ctr or actor != last_actor):
                last_ctr, last_actor = ctr, actor
                if ctr is not None and ctr < start:
                    obj = _held_id(ctr, self.actor_of(actor))
                else:
                    obj = _op_id(ctr, self.actor_of(actor), "object")
            objs.append(obj)
        return objs

    def elem(self, ctr: int | None, actor: int | None) -> OpId | None:
        head = ctr == 0 and actor is None
        return HEAD if head else _op_id(ctr, self.actor_of(actor), "list element")

    def preds(self) -> list[tuple[OpId, ...]]:
        used = 0
        out: list[tuple[OpId, ...]] = []
        for i, group in enumerate(self.groups):
            assert group is not None
            out.append(self.pred(i, used, group))
            used += group
        return out

    def pred(self, i: int, used: int, group: int) -> tuple[OpId, ...]:
        """The ops row `i` overwrites: `group` of them, after the `used` of earlier rows."""
        return tuple(_pred(i, self.pred_ctr[used + j], self.actor_of(self.pred_actor[used + j]))
                     for j in range(group))

    def row_by_row(self, start: int) -> Rows:
        """The rows read one by one, each checked in full before the next: the first bad row
        is the one refused."""
        rows = Rows(start, self.actors[0], [], [], [], self.insert, [], [], [], [])
        used = 0
        ids: dict[tuple[int | None, int | None], OpId | None] = {}  # objects repeat across rows
        for i, (place, key, group, act) in enumerate(zip(
                zip(self.obj_ctr, self.obj_actor, strict=True), self.key_str, self.groups, self.action,
                strict=True)):
            obj = ids.get(place, _UNSEEN)
            if obj is _UNSEEN:
                obj = ids[place] = _op_id(place[0], self.actor_of(place[1]), "object")
            elem = None if key is not None else self.elem(self.key_ctr[i], self.key_actor[i])
            if group is None:
                raise Rejected(Reason.MALFORMED_CHANGE, f"op {i} has a null predecessor count")
            pred = self.pred(i, used, group)
            used += group
            if act is None:
                raise Rejected(Reason.MALFORMED_CHANGE, f"op {i} has no action")
            put = act == PUT
            rows.obj.append(obj)
            rows.key.append(key)
            rows.elem.append(elem)
            rows.action.append(act)
            rows.kind.append(self.kinds[i] if put else "")
            rows.value.append(self.values[i] if put else None)
            rows.pred.append(pred)
        return rows


_UNSEEN: Final = OpId(-1, b"")
_NO_PREDS: Final = shared_rows(())


def _any_null(column: list[Any]) -> bool:
    """`None in column`, compared by identity: `in` asks each str or int whether it equals
    None (two calls an item), which for a few columns of every change adds up."""
    return any(item is None for item in column)  # compiled: a loop, no generator


def _held_id(counter: int, actor: bytes | None) -> OpId | None:
    """`_op_id(counter, actor, "object")` of an object made before the change writing to it:
    changes of one kind write into the same few maps (a ledger's collections), so their ids
    are remembered by counter (a bounded memo; only ids built whole), not built again (1.3k
    instructions each, a NamedTuple built through tuple.__new__, measured)."""
    found = _HELD_IDS.get(counter)
    if found is not None and found[1] == actor:
        return found
    made = _op_id(counter, actor, "object")
    if made is None:
        return None
    return keep(_HELD_IDS, counter, made, MAX_HELD_IDS)


_HELD_IDS: Final[dict[int, OpId]] = {}
MAX_HELD_IDS: Final = 256


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
    return new_op_id(counter, actor)


STR_TAG: Final = 6
SMALL_INT: Final = 1 << 4 | 4  # value metadata of a one-byte int
TWO_BYTE_INT: Final = 2 << 4 | 4  # ... and of a two-byte one


def _values(meta_column: bytes, raw: bytes, rows: int) -> tuple[list[str], list[object]]:
    """The kind and value of each row, from the value metadata and raw columns."""
    kinds: list[str] = []
    values: list[object] = []
    pos, size = 0, len(raw)
    for meta in int_column(meta_column, rows):
        if meta is None:
            raise Rejected(Reason.MALFORMED_CHANGE, "a null in the value metadata column")
        end = pos + (meta >> 4)
        if end > size:
            raise Rejected(Reason.MALFORMED_CHANGE, f"{meta >> 4} bytes wanted at byte {pos}, "
                                                    f"{size - pos} left")
        if meta & 0x0F == STR_TAG:  # most values: read here (compiled, a slice and its
            try:  # decoding are C calls; asking a str whether it is ASCII is a method call)
                string = raw[pos:end].decode("utf-8")
            except UnicodeDecodeError:
                raise Rejected(Reason.MALFORMED_CHANGE, "a string value is not UTF-8") from None
            values.append(string)
            kinds.append("str")
        elif not meta:  # a null, or no value (a make or a delete)
            values.append(None)
            kinds.append("null")
        elif meta == SMALL_INT and raw[pos] < 0x80:  # an int of one byte, -64..63
            values.append(raw[pos] - 0x80 if raw[pos] & 0x40 else raw[pos])
            kinds.append("int")
        elif meta == TWO_BYTE_INT and raw[pos] >= 0x80 and raw[pos + 1] < 0x80 \
                and raw[pos + 1] != (0x7F if raw[pos] & 0x40 else 0):  # minimal: not one byte's
            low, high = raw[pos] & 0x7F, raw[pos + 1]  # an int of two bytes, -8192..8191
            values.append(low | (high - 0x80) << 7 if high & 0x40 else low | high << 7)
            kinds.append("int")
        else:
            kind, value = _value(meta & 0x0F, raw[pos:end])
            kinds.append(kind)
            values.append(value)
        pos = end
    if pos < size:
        raise Rejected(Reason.MALFORMED_CHANGE, "the value column holds more than its metadata says")
    return kinds, values


FIXED_BYTES: Final = {"null": 0, "bool": 0, "f64": 8}
NUMBERS: Final = frozenset({"uint", "int", "counter", "timestamp"})


def _value(tag: int, data: bytes) -> tuple[str, object]:
    kind = VALUE_KINDS.get(tag, "unknown")
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


MAKES: Final = frozenset({Action.MAKE_MAP, Action.MAKE_LIST, Action.MAKE_TEXT, Action.MAKE_TABLE})
PLAIN_KINDS: Final = frozenset({"str", "uint", "int", "f64", "bool", "bytes", "null"})  # others read as None


Made = tuple[OpId | None, str, OpId, object]  # (parent object, map key, op id, value)


def made_under_keys(rows: Rows) -> list[Made]:
    """(parent object, map key, id of the op, value) of every object a change makes under a
    map key, with the value as a reader of the document gets it (amvalues.read_entry) when
    the change alone writes all of it, as the write rules have every record written (W6):
    maps as dicts, lists in Automerge's order (elements after the same one, the later op
    first), scalars as Python values. What an index of records needs of a judged change,
    without the document: read from the rows the write rules decoded, column by column (no
    `Op` is built), the same rows whoever decoded them."""
    record = _one_record(rows)
    if record is not None:
        return record
    made: dict[OpId, dict[str, object] | list[object]] = {}
    after: dict[tuple[OpId, OpId], list[OpId]] = {}  # (list, element before) -> elements
    values: dict[OpId, object] = {}  # list element -> its value
    out: list[Made] = []
    start, actor = rows.start, rows.actor
    objs, keys, elems, inserts, kinds, values_put = rows.obj, rows.key, rows.elem, rows.insert, \
        rows.kind, rows.value
    # Rows of one object follow each other and share its id: the object each writes to is
    # looked up once per run (and again after anything is made, which may be it).
    last: OpId | None = _NO_OBJECT
    parent: dict[str, object] | list[object] | None = None
    made_id: OpId | None
    for i, action in enumerate(rows.action):  # every column has a row for each action
        obj = objs[i]
        if obj is not last:
            last = obj
            parent = made.get(obj) if obj is not None else None
        if action == PUT:
            value = values_put[i] if kinds[i] in PLAIN_KINDS else None
            if isinstance(parent, dict):  # the usual put: a field of a map made here
                key = keys[i]
                if key is not None and not inserts[i]:
                    parent[key] = value
                    continue
            made_id = None
        elif action in MAKES:
            made_id = own_id(objs, i, start, actor)
            value = made[made_id] = {} if action in (MAKE_MAP, MAKE_TABLE) else []
            last = _NO_OBJECT
        else:
            continue
        key, elem = keys[i], elems[i]
        if inserts[i] and isinstance(parent, list) and elem is not None and obj is not None:
            element = new_op_id(start + i, actor) if made_id is None else made_id
            after.setdefault((obj, elem), []).append(element)
            values[element] = value
        elif key is not None and not inserts[i]:
            if isinstance(parent, dict):
                parent[key] = value
            elif made_id is not None:  # a map or list made, not in a map made here
                out.append((obj, key, made_id, value))
    for obj_id, made_obj in made.items():
        if isinstance(made_obj, list):
            made_obj.extend(values[e] for e in _in_order(obj_id, HEAD, after))
        else:  # keys in Automerge's order, as the document gives them (the keys sorted
            # alone: as (key, value) pairs each comparison compares tuples first)
            entries = {key: made_obj[key] for key in sorted(made_obj)}
            made_obj.clear()
            made_obj.update(entries)
    return out


def _one_record(rows: Rows) -> list[Made] | None:
    """`_one_map_made` of a change it fits; None for any other change."""
    action, objs, keys, inserts, kinds = rows.action, rows.obj, rows.key, rows.insert, rows.kind
    count = len(action)
    if count < 2 or keys[0] is None or action[0] != MAKE_MAP or inserts[0]:
        return None
    made_id = own_id(objs, 0, rows.start, rows.actor)
    for i in range(1, count):
        obj = objs[i]
        if action[i] != PUT or keys[i] is None or inserts[i] or kinds[i] not in PLAIN_KINDS \
                or (obj is not made_id and obj != made_id):
            return None
    return _one_map_made(rows)


def _one_map_made(rows: Rows) -> list[Made]:
    """`made_under_keys` of a change that makes one map under a map key (op 0) and puts
    values of plain kinds under keys of it (every other op), as nearly every record is
    written, read straight from the columns: the map is a copy of one holding the keys put
    in Automerge's order, given their values in the order put (the later of a key put
    twice, as the walk keeps). The walk's two dicts a record (grown, and sorted into the
    other) and its sort made it 19.6k instructions a change of the bench's decisions, this
    7.7k (callgrind), 10.9k with `_one_record` asking first."""
    keys, objs = rows.key, rows.obj
    names = cast(tuple[str, ...], tuple(keys[1:]))
    ordered = _ORDERED_MAPS.get(names)
    if ordered is None:
        make_room(_ORDERED_MAPS, MAX_ORDERED_MAPS)
        ordered = _ORDERED_MAPS[names] = dict.fromkeys(sorted(set(names)))
    record = ordered.copy()  # its keys copied at once: no dict grown key by key
    values = rows.value
    for i in range(1, len(values)):
        record[names[i - 1]] = values[i]
    return [(objs[0], cast(str, keys[0]), own_id(objs, 0, rows.start, rows.actor), record)]


# Empty maps by the keys a record's change put, in the order put, each holding those keys in
# Automerge's order: records of one kind written by one program put the same keys in the
# same order, so a few serve every record.
_ORDERED_MAPS: Final[dict[tuple[str, ...], dict[str, object]]] = {}
MAX_ORDERED_MAPS: Final = 256


_NO_OBJECT: Final = OpId(0, b"none")  # no row's object: rows write to None (the root) or an op's id


def _in_order(list_id: OpId, start: OpId, after: dict[tuple[OpId, OpId], list[OpId]]) -> list[OpId]:
    """The elements of a list made in one change, in Automerge's (RGA) order."""
    order: list[OpId] = []
    stack = sorted(after.get((list_id, start), ()))
    while stack:
        element = stack.pop()  # the greatest id first
        order.append(element)
        stack.extend(sorted(after.get((list_id, element), ())))
    return order
