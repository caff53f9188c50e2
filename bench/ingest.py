"""Verified ingest against plain Automerge: what signing and checking every change costs.

10,000 decisions written by 3 devices of one assembly (syncing now and then, so
the history has concurrent branches and merges) are ingested through
Ingestor.ingest into a real SQLite file: every change parsed, its hash computed,
its signature and authority checked, applied in a contained way and stored.
The baseline is Automerge alone taking the same chunks with no verification:
the hand-built sync message the daemon uses (documents.apply_chunks), and
Document.load of the concatenated chunks. Bytes at rest are the store file
(WAL checkpointed) per decision, beside Automerge's own save() per decision.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from automerge.core import Document
from pnyx.daemon.store.documents import DocumentCache, apply_chunks
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import Envelope, check_envelope, run_actor, sign_change
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import Decision, Profile, Tally, write_decision, write_device, write_genesis

DECISIONS = 10_000
DEVICES = 3
SYNC_EVERY = 25  # each device merges the others' changes after this many of its own
APPLY_BATCH = 1_000
WORDS = ("water", "well", "kitchen", "school", "road", "market", "tools", "land", "seeds", "clinic",
         "repair", "share", "weekly", "council", "rota", "garden", "plan", "fund", "night", "bus",
         "roof", "solar", "grain", "mill", "square", "youth")


def key(n: int) -> SigningKey:
    return SigningKey(bytes([n]) * 32)


def write_history() -> tuple[str, list[Envelope]]:
    """The genesis (assembly key certifying every device), then the devices' decisions,
    in an order where every change comes after its dependencies."""
    assembly = key(1)
    doc_id = ledger_id(assembly.public)
    founder = Document(run_actor(assembly.public, bytes(8)))
    devices = [key(2 + i) for i in range(DEVICES)]
    with founder.transaction() as tx:
        write_genesis(tx, Profile(key_text(assembly.public), "Bench assembly", "", 100))
        for i, device in enumerate(devices):
            write_device(tx, assembly, device.public, f"device {i}")
    envelopes = [sign_change(assembly, doc_id, bytes(c.raw_bytes)) for c in founder.get_changes([])]
    rng = random.Random(7)  # decision texts: ordinary sentences, not repeated filler
    replicas = []
    for i, device in enumerate(devices):
        replica = founder.fork()
        replica.set_actor(run_actor(device.public, bytes([i]) * 8))
        replicas.append(replica)
    for n in range(DECISIONS):
        i = n % DEVICES
        replica = replicas[i]
        if n // DEVICES % SYNC_EVERY == 0:
            for other in replicas:
                if other is not replica:
                    replica.merge(other)
        heads = replica.get_heads()
        decision = Decision(f"{n:016d}".translate(str.maketrans("0123456789", "abcdefghij")),
                            " ".join(rng.choices(WORDS, k=4)).capitalize(),
                            " ".join(rng.choices(WORDS, k=rng.randint(10, 40))) + ".",
                            dt.date(2026, 1, 1) + dt.timedelta(days=n % 365),
                            Tally(50 + n % 7, n % 11, n % 3), 80, "", None, "decision", None)
        with replica.transaction() as tx:
            write_decision(tx, decision)
        (change,) = replica.get_changes(heads)
        envelopes.append(sign_change(devices[i], doc_id, bytes(change.raw_bytes)))
    return doc_id, envelopes


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def apply_in_batches(chunks: Sequence[bytes]) -> Document:
    doc = Document()
    for i in range(0, len(chunks), APPLY_BATCH):
        apply_chunks(doc, chunks[i:i + APPLY_BATCH])
    return doc


def ingest_into(path: Path, envelopes: list[Envelope]) -> tuple[Store, DocumentCache]:
    store = Store(path)
    docs = DocumentCache(store)
    report = Ingestor(store, docs).ingest(envelopes)
    if report.accepted != len(envelopes) or report.rejected:
        raise AssertionError(f"bench history not accepted: {report}")
    return store, docs


def at_rest(path: Path, store: Store) -> int:
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if p.exists())


def run() -> None:
    started = time.perf_counter()
    doc_id, envelopes = write_history()
    n = len(envelopes)
    chunks = [e.change for e in envelopes]
    print(f"{n} changes ({DECISIONS} decisions by {DEVICES} devices + genesis), "
          f"{sum(map(len, chunks)) / n:.0f} bytes per chunk, written in "
          f"{time.perf_counter() - started:.1f} s")

    checks = timed(lambda: [check_envelope(e) for e in envelopes])
    plain_sync = timed(lambda: apply_in_batches(chunks))
    plain_load = timed(lambda: Document.load(b"".join(chunks)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pnyx.sqlite"
        box: list[tuple[Store, DocumentCache]] = []
        ingest = timed(lambda: box.append(ingest_into(path, envelopes)))
        store, docs = box[0]
        saved = len(docs.get(doc_id).save())
        heads_match = docs.get(doc_id).get_heads() == apply_in_batches(chunks).get_heads()
        stored = at_rest(path, store)
        store.close()

    rows = [
        ("verified ingest (Ingestor.ingest, SQLite)", ingest),
        ("  of which parse + hash + signature", checks),
        ("plain Automerge, sync-message apply", plain_sync),
        ("plain Automerge, Document.load", plain_load),
    ]
    print(f"{'':44} {'seconds':>8} {'changes/s':>10}")
    for label, seconds in rows:
        print(f"{label:44} {seconds:8.2f} {n / seconds:10.0f}")
    print(f"verified ingest is {ingest / plain_sync:.1f}x the time of sync-message apply, "
          f"{ingest / plain_load:.1f}x that of Document.load; same heads: {heads_match}")
    print(f"bytes at rest per decision: store {stored / DECISIONS:.0f} "
          f"(SQLite + WAL after checkpoint, {stored / 1e6:.1f} MB), "
          f"Automerge save() {saved / DECISIONS:.0f}; ratio {stored / saved:.1f}x")
