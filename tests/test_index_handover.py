"""The index of a ledger's records reads what each change makes from the operations the
write rules decoded at ingest (ops.made_under_keys, which reads a change making one record
and its fields straight from its columns): every kind of record, whole or with its plain
fields only, must give the rows the stored changes give read again, and the document."""

from __future__ import annotations

from collections.abc import Mapping

from automerge.core import Transaction
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ledgerindex import LedgerIndex
from pnyx.federation import ops
from pnyx.federation.amvalues import Plain, ensure_map, put_value
from pnyx.federation.docids import DocKind
from pnyx.federation.ops import Action, OpId, Rows, made_under_keys
from pnyx.federation.wholerecords import REQUIRED
from pnyx.federation.writerules import ITEM, RECORD, TABLE, Path

from .ledgerkit import author_on, found_assembly, fresh_store, index_rows, lazily_indexed

ACTOR = bytes(range(16))
SAMPLES: Mapping[str, Plain] = {"str": "2026-11-03", "int": 7, "bool": False, "bytes": b"\x01"}


def filled(fields: Mapping[Path, frozenset[str]], at: Path, nested: bool) -> dict[str, Plain]:
    """A value for every field of a schema row under `at` (maps and lists only if `nested`),
    of the first type the row lists other than null."""
    out: dict[str, Plain] = {}
    for path, types in sorted(fields.items(), reverse=True):  # not in Automerge's order
        if len(path) != len(at) + 1 or path[:len(at)] != at:
            continue
        name = "colour" if path[-1].startswith("{") else path[-1]
        kind = sorted(types - {"null"})[0]
        if kind == "map" and nested:
            out[name] = filled(fields, path, nested)
        elif kind == "list" and nested:
            item = (*path, ITEM)
            element: Plain = filled(fields, item, nested) if "map" in fields[item] else SAMPLES["str"]
            out[name] = [element, element]
        elif kind in SAMPLES:
            out[name] = SAMPLES[kind]
    return out


def test_every_kind_of_record_is_indexed_at_ingest_as_its_stored_changes_and_document_make_it() -> None:
    assembly = found_assembly()
    home = assembly.home
    author = author_on(home, home.device_key, nonce=5)
    rows = [r for r in TABLE if r.doc is DocKind.LEDGER and r.when is RECORD and r.path[0] != "devices"]
    assert len(rows) == 8  # decisions, mandates, the economy's five collections, the draws' steps
    made = []
    for n, row in enumerate(rows):
        for nested in (True, False):  # whole (maps and lists: the walk), plain fields (columns)
            record = filled(row.fields, (), nested)
            if not REQUIRED[row.rule][()] <= record.keys():
                continue  # a mandate needs its instructions, a list

            key = f"record{'abcdefgh'[n]}{'ab'[nested]}aaaaaaaa"

            def edit(tx: Transaction, collection: str = row.path[0], key: str = key,
                     value: Plain = record) -> None:
                put_value(tx, ensure_map(tx, collection), key, value)
            made.append(author.sign(author.change(edit)))
    both = [r.path[0] for r in rows[:2]]

    def two(tx: Transaction) -> None:  # two records in one change
        for collection in both:
            put_value(tx, ensure_map(tx, collection), f"{collection[:4]}twoinonechange"[:16],
                      filled(next(r for r in rows if r.path[0] == collection).fields, (), True))
    made.append(author.sign(author.change(two)))
    envelopes = [*assembly.envelopes(), *made]
    store, _, ingestor = fresh_store()
    report = ingestor.ingest(envelopes)
    assert not report.rejected and report.accepted == len(envelopes)
    kept = index_rows(store.db)
    collections = {row[1] for row in kept if len(row) == 16}
    assert collections == {r.path[0] for r in rows}
    assert lazily_indexed(envelopes) == kept
    LedgerIndex(store, DocumentCache(store)).rebuild(assembly.doc_id)
    assert index_rows(store.db) == kept


def test_a_record_read_from_its_columns_keeps_its_keys_in_order_and_a_key_put_twice_its_later_value() -> None:
    made = OpId(3, ACTOR)
    put = int(Action.PUT)
    rows = Rows(3, ACTOR, [OpId(1, b"x"), made, made, made, made], ["recordaaaaaaaaaa", "b", "a", "c", "a"],
                [None] * 5, [False] * 5, [int(Action.MAKE_MAP), put, put, put, put],
                ["", "str", "int", "null", "str"], [None, "bee", 1, None, "later"], [()] * 5)
    ((parent, key, op, value),) = made_under_keys(rows)
    assert (parent, key, op) == (OpId(1, b"x"), "recordaaaaaaaaaa", made)
    assert isinstance(value, dict) and list(value.items()) == [("a", "later"), ("b", "bee"), ("c", None)]


def test_one_record_is_taken_from_the_columns_only_when_every_other_row_puts_into_it() -> None:
    """ops._one_record against a row by row test, on tricky rows (op 0 claiming to write into
    the map it makes, an insert, a second make, a row into the root)."""
    made, elsewhere = OpId(3, ACTOR), OpId(1, b"x")
    put, make = int(Action.PUT), int(Action.MAKE_MAP)

    def rows(objs: list[OpId | None], inserts: list[bool], actions: list[int]) -> Rows:
        return Rows(3, ACTOR, objs, ["recordaaaaaaaaaa", "b", "a"], [None] * 3, inserts, actions,
                    ["", "str", "int"], [None, "bee", 1], [()] * 3)

    def row_by_row(r: Rows) -> bool:
        return all(r.action[i] == put and r.key[i] is not None and not r.insert[i]
                   and r.kind[i] in ops.PLAIN_KINDS and r.obj[i] == made for i in range(1, 3))

    cases = [rows([elsewhere, made, made], [False] * 3, [make, put, put]),
             rows([made, made, elsewhere], [False] * 3, [make, put, put]),  # op 0 "into" itself
             rows([elsewhere, made, made], [False, False, True], [make, put, put]),
             rows([elsewhere, made, made], [False] * 3, [make, put, make]),
             rows([elsewhere, made, None], [False] * 3, [make, put, put])]
    assert [ops._one_record(r) is not None for r in cases] == [row_by_row(r) for r in cases] \
        == [True, False, False, False, False]
