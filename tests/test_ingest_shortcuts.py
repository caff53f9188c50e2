"""What ingest skips for speed must skip nothing that counts.

Ingest reads a ledger's `devices` map only for changes that may have changed it
(federation.ledger.may_change_devices) and reuses certificate reads between
them; the store remembers held changes; snapshots are taken when idle, at close
and as documents are let go, by a size-relative policy; an idle daemon lets go of its documents. Each test
compares against the slow, plain reading.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from pnyx.daemon.services.records import Recorder
from pnyx.daemon.store import documents, snapshots, sqlite
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.daemon.store.watch import StoreWatch
from pnyx.federation.amvalues import read_entry, read_map
from pnyx.federation.changepack import pack, unpack
from pnyx.federation.chunk import parse_change
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import may_change_devices, read_ledger
from pnyx.federation.sync import PULL_ENVELOPES

from bench.corpus import ledger_chain, new_key

from .ledgerkit import Assembly, author_on, found_assembly, fresh_store, vote


def test_changes_said_not_to_touch_devices_leave_every_device_entry_as_it_was() -> None:
    """For every change of a ledger with certifications, a revocation, decisions and merges:
    where may_change_devices says no, `devices` as of the change equals `devices` as of its
    dependency, so a device entry (certificate, revocation) read once serves both."""
    assembly = found_assembly()
    one = assembly.add_device("one")
    two = assembly.add_device("two")
    one.ingestor.ingest(assembly.envelopes())
    for n in range(3):
        assembly.recorder.decide(vote(f"home {n}"))
    assembly.recorder.revoke_device(two.device_key.public)
    other = author_on(one, one.device_key, nonce=7)
    late = [other.decide(f"offline {n}") for n in range(2)]
    assembly.home.ingestor.ingest(late)
    assembly.recorder.decide(vote("after the merge"))
    doc = assembly.home.docs.get(assembly.doc_id)
    said: dict[bool, int] = {True: 0, False: 0}
    for envelope in assembly.envelopes():
        change = parse_change(envelope.change)
        changed = may_change_devices(change.raw, len(change.deps))
        said[changed] += 1
        if not changed:
            assert read_map(doc, "devices", [change.hash]) == read_map(doc, "devices", list(change.deps))
    assert said[True] >= 4 and said[False] >= 4, said  # genesis, certificates, revocation, merge
    devices = read_ledger(doc).devices
    assert [k for k, d in devices.items() if d.revoked_cut is not None] == [key_text(two.device_key.public)]


def test_a_revoked_device_is_refused_after_the_cut_by_a_receiver_that_skipped_reads() -> None:
    assembly = found_assembly()
    device = assembly.add_device("laptop")
    assembly.recorder.decide(vote("before"))
    assembly.recorder.revoke_device(device.device_key.public)
    device.ingestor.ingest(assembly.envelopes())
    late = author_on(device, device.device_key, nonce=10).decide("after the cut")
    _, _, ingestor = fresh_store()
    report = ingestor.ingest([*assembly.envelopes(), late])
    assert report.rejected == [("revoked-device", "the device's revocation precedes this change")]


def test_the_store_forgets_what_a_rolled_back_batch_remembered() -> None:
    assembly = found_assembly()
    store, docs, ingestor = fresh_store()
    envelopes = assembly.envelopes()
    with pytest.raises(RuntimeError), store.transaction():
        ingestor.ingest(envelopes)
        raise RuntimeError("the batch fails after its inserts")
    first = parse_change(envelopes[0].change).hash
    assert not store.holds(first) and store.lookup(first) is None
    docs.forget_all([assembly.doc_id])
    assert ingestor.ingest(envelopes).accepted == len(envelopes)


def test_snapshots_are_taken_off_the_hot_path_and_renewed_by_share(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY", 4)
    assembly = found_assembly()
    for n in range(11):
        assembly.recorder.decide(vote(f"decision {n}"))
    store = Store(tmp_path / "pnyx.sqlite")
    docs = DocumentCache(store)
    Ingestor(store, docs).ingest(assembly.envelopes())
    assert store.snapshot_upto(assembly.doc_id) == 0  # ingest itself never snapshots
    docs.save_snapshots()
    upto = store.snapshot_upto(assembly.doc_id)
    assert upto == store.last_seqno()
    for n in range(3):  # fewer than SNAPSHOT_EVERY newer changes: not renewed
        assembly.recorder.decide(vote(f"later {n}"))
    Ingestor(store, docs).ingest(assembly.envelopes())
    docs.save_snapshots()
    assert store.snapshot_upto(assembly.doc_id) == upto
    fresh = DocumentCache(store)  # loads the snapshot, then the newer changes
    assert read_ledger(fresh.get(assembly.doc_id)) == read_ledger(docs.get(assembly.doc_id))
    store.close()


def test_an_idle_daemon_tends_its_cache_once_nothing_arrives(tmp_path: Path) -> None:
    assembly = found_assembly()
    store = Store(tmp_path / "pnyx.sqlite")
    docs = DocumentCache(store)
    Ingestor(store, docs).ingest(assembly.envelopes())
    held = read_ledger(docs.get(assembly.doc_id))
    tended: list[int] = []

    def on_idle() -> None:
        tended.append(len(docs._docs))
        docs.tend()

    async def watch_until_tended() -> None:
        watch = StoreWatch(store, interval=0.01, on_idle=on_idle, idle_after=0.05)
        task = asyncio.create_task(watch.run())
        for _ in range(500):
            if tended:
                break
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(watch_until_tended())
    assert tended == [1] and not docs._docs
    assert read_ledger(docs.get(assembly.doc_id)) == held  # loaded again when asked
    store.close()


def ledgers_past_the_cache_bound(monkeypatch: pytest.MonkeyPatch) -> list[Assembly]:
    """Three ledgers of 8 decisions, with a cache bound that lets the first two go while the
    third arrives, and their snapshots due."""
    monkeypatch.setattr(documents, "MAX_CACHED_CHANGES", 12)
    monkeypatch.setattr(documents, "UNUSED_AFTER", 8)  # fewer than the changes of a ledger
    monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY", 4)
    assemblies = [found_assembly(f"Barrio {n}") for n in range(3)]
    for assembly in assemblies:
        for n in range(8):
            assembly.recorder.decide(vote(f"decision {n}"))
    return assemblies


def test_receiving_many_ledgers_keeps_a_bounded_few_in_memory_and_reads_them_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past MAX_CACHED_CHANGES the documents unused lately are let go (saved first when due)
    while ingest goes on; every ledger then reads as its own daemon reads it, and an
    idle daemon forgets even the held changes it remembered."""
    assemblies = ledgers_past_the_cache_bound(monkeypatch)
    store = Store(tmp_path / "pnyx.sqlite")
    docs = DocumentCache(store)
    report = Ingestor(store, docs).ingest([e for a in assemblies for e in a.envelopes()])
    assert report.accepted == sum(len(a.envelopes()) for a in assemblies) and not report.rejected
    assert list(docs._docs) == [assemblies[-1].doc_id]  # the others were let go ...
    assert all(store.snapshot_upto(a.doc_id) > 0 for a in assemblies[:-1])  # ... saved first
    monkeypatch.setattr(documents, "UNUSED_AFTER", 1)  # each read below lets go of the others
    for assembly in assemblies:
        assert read_ledger(docs.get(assembly.doc_id)) == read_ledger(
            assembly.home.docs.get(assembly.doc_id))
        assert docs.profile(assembly.doc_id) == read_ledger(docs.get(assembly.doc_id)).profile
    assert len(docs._docs) == 1 and store._held
    docs.tend()
    assert not docs._docs and not store._held
    store.close()


def test_many_small_documents_are_let_go_a_tenth_of_the_bound_at_a_time_each_counted_with_its_weight(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Receiving 400 ledgers of 3 changes past the cache's bound: each cached document counts
    as its changes and DOCUMENT_WEIGHT more (Automerge's own share of a small document), so the
    cache holds at most bound / (3 + weight) of them; and they are let go a tenth of the bound
    at a time, memory handed back once for each tenth, not once for each new document. Every
    ledger then reads as its writer's own document."""
    monkeypatch.setattr(documents, "MAX_CACHED_CHANGES", 700)
    monkeypatch.setattr(documents, "UNUSED_AFTER", 1)
    trims: list[None] = []
    monkeypatch.setattr(documents, "release_free_memory", lambda: trims.append(None))
    made = [ledger_chain(new_key(), 3) for _ in range(400)]
    store = Store(tmp_path / "pnyx.sqlite")
    docs = DocumentCache(store)
    ingestor = Ingestor(store, docs)
    received = [e for _, chain in made for e in chain]
    for at in range(0, len(received), 150):  # in batches, as sync and bundles bring them
        report = ingestor.ingest(received[at:at + 150])
        assert report.accepted == 150 and not report.rejected
    assert len(docs._docs) <= 100  # 700 / (3 + 4); counted by their changes alone, 233
    assert 0 < len(trims) <= (400 - len(docs._docs)) // 10 + 1, len(trims)  # 7 x 10 = 70
    for doc, chain in made[::50]:
        assert read_ledger(docs.get(chain[0].doc_id)) == read_ledger(doc)
    store.close()


def test_a_process_that_ends_after_receiving_keeps_only_the_documents_in_use(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a bound that keeps every ledger (a daemon's), `keep_only_in_use` (`pnyx sync`'s)
    still lets go of the ledgers unused lately, saving their snapshots due first, and each
    then reads as its own daemon reads it."""
    assemblies = ledgers_past_the_cache_bound(monkeypatch)
    monkeypatch.setattr(documents, "MAX_CACHED_CHANGES", 1_000)
    received = [e for a in assemblies for e in a.envelopes()]
    for keep_only_in_use in (False, True):
        store = Store(tmp_path / f"{keep_only_in_use}.sqlite")
        docs = DocumentCache(store)
        if keep_only_in_use:
            docs.keep_only_in_use()
        report = Ingestor(store, docs).ingest(received)
        assert report.accepted == len(received) and not report.rejected
        kept = assemblies[-1:] if keep_only_in_use else assemblies
        assert list(docs._docs) == [a.doc_id for a in kept]
        assert all(store.snapshot_upto(a.doc_id) > 0 for a in assemblies if a not in kept)
        docs.save_snapshots()
        assert all(store.snapshot_upto(a.doc_id) > 0 for a in assemblies)
        for assembly in assemblies:
            assert read_ledger(docs.get(assembly.doc_id)) == read_ledger(
                assembly.home.docs.get(assembly.doc_id))
        store.close()


def test_letting_documents_go_starts_no_child_process(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The memory of documents let go is handed back to the system
    (malloc_trim) without a child process: looking the function up by library name ran
    `ldconfig -p` at each call, a fork of a process that is large during a catch-up."""
    assemblies = ledgers_past_the_cache_bound(monkeypatch)
    documents._malloc_trim.cache_clear()  # looked up afresh, under the watch below
    released: list[None] = []
    release = documents.release_free_memory

    def counted() -> None:
        released.append(release())

    def no_child(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a child process started: {args}")

    monkeypatch.setattr(documents, "release_free_memory", counted)
    monkeypatch.setattr(subprocess.Popen, "__init__", no_child)
    store = Store(tmp_path / "pnyx.sqlite")
    docs = DocumentCache(store)
    report = Ingestor(store, docs).ingest([e for a in assemblies for e in a.envelopes()])
    assert report.accepted == sum(len(a.envelopes()) for a in assemblies) and not report.rejected
    docs.save_snapshots()
    assert released  # documents were let go, and their memory handed back
    store.close()


def test_a_document_let_go_in_a_transaction_taken_back_leaves_no_snapshot_of_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A document let go during ingest is saved in its write transaction; if the transaction
    that gave it its changes is rolled back, so is the snapshot: none holds what is not stored."""
    assemblies = ledgers_past_the_cache_bound(monkeypatch)
    store = Store(tmp_path / "pnyx.sqlite")
    docs = DocumentCache(store)
    envelopes = [e for a in assemblies for e in a.envelopes()]
    with pytest.raises(RuntimeError), store.transaction():
        assert Ingestor(store, docs).ingest(envelopes).accepted == len(envelopes)
        assert list(docs._docs) == [assemblies[-1].doc_id]  # the others were let go ...
        assert all(store.snapshot_upto(a.doc_id) > 0 for a in assemblies[:-1])  # ... saved in it
        raise RuntimeError("the transaction is taken back")
    docs.save_snapshots()  # would store any snapshot held back
    assert store.count_changes() == 0
    assert all(store.snapshot_upto(a.doc_id) == 0 for a in assemblies)
    assert Ingestor(store, docs).ingest(envelopes).accepted == len(envelopes)  # all again
    docs.save_snapshots()
    assert all(store.snapshot_upto(a.doc_id) > 0 for a in assemblies)
    for assembly in assemblies:
        assert read_ledger(DocumentCache(store).get(assembly.doc_id)) == read_ledger(
            assembly.home.docs.get(assembly.doc_id))
    store.close()


def test_one_arrivals_row_per_batch_dates_every_change_of_the_batch(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """`bundle export --since` finds the last change stored before a time from one arrivals
    row per batch (its first change), as it did from the row per change that older stores
    hold; changes stored before the table existed count as stored before any time."""
    assembly = found_assembly()
    for n in range(3):
        assembly.recorder.decide(vote(f"decision {n}"))
    envelopes = assembly.envelopes()
    store, _, ingestor = fresh_store()
    now = [100.0]
    monkeypatch.setattr(sqlite, "time", SimpleNamespace(time=lambda: now[0]))
    ingestor.ingest(envelopes[:2])
    now[0] = 200.0
    ingestor.ingest(envelopes[2:])
    last = len(envelopes)
    assert store.db.execute("SELECT seqno, at FROM arrivals").fetchall() == [(1, 100.0), (3, 200.0)]
    answers = {at: store.arrived_before(at) for at in (50.0, 100.0, 150.0, 200.0, 250.0)}
    assert answers == {50.0: 0, 100.0: 0, 150.0: 2, 200.0: 2, 250.0: last}
    store.db.execute("DELETE FROM arrivals")  # as an older store wrote them: one per change
    store.db.executemany("INSERT INTO arrivals (seqno, at) VALUES (?, ?)",
                         [(n, 100.0 if n <= 2 else 200.0) for n in range(1, last + 1)])
    assert {at: store.arrived_before(at) for at in answers} == answers
    store.db.execute("DELETE FROM arrivals WHERE seqno <= 2")  # stored before the table existed
    assert store.arrived_before(50.0) == store.arrived_before(150.0) == 2


def test_past_its_bound_the_cache_of_device_states_reads_no_more_often(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two devices writing and merging each other's changes: with room for a few device
    states only, ingest reads `devices` as often as with room for all, since it forgets the
    older states first (federation/bounded.py) and later changes ask about recent ones."""
    assembly = found_assembly()
    one, two = assembly.add_device("one"), assembly.add_device("two")
    for n in range(12):
        for writer, other in ((one, two), (two, one)):
            Recorder(writer).decide(vote(f"decision {n} by {writer.device_key.public.hex()[:4]}"))
            if n % 3 == 0:
                other.ingestor.ingest(assembly.envelopes(writer))
    envelopes = [e for node in (one, two) for e in assembly.envelopes(node)]

    def reads_with_room_for(states: int) -> int:
        monkeypatch.setattr(documents, "MAX_REMEMBERED", states)
        reads = []
        monkeypatch.setattr(documents, "read_entry", lambda *a: reads.append(1) or read_entry(*a))
        store, _, ingestor = fresh_store()
        report = ingestor.ingest(envelopes)
        assert report.accepted == store.count_changes() and not report.rejected
        return len(reads)

    assert reads_with_room_for(6) == reads_with_room_for(10_000)


def test_ledgers_interleaved_in_full_pulls_stay_cached_past_the_bound(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A catch-up whose source interleaves several ledgers arrives in pulls of PULL_ENVELOPES,
    each grouped by document: every ledger is read once a pull, so none is let go and loaded
    again at each pull, even with the cache past its bound (at UNUSED_AFTER 1,000, below a
    pull of 2,000, each was)."""
    monkeypatch.setattr(documents, "MAX_CACHED_CHANGES", 100)
    chains = [ledger_chain(new_key(), PULL_ENVELOPES // 2)[1] for _ in range(4)]
    interleaved = [e for group in zip(*chains, strict=True) for e in group]
    store = Store(tmp_path / "pnyx.sqlite")
    docs = DocumentCache(store)
    loads: list[str] = []
    load = docs.snapshots.load
    monkeypatch.setattr(docs.snapshots, "load", lambda doc_id: loads.append(doc_id) or load(doc_id))
    ingestor = Ingestor(store, docs)
    for at in range(0, len(interleaved), PULL_ENVELOPES):
        report = ingestor.ingest(unpack(pack(interleaved[at:at + PULL_ENVELOPES])))
        assert report.accepted == PULL_ENVELOPES and not report.rejected
    assert sorted(loads) == sorted(chain[0].doc_id for chain in chains)  # each loaded once
    store.close()
