"""federation/ops.py reads back exactly the operations Automerge wrote, and refuses any
op column it cannot read with `Rejected`, never another exception."""

from __future__ import annotations

import json
import random
from pathlib import Path

import automerge.core as am
import pytest
from pnyx.federation import columns
from pnyx.federation.chunk import parse_change
from pnyx.federation.errors import Rejected
from pnyx.federation.ops import HEAD, Action, OpId, decode_ops

from .ledgerkit import body_of, columns_start, rechecksum

A, B = b"\x01" * 40, b"\x02" * 40


def changes() -> tuple[bytes, bytes]:
    first = am.Document(A)
    with first.transaction() as tx:
        decisions = tx.put_object(am.ROOT, "decisions", am.ObjType.Map)
        record = tx.put_object(decisions, "abc", am.ObjType.Map)
        tx.put(record, "title", am.ScalarType.Str, "assemblée")
        tx.put(record, "for", am.ScalarType.Int, -5)
        tx.put(record, "sig", am.ScalarType.Bytes, b"\x00\x01")
        tx.put(record, "quorum", am.ScalarType.Null, None)
        tx.put(record, "open", am.ScalarType.Boolean, True)
        saw = tx.put_object(record, "saw", am.ObjType.List)
        tx.insert(saw, 0, am.ScalarType.Str, "a")
        tx.insert(saw, 1, am.ScalarType.Str, "b")
    second = am.Document(B)
    second.merge(first)
    with second.transaction() as tx:
        tx.put(second.get(am.ROOT, "decisions")[1], "abc", am.ScalarType.Str, "over")
        tx.delete(am.ROOT, "decisions")
    return (bytes(first.get_changes([])[0].raw_bytes),
            bytes(second.get_changes(first.get_heads())[0].raw_bytes))


def test_the_ops_automerge_wrote_are_read_back() -> None:
    made, overwrite = (decode_ops(parse_change(raw)) for raw in changes())
    assert [(op.id, op.obj, op.key, op.action, op.kind, op.value) for op in made[:8]] == [
        (OpId(1, A), None, "decisions", Action.MAKE_MAP, "", None),
        (OpId(2, A), OpId(1, A), "abc", Action.MAKE_MAP, "", None),
        (OpId(3, A), OpId(2, A), "title", Action.PUT, "str", "assemblée"),
        (OpId(4, A), OpId(2, A), "for", Action.PUT, "int", -5),
        (OpId(5, A), OpId(2, A), "sig", Action.PUT, "bytes", b"\x00\x01"),
        (OpId(6, A), OpId(2, A), "quorum", Action.PUT, "null", None),
        (OpId(7, A), OpId(2, A), "open", Action.PUT, "bool", True),
        (OpId(8, A), OpId(2, A), "saw", Action.MAKE_LIST, "", None),
    ]
    assert [(op.insert, op.elem, op.value) for op in made[8:]] == [
        (True, HEAD, "a"), (True, OpId(9, A), "b")]
    assert all(not op.pred for op in made)
    assert [(op.obj, op.key, op.action, op.pred) for op in overwrite] == [
        (OpId(1, A), "abc", Action.PUT, (OpId(2, A),)),
        (None, "decisions", Action.DELETE, (OpId(1, A),)),
    ]


def test_every_history_vector_decodes_to_its_op_count() -> None:
    history = json.loads((Path(__file__).parent.parent / "protocol-spec/vectors/history.json").read_text())
    for step in history["envelopes"]:
        change = parse_change(bytes.fromhex(step["change"]))
        assert len(decode_ops(change)) == change.num_ops == step["max_op"] - step["start_op"] + 1


@pytest.mark.parametrize("seed", range(4))
def test_mangled_op_columns_are_rejected_or_read_never_crash(seed: int) -> None:
    rng = random.Random(seed)
    raw = changes()[0]
    body = body_of(raw)
    start = columns_start(body)
    outcomes = {"read": 0, "rejected": 0}
    for _ in range(500):
        mutated = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(start, len(body))] = rng.randrange(256)
        try:
            decode_ops(parse_change(rechecksum(bytes(mutated))))
            outcomes["read"] += 1
        except Rejected:  # anything else escaping fails the test
            outcomes["rejected"] += 1
    assert outcomes["read"] and outcomes["rejected"], outcomes


def test_columns_decoded_once_are_read_back_the_same_and_only_small_ones_are_kept() -> None:
    """The memo of decoded columns gives what decoding gives, and keeps no large column:
    a peer's changes can make it hold at most MAX_DECODED small lists."""
    for memo in columns._DECODED:
        memo.clear()
    big = am.Document(A)
    with big.transaction() as tx:
        record = tx.put_object(am.ROOT, "decisions", am.ObjType.Map)
        for n in range(200):
            tx.put(record, f"key {n}", am.ScalarType.Str, f"value {n}")
    parsed = [parse_change(c) for c in (*changes(), bytes(big.get_changes([])[0].raw_bytes))]
    first = [decode_ops(p) for p in parsed]
    assert any(columns._DECODED) and all(len(column) <= columns.MEMO_BYTES and len(rows) <= columns.MEMO_ROWS
                                         for memo in columns._DECODED for column, rows in memo.items())
    assert [decode_ops(p) for p in parsed] == first  # the second time from the memo
    assert len(first[-1]) == 201 and first[-1][-1].value == "value 199"
