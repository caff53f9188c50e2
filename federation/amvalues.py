"""Plain Python values in and out of Automerge documents.

Records are written as nested maps of scalars so that the schema modules can
speak in dicts and dataclasses, and read back the same way. Counters are never
written (reading one panics in automerge 1.0.0rc1); reads accept whatever a
writer put there and leave it to the schema to refuse what does not fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from automerge.core import ROOT, Document, ObjType, ScalarType, Transaction

Plain = Any  # str | int | bool | bytes | float | None | list[Plain] | dict[str, Plain]
MAX_DEPTH = 16


def put_value(tx: Transaction, obj: bytes, prop: str | int, value: Plain, insert: bool = False) -> None:
    """Write `value` under `prop` of `obj` (or insert it at index `prop` of a list)."""
    if isinstance(value, Mapping):
        child = _new_object(tx, obj, prop, ObjType.Map, insert)
        for key, item in value.items():
            put_value(tx, child, key, item)
        return
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        child = _new_object(tx, obj, prop, ObjType.List, insert)
        for index, item in enumerate(value):
            put_value(tx, child, index, item, insert=True)
        return
    scalar_type = _scalar_type(value)
    if insert:
        assert isinstance(prop, int)
        tx.insert(obj, prop, scalar_type, value)
    else:
        tx.put(obj, prop, scalar_type, value)


def _new_object(tx: Transaction, obj: bytes, prop: str | int, obj_type: ObjType, insert: bool) -> bytes:
    if insert:
        assert isinstance(prop, int)
        return tx.insert_object(obj, prop, obj_type)
    return tx.put_object(obj, prop, obj_type)


def _scalar_type(value: Plain) -> ScalarType:
    if isinstance(value, bool):
        return ScalarType.Boolean
    if isinstance(value, int):
        return ScalarType.Int
    if isinstance(value, str):
        return ScalarType.Str
    if isinstance(value, bytes):
        return ScalarType.Bytes
    if isinstance(value, float):
        return ScalarType.F64
    if value is None:
        return ScalarType.Null
    raise TypeError(f"cannot store {type(value).__name__} in a document")


def ensure_map(tx: Transaction, key: str) -> bytes:
    """The id of the top-level map `key`, created if this document has none yet."""
    found = tx.get(ROOT, key)
    if found is not None and found[0] == ObjType.Map:
        return found[1]
    return tx.put_object(ROOT, key, ObjType.Map)


def read_map(doc: Document, key: str, heads: list[bytes] | None = None) -> dict[str, Plain]:
    """The top-level map `key` as a dict (empty if absent or not a map)."""
    found = doc.get(ROOT, key, heads)
    if found is None or found[0] != ObjType.Map:
        return {}
    value = _read_object(doc, found[1], ObjType.Map, heads, 0)
    return value if isinstance(value, dict) else {}


def read_root(doc: Document, heads: list[bytes] | None = None) -> dict[str, Plain]:
    """The whole root map as a dict, for small documents (a charter, a mandate log)."""
    value = _read_object(doc, ROOT, ObjType.Map, heads, 0)
    return value if isinstance(value, dict) else {}


def read_entry(doc: Document, key: str, entry: str, heads: list[bytes] | None = None) -> Plain:
    """One entry of the top-level map `key`, or None; cheap for authority checks."""
    found = doc.get(ROOT, key, heads)
    if found is None or found[0] != ObjType.Map:
        return None
    item = doc.get(found[1], entry, heads)
    return None if item is None else _read_item(doc, item, heads, 0)


def entry_op(doc: Document, key: str, entry: str,
             heads: list[bytes] | None = None) -> tuple[bytes, int] | None:
    """(actor, counter) of the op that made the object entry `entry` of the top-level map
    `key` as read (at `heads`), or None: which of two concurrent creations of one id is read."""
    found = doc.get(ROOT, key, heads)
    if found is None or found[0] != ObjType.Map:
        return None
    item = doc.get(found[1], entry, heads)
    return None if item is None or not isinstance(item[0], ObjType) else object_op(bytes(item[1]))


def _read_item(doc: Document, item: tuple[Any, bytes], heads: list[bytes] | None, depth: int) -> Plain:
    value, obj_id = item
    if isinstance(value, ObjType):
        return _read_object(doc, obj_id, value, heads, depth + 1)
    return _scalar(value)


# Scalar types as ints: comparing the binding's enum objects costs more than reading a value.
def _code(scalar_type: ScalarType) -> int:
    return int(scalar_type)  # type: ignore[call-overload,no-any-return]  # the enum converts


_STR, _BYTES = _code(ScalarType.Str), _code(ScalarType.Bytes)
_UNREAD = frozenset({_code(ScalarType.Counter), _code(ScalarType.Unknown)})


def _scalar(value: tuple[ScalarType, Any]) -> Plain:
    scalar_type, scalar = value
    kind = int(scalar_type)  # type: ignore[call-overload]
    if kind == _STR:  # most values: asked first
        return scalar
    if kind in _UNREAD:
        return None
    if kind == _BYTES:
        return bytes(scalar)  # the binding hands bytes back as a list of ints
    return scalar


def _read_object(doc: Document, obj: bytes, obj_type: ObjType, heads: list[bytes] | None,
                 depth: int) -> Plain:
    if depth > MAX_DEPTH:
        return None
    if obj_type == ObjType.Map:
        out: dict[str, Plain] = {}
        keys = doc.keys(obj, heads)
        # One call for every value (in key order, the winning one, as `get` gives it) instead
        # of one per key; asked key by key should the binding ever answer otherwise.
        items: list[Any] = doc.values(obj, heads)
        if len(items) != len(keys):
            items = [doc.get(obj, key, heads) for key in keys]
        for key, item in zip(keys, items, strict=True):
            if item is None:
                continue
            value = item[0]
            out[key] = (_read_object(doc, item[1], value, heads, depth + 1)
                        if isinstance(value, ObjType) else _scalar(value))
        return out
    if obj_type == ObjType.List:
        return [_read_item(doc, item, heads, depth) for item in doc.values(obj, heads)]
    return doc.text(obj, heads)


def entry_ids(doc: Document, key: str, heads: list[bytes] | None = None) -> dict[str, bytes]:
    """The object id of each object entry of the top-level map `key` (records)."""
    found = doc.get(ROOT, key, heads)
    if found is None or found[0] != ObjType.Map:
        return {}
    out = {}
    for entry in doc.keys(found[1], heads):
        item = doc.get(found[1], entry, heads)
        if item is not None and isinstance(item[0], ObjType):
            out[entry] = bytes(item[1])
    return out


def object_op(obj_id: bytes) -> tuple[bytes, int] | None:
    """(actor, counter) of the op that made an object, from the binding's object id:
    a tag byte, uLEB actor length, the actor, uLEB actor index, uLEB counter (None: root)."""
    try:
        pos, length = _uleb(obj_id, 1)
        actor = obj_id[pos:pos + length]
        pos, _ = _uleb(obj_id, pos + length)
        _, counter = _uleb(obj_id, pos)
    except IndexError:
        return None
    return (actor, counter) if len(actor) == length else None


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return pos, result
