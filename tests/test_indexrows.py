"""federation/indexrows.py alone: the records a ledger's changes make and the rows the index
keeps of them, from data handed in (the index's own tests, tests/test_ledger_index.py, cover
them through the store). Run compiled and again as source (tests/test_compiled.py)."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import msgpack
from automerge.core import ROOT, Document, ScalarType
from pnyx.federation.chunk import ParsedChange, parse_change
from pnyx.federation.indexrows import (
    DECISIONS,
    DEVICES,
    INDEXED,
    MANDATES,
    NULL,
    Certified,
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
from pnyx.federation.ops import Made, OpId

ACTOR = bytes(range(32)) + bytes(8)  # a device's key, then the run's 8 bytes
REVOKED_DEVICE = ACTOR[:32].hex()
DECISION = {"title": "Well", "text": "Dig a well.", "date": "2026-03-04", "for": 9, "against": 1,
            "abstain": 0, "quorum": None, "dissent": "", "supersedes": None, "kind": "recall",
            "subject": "bbbbbbbbbbbbbbbb"}
MANDATE = {"delegate": " Ana ", "council": "water", "term_from": "2026-01-01", "term_until": "2026-12-31",
           "instructions": [], "decision": "aaaaaaaaaaaaaaaa",
           "co_delegates": [{"delegate": "Ben", "delegate_key": "ed25519:ben"}]}


def a_change() -> ParsedChange:
    """Some change, which the functions here hand back to `genesis_devices` and never read."""
    doc = Document()
    with doc.transaction() as tx:
        tx.put(ROOT, "x", ScalarType.Int, 1)
    return parse_change(bytes(doc.get_changes([])[0].raw_bytes))


def rows_of(records: list[Record], revoked: Revocations | None = None) -> list[tuple[Row, Sequence[str]]]:
    return index_rows(5, records, revoked or {}, msgpack.Packer().pack, id_hash)


def no_genesis(change: ParsedChange, made: list[Made]) -> list[Certified]:
    raise AssertionError("no change here makes the devices map")


def test_records_made_sorts_what_each_change_makes() -> None:
    decisions, devices, other = OpId(1, b"a"), OpId(2, b"a"), OpId(3, b"a")
    maps = {decisions: DECISIONS, devices: DEVICES}
    change = a_change()
    made: list[Made] = [
        (decisions, "aaaaaaaaaaaaaaaa", OpId(7, ACTOR), {"title": "x"}),
        (devices, "ed25519:dev", OpId(8, ACTOR), {"label": "phone"}),
        (other, "revoked", OpId(9, ACTOR), {"cut": {}}),  # a revocation, inside a device entry
        (None, "profile", OpId(10, ACTOR), {}),  # a map made at the root, not devices
    ]
    records, certified, revocations = records_made([(change, made)], maps, no_genesis)
    assert records == [(DECISIONS, "aaaaaaaaaaaaaaaa", ACTOR, 7, {"title": "x"})]
    assert certified == [("ed25519:dev", OpId(8, ACTOR), {"label": "phone"})]
    assert revocations == [other]


def test_records_made_asks_for_the_devices_the_genesis_writes_in_its_map() -> None:
    genesis = a_change()
    made: list[Made] = [(None, DEVICES, OpId(1, ACTOR), {"ed25519:a": {}})]
    asked: list[object] = []

    def written(change: ParsedChange, of_change: list[Made]) -> list[Certified]:
        asked.append(change)
        return [("ed25519:a", OpId(2, ACTOR), {})]

    assert records_made([(genesis, made)], {}, written) == ([], [("ed25519:a", OpId(2, ACTOR), {})], [])
    assert asked == [genesis]


def test_a_decision_row_holds_its_value_date_and_references() -> None:
    ((row, writers),) = rows_of([(DECISIONS, "cccccccccccccccc", ACTOR, 3, DECISION)])
    assert row == (5, DECISIONS, "cccccccccccccccc", ACTOR, 3, msgpack.packb(DECISION), "2026-03-04",
                   "recall", "bbbbbbbbbbbbbbbb", NULL, NULL, NULL, NULL, NULL, NULL,
                   id_hash("cccccccccccccccc"))
    assert writers == () and is_shown(row) == 1


def test_a_mandate_row_names_its_person_and_who_writes_its_log() -> None:
    ((row, writers),) = rows_of([(MANDATES, "dddddddddddddddd", ACTOR, 3, MANDATE)])
    assert row[6:15] == ("", NULL, NULL, NULL, NULL, "aaaaaaaaaaaaaaaa", "name:Ana", "water", NULL)
    assert list(writers) == ["ed25519:ben"]


def test_an_ill_formed_record_or_one_msgpack_cannot_hold_keeps_no_value() -> None:
    rows = rows_of([(DECISIONS, "cccccccccccccccc", ACTOR, 3, {**DECISION, "date": "4 March"}),
                    (DECISIONS, "not an id", ACTOR, 4, DECISION),
                    ("needs", "eeeeeeeeeeeeeeee", ACTOR, 5, {"too big": 2**70})])
    assert [(row[5], row[6], is_shown(row)) for row, _ in rows] == [(None, "", 0)] * 3


def test_void_past_the_cut_of_a_revoked_device() -> None:
    revoked = {REVOKED_DEVICE: ("revoked", {ACTOR.hex(): 3})}
    records = [(DECISIONS, "cccccccccccccccc", ACTOR, counter, DECISION) for counter in (3, 4)]
    records.append(("needs", "eeeeeeeeeeeeeeee", ACTOR, 9, {}))  # only decisions and mandates are void
    rows = rows_of(records, revoked)
    assert [row[14] for row, _ in rows] == [NULL, "revoked", NULL]
    assert [is_shown(row) for row, _ in rows] == [1, 0, 1]


def test_tally_counts_the_rows_shown_and_lists_writers() -> None:
    rows = rows_of([(DECISIONS, "cccccccccccccccc", ACTOR, 3, DECISION),
                    (DECISIONS, "ffffffffffffffff", ACTOR, 4, {}),
                    (MANDATES, "dddddddddddddddd", ACTOR, 5, MANDATE)])
    counts = dict.fromkeys(INDEXED, 0)
    assert tally(rows, counts) == [(5, "ed25519:ben", "dddddddddddddddd")]
    assert counts[DECISIONS] == 1 and counts[MANDATES] == 1


def test_shaped_groups_rows_by_collection_nulls_and_actor_and_binds_the_rest() -> None:
    """Each row comes back, under its shape (its kind there, "" for NULL), as the columns the
    insert of its shape binds: its id, counter, entry and day, the NULLABLE columns after kind
    that hold a value, in order, its id_hash."""
    revoked = {REVOKED_DEVICE: ("revoked", {ACTOR.hex(): 3})}
    other = bytes(range(1, 33)) + bytes(8)
    rows = rows_of([(DECISIONS, "cccccccccccccccc", ACTOR, 3, DECISION),
                    (MANDATES, "dddddddddddddddd", ACTOR, 4, MANDATE),
                    (DECISIONS, "ffffffffffffffff", ACTOR, 5, {**DECISION, "subject": None}),
                    (DECISIONS, "gggggggggggggggg", ACTOR, 3, DECISION),
                    (DECISIONS, "hhhhhhhhhhhhhhhh", other, 3, DECISION),
                    ("needs", "eeeeeeeeeeeeeeee", ACTOR, 9, {})], revoked)
    got = shaped(rows)
    # a bit a NULL column, kind's the lowest: the third decision and the mandate are void
    assert list(got) == [(DECISIONS, 0b11111100, ACTOR, "recall"), (MANDATES, 0b00001111, ACTOR, ""),
                         (DECISIONS, 0b01111110, ACTOR, "recall"), (DECISIONS, 0b11111100, other, "recall"),
                         ("needs", 0b11111111, ACTOR, "")]
    assert len(got[DECISIONS, 0b11111100, ACTOR, "recall"]) == 2
    restored = []
    for (collection, nulls, actor, kind), bound in got.items():
        for values in bound:
            given = iter([*([] if nulls & 1 else [kind]), *values[4:-1]])
            nullable = tuple(NULL if nulls >> at & 1 else next(given) for at in range(8))
            restored.append((5, collection, values[0], actor, *values[1:4], *nullable, values[-1]))
    by_id = itemgetter(2)
    assert sorted(restored, key=by_id) == sorted((row for row, _ in rows), key=by_id)
