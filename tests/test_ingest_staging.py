"""A batch judged the fast way (its changes staged and applied to Automerge together,
daemon/store/staging.py) ends exactly as if its changes had come one by one: the same
report, the same store, the same documents.

The rule that reads a document without its staged changes (W7, a record under a key not
held) is checked against every write-rule vector with its history in the same batch, and a
change Automerge refuses is refused alone, the rest of its batch stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from automerge.core import ROOT, Document, ObjType, ScalarType
from pnyx.daemon.services.records import Recorder
from pnyx.daemon.store.audit import reverify
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import IngestReport
from pnyx.federation.amvalues import read_entry
from pnyx.federation.chunk import parse_change
from pnyx.federation.envelope import decode_envelope
from pnyx.federation.errors import Reason
from pnyx.federation.keys import key_text

from .ledgerkit import (
    Author,
    author_on,
    found_assembly,
    fresh_store,
    lift_write_rules,
    rewrite_change,
    store_state,
    vote,
)
from .test_rejections import make_world, signed_mutations
from .test_vectors import STEPS, WRITERULES, Node


@pytest.mark.parametrize("vector", WRITERULES, ids=[v["name"] for v in WRITERULES])
def test_each_write_rule_judges_a_change_the_same_with_its_history_in_its_batch(
        tmp_path: Path, vector: dict[str, Any]) -> None:
    (tmp_path / "alone").mkdir()
    (tmp_path / "together").mkdir()
    alone, together = Node(tmp_path / "alone"), Node(tmp_path / "together")
    history = STEPS[:vector["after"]]
    envelope = decode_envelope(bytes.fromhex(vector["envelope"]))
    alone.ingest(*history)
    one = alone.ingest(envelope)
    report = together.ingest(*history, envelope)
    assert (report.accepted, report.rejected) == (len(history) + one.accepted, one.rejected)
    assert [r for r, _ in one.rejected] == ([] if vector["valid"] else ["schema-violation"])
    assert together.held() == alone.held()


def test_a_record_written_again_over_one_staged_in_its_batch_is_refused() -> None:
    """B puts decision K again, naming no predecessor, on top of A, which made K in the same
    batch and is staged, not yet applied: the document read without A lacks K, and still B
    is refused as when A came before it alone (W7). B is made on a branch without A, then
    given A as a dependency: C, beside A, makes its start_op the one A would give. Each
    device first writes on the base, so that no read of its certificate applies A early."""
    assembly = found_assembly()
    x, y, z = (assembly.add_device(name) for name in "xyz")
    base = assembly.envelopes()
    for device in (x, y):
        device.ingestor.ingest(base)
    a_author, c_author = author_on(x, x.device_key), author_on(y, y.device_key)
    before = [a_author.decide("by x on the base"), c_author.decide("by y on the base"),
              author_on(z, z.device_key).decide("by z on the base")]
    a = a_author.decide("kitchen", record_id="kitchen2kitchen3")
    c = c_author.decide("other")
    b_author = Author(c_author.doc, assembly.doc_id, z.device_key, nonce=2)
    b_raw = b_author.decide("kitchen again", record_id="kitchen2kitchen3").change
    deps = tuple(sorted(parse_change(e.change).hash for e in (a, c)))
    b = b_author.sign(rewrite_change(b_raw, deps=deps))
    batch = [*base, *before, a, c, b]
    _, _, one_by_one = fresh_store()
    alone = IngestReport()
    for envelope in batch:
        alone.merge(one_by_one.ingest([envelope]))
    _, _, ingestor = fresh_store()
    report = ingestor.ingest(batch)
    assert report.rejected == alone.rejected and report.accepted == alone.accepted == len(batch) - 1
    assert [r for r, _ in report.rejected] == ["schema-violation"]
    assert "rule W7" in report.rejected[0][1] and "exists already" in report.rejected[0][1]


def test_a_change_automerge_refuses_is_refused_alone_and_the_rest_of_its_batch_is_stored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The write rules are lifted, as in test_rejections, so that a change gets past every
    rule and still does not apply; it comes in the middle of a batch whose later change
    depends on the changes before it."""
    lift_write_rules(monkeypatch)
    world = make_world()
    history = world.assembly.envelopes(world.receiver)
    silent = next(e for e in signed_mutations(world, 400, seed=5) if refused_silently(history, e))
    world.assembly.recorder.decide(vote("after the mutant"))
    later = world.assembly.envelopes()[-1]
    batch = [*history, silent, later]
    undone = []
    real_undo = DocumentCache.undo_staging
    monkeypatch.setattr(DocumentCache, "undo_staging",
                        lambda self: undone.append(1) or real_undo(self))

    store, docs, ingestor = fresh_store()
    report = ingestor.ingest(batch)
    assert undone == [1]  # the fast way failed, and the batch was judged again one by one
    one_store, one_docs, one_ingestor = fresh_store()
    alone = IngestReport()
    for envelope in batch:
        alone.merge(one_ingestor.ingest([envelope]))
    assert (report.accepted, report.rejected, report.pending) == \
        (alone.accepted, alone.rejected, alone.pending) == \
        (len(batch) - 1, [(Reason.APPLY_FAILED.value, "automerge did not take the change")], 0)
    assert store_state(store) == store_state(one_store)
    doc_id = world.assembly.doc_id
    assert sorted(docs.get(doc_id).get_heads()) == sorted(one_docs.get(doc_id).get_heads())
    assert sorted(DocumentCache(store).get(doc_id).get_heads()) == sorted(docs.get(doc_id).get_heads())
    assert reverify(store).ok


def refused_silently(history: list[Any], envelope: Any) -> bool:
    _, _, ingestor = fresh_store()
    ingestor.ingest(history)
    return ingestor.ingest([envelope]).rejected == [(Reason.APPLY_FAILED.value,
                                                     "automerge did not take the change")]


def test_device_entries_reused_across_merges_read_as_fresh_reads() -> None:
    """A merge whose branches share a state of `devices` reuses the entries read for it
    (DocumentCache.mark_stored); every entry the cache gives, at every change and at
    every change's dependencies, equals a read of the document at those heads."""
    assembly = found_assembly()
    one = assembly.add_device("one")
    two = assembly.add_device("two")
    assembly.recorder.decide(vote("before"))
    assembly.recorder.revoke_device(two.device_key.public)
    one.ingestor.ingest(assembly.envelopes())
    Recorder(one).decide(vote("on one"))
    assembly.recorder.decide(vote("at home, meanwhile"))
    assembly.home.ingestor.ingest(assembly.envelopes(one))
    assembly.recorder.decide(vote("after the merge"))

    _, docs, ingestor = fresh_store()
    envelopes = assembly.envelopes()
    assert ingestor.ingest(envelopes).accepted == len(envelopes)
    changes = [parse_change(e.change) for e in envelopes]
    merges = [c for c in changes if len(c.deps) > 1]
    assert merges and all(docs._state_of([c.hash]) == docs._state_of(c.deps) is not None
                          for c in merges)
    doc = docs.get(assembly.doc_id)
    for change in changes:
        for heads in ([change.hash], list(change.deps)) if change.deps else ([change.hash],):
            for device in (one.device_key.public, two.device_key.public):
                assert docs.device_entry(assembly.key.public, device, heads) == \
                    read_entry(doc, "devices", key_text(device), heads)


def test_a_map_replaced_at_its_path_while_a_batch_is_judged_is_read_anew() -> None:
    """While a document's changes wait to be applied, the W7 read finds each map by its path
    once (Staged.objects); a read that applies them may put another map at that path: two
    changes made it concurrently, and the one applied last (its actor higher) wins. A key of
    the map now at the path then reads as present; a map found before would lack it."""
    root = Document(b"\x01" * 16)
    with root.transaction() as tx:
        tx.put_object(ROOT, "m", ObjType.Map)
    first = Document(b"\x02" * 16)
    first.merge(root)
    with first.transaction() as tx:
        tx.put_object(ROOT, "n", ObjType.Map)
    second = Document(b"\x03" * 16)
    second.merge(root)
    with second.transaction() as tx:
        made = tx.put_object(ROOT, "n", ObjType.Map)
        tx.put(made, "k", ScalarType.Str, "v")
    merged = Document(b"\x04" * 16)
    for doc in (root, first, second):
        merged.merge(doc)
    with merged.transaction() as tx:
        tx.put(ROOT, "after", ScalarType.Str, "both")
    (g,), (a1,), (a2,) = (d.get_changes(h) for d, h in ((root, []), (first, root.get_heads()),
                                                       (second, root.get_heads())))
    (c,) = merged.get_changes(sorted([a1.hash, a2.hash]))
    _, docs, _ = fresh_store()
    doc_id = "d"
    for change in (g, a1):
        docs.apply_verified(doc_id, bytes(change.raw_bytes), change.hash, [])
    docs.begin_staging()
    docs.apply_verified(doc_id, bytes(a2.raw_bytes), a2.hash, [g.hash])
    assert not docs.has_entry(doc_id, ("n",), "x", [a1.hash, a2.hash])
    held = docs.get(doc_id)  # a read: the staged change is applied
    now = held.get(ROOT, "n")
    assert now is not None and held.get(now[1], "k") is not None  # the second map won
    docs.apply_verified(doc_id, bytes(c.raw_bytes), c.hash, [a1.hash, a2.hash])
    assert docs.has_entry(doc_id, ("n",), "k", [a1.hash, a2.hash])
    docs.apply_all_staged()
