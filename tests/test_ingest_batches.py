"""An ingest of several batches, each judged and then applied to Automerge as a whole, must
end exactly as an ingest one change at a time, and a failure in a batch's apply must leave
nothing of that batch.

BATCH is made small so that a handful of changes spans several batches, where a later
batch depends on what an earlier one stored: a revocation, a decision's key, an
equivocation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from automerge.core import Document
from pnyx.daemon.store import documents, ingest
from pnyx.daemon.store.audit import reverify
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor, IngestReport
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.envelope import Envelope

from .ledgerkit import Assembly, author_on, found_assembly, fresh_store, index_rows, store_state, vote

SMALL_BATCH = 3


def history_across_batches() -> tuple[Assembly, list[Envelope]]:
    """Decisions by a device, its revocation, a change it made after the cut, the same
    record written again in a later change, and two changes with one (actor, seq): each
    judged in a later batch than what decides it."""
    assembly = found_assembly()
    laptop = assembly.add_device("laptop")
    phone = assembly.add_device("phone")
    for n in range(4):
        assembly.recorder.decide(vote(f"before {n}"))
    on_laptop = author_on(laptop, laptop.device_key, nonce=3)
    first = on_laptop.decide("kitchen rota", record_id="kitchen2kitchen3")
    assembly.recorder.revoke_device(laptop.device_key.public)
    laptop.ingestor.ingest(assembly.envelopes())
    late = author_on(laptop, laptop.device_key, nonce=6).decide("after the cut")
    on_phone = author_on(phone, phone.device_key, nonce=4)
    twin = author_on(phone, phone.device_key, nonce=4)
    kept, contradicting = on_phone.decide("one at seq 1"), twin.decide("another at seq 1")
    again = author_on(phone, phone.device_key, nonce=5)
    again.doc.merge(on_laptop.doc)
    rewritten = again.decide("kitchen rota again", record_id="kitchen2kitchen3")
    envelopes = [*assembly.envelopes(), first, late, kept, rewritten, contradicting]
    assert len(envelopes) == 13  # batches of 3: the revocation, `first` and `kept` each in an
    return assembly, envelopes  # earlier batch than what they decide


def one_at_a_time(envelopes: list[Envelope]) -> tuple[Store, DocumentCache, IngestReport]:
    store, docs, ingestor = fresh_store()
    report = IngestReport()
    for envelope in envelopes:
        report.merge(ingestor.ingest([envelope]))
    return store, docs, report


def test_batches_that_depend_on_the_ones_before_end_as_one_change_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assembly, envelopes = history_across_batches()
    alone_store, alone_docs, alone = one_at_a_time(envelopes)
    monkeypatch.setattr(ingest, "BATCH", SMALL_BATCH)
    store, docs, ingestor = fresh_store()
    report = ingestor.ingest(envelopes)

    assert (report.accepted, report.rejected, report.pending, report.duplicate) == \
        (alone.accepted, alone.rejected, alone.pending, alone.duplicate)
    assert sorted(r for r, _ in report.rejected) == ["equivocation", "revoked-device", "schema-violation"]
    assert store_state(store) == store_state(alone_store)
    doc_id = assembly.doc_id
    assert sorted(docs.get(doc_id).get_heads()) == sorted(alone_docs.get(doc_id).get_heads()) \
        == sorted(DocumentCache(store).get(doc_id).get_heads())
    assert index_rows(store.db) == index_rows(alone_store.db)
    assert reverify(store).ok


def test_automerge_refusing_a_batch_judges_it_again_one_by_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Automerge raises as a later batch is applied (once, injected): the batch is taken back and judged
    again one change at a time, and ends as if nothing had failed."""
    assembly, envelopes = history_across_batches()
    alone_store, _, alone = one_at_a_time(envelopes)
    monkeypatch.setattr(ingest, "BATCH", SMALL_BATCH)
    failed = fail_once(monkeypatch, RuntimeError("automerge refused"))
    undone = count_undone(monkeypatch)
    store, docs, ingestor = fresh_store()
    report = ingestor.ingest(envelopes)
    assert failed == [1] and undone == [1]
    assert (report.accepted, report.rejected) == (alone.accepted, alone.rejected)
    assert store_state(store) == store_state(alone_store)
    assert sorted(docs.get(assembly.doc_id).get_heads()) == \
        sorted(DocumentCache(store).get(assembly.doc_id).get_heads())
    assert reverify(store).ok


def test_an_error_while_a_batch_is_applied_leaves_nothing_of_it_held(tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Not Automerge refusing: an error in a batch's apply reaches the caller as it was raised;
    the batches before stay stored, nothing of the failing one is held, in the store or the
    documents, and the rest is stored once the error is gone."""
    where = "applying the second batch"
    assembly, envelopes = history_across_batches()
    monkeypatch.setattr(ingest, "BATCH", SMALL_BATCH)
    store = Store(tmp_path / "s.sqlite")
    docs = DocumentCache(store)
    ingestor = Ingestor(store, docs)
    fail_once(monkeypatch, KeyboardInterrupt(where))
    with pytest.raises(KeyboardInterrupt, match=where):
        ingestor.ingest(envelopes)
    held_store, held_docs, _ = one_at_a_time(envelopes[:SMALL_BATCH])
    assert store_state(store) == store_state(held_store)  # the first batch, and nothing more
    doc_id = assembly.doc_id
    assert sorted(docs.get(doc_id).get_heads()) == sorted(held_docs.get(doc_id).get_heads())
    assert index_rows(store.db) == index_rows(held_store.db)
    store.close()
    reopened = Store(tmp_path / "s.sqlite")
    assert store_state(reopened) == store_state(held_store)
    rest = ingestor_of(reopened).ingest(envelopes[SMALL_BATCH:])  # the error gone, the rest stored
    _, _, alone = one_at_a_time(envelopes)
    assert (rest.accepted + SMALL_BATCH, rest.rejected) == (alone.accepted, alone.rejected)


def ingestor_of(store: Store) -> Ingestor:
    return Ingestor(store, DocumentCache(store))


def fail_once(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> list[int]:
    """Make Automerge's apply raise `error` once, when it is handed a whole batch at once (a
    read applies what it needs early, one or two changes): the second batch, as the first
    batch's changes are each read before its end."""
    failed: list[int] = []
    real = documents.apply_chunks

    def failing(doc: Document, chunks: Sequence[bytes]) -> None:
        if not failed and len(chunks) == SMALL_BATCH:
            failed.append(1)
            raise error
        real(doc, chunks)

    monkeypatch.setattr(documents, "apply_chunks", failing)
    return failed


def count_undone(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    undone: list[int] = []
    real_undo = DocumentCache.undo_staging
    monkeypatch.setattr(DocumentCache, "undo_staging", lambda self: undone.append(1) or real_undo(self))
    return undone
