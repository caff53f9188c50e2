"""Snapshots of documents let go during a long ingest (daemon/store/snapshots.py) are stored in
the write transaction that lets them go: a process killed after storing one and before its
COMMIT reopens with every change it had committed and no snapshot of what it had not. A real
SQLite file, a real process killed with SIGKILL."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pnyx.daemon.store import documents, snapshots
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.ledger import read_ledger

from bench.corpus import ledger_chain, new_key

# ledgers of 300: the first let go (past the bound with the second's 113th change, counting
# each ledger's DOCUMENT_WEIGHT: after the fourth call's COMMIT)
BOUNDS = {"MAX_CACHED_CHANGES": 420, "UNUSED_AFTER": 50}
EVERY = 100  # ... with its snapshot due
PACK = 100  # changes ingested a call: each one transaction, its seqno printed once committed

KILLED_AS_IT_STORES_A_SNAPSHOT = f"""
import os, signal, sys
from pnyx.daemon.store import documents, snapshots
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.envelope import decode_envelope

documents.MAX_CACHED_CHANGES = {BOUNDS["MAX_CACHED_CHANGES"]}
documents.UNUSED_AFTER = {BOUNDS["UNUSED_AFTER"]}
snapshots.SNAPSHOT_EVERY = {EVERY}
store = Store(sys.argv[1])
ingestor = Ingestor(store, DocumentCache(store))
stored = store.save_snapshot

def killed_once_stored(doc_id, upto, data):
    stored(doc_id, upto, data)
    os.kill(os.getpid(), signal.SIGKILL)

store.save_snapshot = killed_once_stored
envelopes = [decode_envelope(bytes.fromhex(line)) for line in sys.stdin.read().split()]
for i in range(0, len(envelopes), {PACK}):
    ingestor.ingest(envelopes[i:i + {PACK}])
    print(store.last_seqno(), flush=True)
"""


def test_a_process_killed_as_it_stores_a_snapshot_keeps_what_it_committed_and_no_snapshot_of_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chains = [ledger_chain(new_key(), 300) for _ in range(3)]
    envelopes = [e for _, chain in chains for e in chain]
    path = tmp_path / "pnyx.sqlite"
    done = subprocess.run([sys.executable, "-c", KILLED_AS_IT_STORES_A_SNAPSHOT, str(path)],
                          input="\n".join(e.encode().hex() for e in envelopes), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    committed = int(done.stdout.split()[-1])
    assert 300 < committed < len(envelopes)  # killed past the first ledger, before the end
    for name, value in BOUNDS.items():
        monkeypatch.setattr(documents, name, value)
    monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY", EVERY)
    store = Store(path)
    assert store.last_seqno() == store.count_changes() == committed
    assert all(store.snapshot_upto(chain[0].doc_id) == 0 for _, chain in chains)
    docs = DocumentCache(store)
    assert Ingestor(store, docs).ingest(envelopes).accepted == len(envelopes) - committed
    assert store.snapshot_upto(chains[1][1][0].doc_id) > 0  # let go as the third came: saved
    fresh = DocumentCache(store)  # loads each from its snapshot, if any, and the newer changes
    for doc, chain in chains:
        assert read_ledger(fresh.get(chain[0].doc_id)) == read_ledger(doc)
    store.close()


def test_snapshots_taken_on_a_long_read_hold_no_more_than_their_bound_until_stored(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    chains = [ledger_chain(new_key(), 300) for _ in range(6)]
    store = Store(tmp_path / "pnyx.sqlite")
    assert Ingestor(store, DocumentCache(store)).ingest([e for _, c in chains for e in c]).accepted == 1_800
    for name, value in BOUNDS.items():
        monkeypatch.setattr(documents, name, value)
    monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY", EVERY)
    one = len(DocumentCache(store).get(chains[0][1][0].doc_id).save())
    monkeypatch.setattr(snapshots, "UNSTORED_BYTES", 2 * one)  # room for two ledgers' snapshots
    reader = DocumentCache(store)  # a read only: nothing it lets go can be stored yet
    for _, chain in chains:  # each read often enough for those before it to count as unused
        for _ in range(BOUNDS["UNUSED_AFTER"]):
            reader.get(chain[0].doc_id)
    taken = reader.snapshots.unstored
    assert 1 <= len(taken) <= 2 and sum(len(s.data) for s in taken) <= 2 * one
    kept = {s.doc_id for s in taken}
    assert reader.snapshots.store_taken() and reader.snapshots.unstored == []
    assert {chain[0].doc_id for _, chain in chains if store.snapshot_upto(chain[0].doc_id) > 0} == kept
    store.close()
