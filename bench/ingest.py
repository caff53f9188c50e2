"""Verified ingest against plain Automerge: what signing and checking every change costs.

10,000 decisions written by 3 devices of one assembly (syncing now and then, so
the history has concurrent branches and merges) are ingested through
Ingestor.ingest into a real SQLite file: every change parsed, its hash computed,
its signature and authority checked, applied in a contained way and stored.
The baseline is Automerge alone taking the same chunks with no verification:
the hand-built sync message the daemon uses (documents.apply_chunks), and
Document.load of the concatenated chunks. Bytes at rest are the store file
(WAL checkpointed) per decision, beside Automerge's own save() per decision.

The same changes are also ingested as sync and bundles deliver them: in packs
of 500 (federation/changepack.py), where one signature vouches for each
actor's chain, so most changes are checked without an Ed25519 verify.

Also: the Ed25519 verifiers available to Python on the same signatures (the
daemon uses the faster), `pnyx verify` (store/audit.reverify) over the store
just filled, and memory: a fresh process receiving all the changes, its peak
and what stays resident once the daemon's idle tending has run, beside a fresh
process holding the same changes in plain Automerge; the same for 50,000 changes in 10
ledgers (bench/corpus.py), where the goal is a peak under 150 MB.

Ingest and verify run with federation's hot modules compiled by mypyc (`make bench`
compiles them, pnyx.compiled) and again as pure Python (PNYX_PURE=1) in a fresh process
of the same run, so that what compiling gains is a ratio measured side by side.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import nacl.bindings
import pnyx.federation
from automerge.core import Document
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pnyx.compiled import why_pure
from pnyx.daemon.store.audit import reverify
from pnyx.daemon.store.documents import DocumentCache, apply_chunks
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.changepack import pack, unpack
from pnyx.federation.chunk import parse_change
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import (
    Envelope,
    check_envelope,
    decode_envelope,
    run_actor,
    sign_change,
    signing_input,
)
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import Decision, Profile, Tally, write_decision, write_device, write_genesis

from bench.corpus import ledger_chain, new_key
from bench.peak import peak_mb

DECISIONS = 10_000
RECEIVED = 50_000  # changes received in a fresh process for the memory bound ...
RECEIVED_DOCS = 10  # ... in this many ledgers
PEAK_GOAL_MB = 150
DEVICES = 3
SYNC_EVERY = 25  # each device merges the others' changes after this many of its own
APPLY_BATCH = 1_000
PACK_BATCH = 500  # a sync batch
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


def opened(path: Path) -> tuple[Store, DocumentCache]:
    """A fresh store, open as a daemon's is before anything arrives: its opening (the schema
    made and synced, 20-70 ms) is no part of any ingest's time."""
    store = Store(path)
    return store, DocumentCache(store)


def ingest_into(opened: tuple[Store, DocumentCache],
                envelopes: list[Envelope]) -> tuple[Store, DocumentCache]:
    store, docs = opened
    report = Ingestor(store, docs).ingest(envelopes)
    if report.accepted != len(envelopes) or report.rejected:
        raise AssertionError(f"bench history not accepted: {report}")
    return store, docs


def as_packs(envelopes: list[Envelope]) -> list[Envelope]:
    """The changes as a receiver gets them from packs of a sync batch's size."""
    batches = (envelopes[i:i + PACK_BATCH] for i in range(0, len(envelopes), PACK_BATCH))
    return [e for batch in batches for e in unpack(pack(batch))]


def at_rest(path: Path, store: Store) -> int:
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(os.path.getsize(p) for p in (path, Path(f"{path}-wal")) if p.exists())


def signature_rates(envelopes: list[Envelope]) -> list[tuple[str, float]]:
    """Seconds to verify every signature with each library (no other check)."""
    inputs = [(e.signer, e.signature, signing_input(e.doc_id, parse_change(e.change).hash))
              for e in envelopes]

    def with_cryptography() -> None:
        for signer, signature, message in inputs:
            Ed25519PublicKey.from_public_bytes(signer).verify(signature, message)

    def with_libsodium() -> None:
        for signer, signature, message in inputs:
            nacl.bindings.crypto_sign_open(signature + message, signer)

    return [("  Ed25519: cryptography (OpenSSL)", timed(with_cryptography)),
            ("  Ed25519: PyNaCl (libsodium), used", timed(with_libsodium))]


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def received_envelopes(wire: list[bytes]) -> list[Envelope]:
    """The envelopes a child process was sent as their wire bytes (a compiled Envelope,
    federation/frozen.py, does not unpickle), the bytes then let go: memory is measured after."""
    envelopes = [decode_envelope(e) for e in wire]
    wire.clear()  # the Process object holds the list itself
    return envelopes


def receive_in_child(wire: list[bytes], out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Runs in a fresh process: ingest everything, then tend as an idle daemon does. The
    envelopes are decoded as they are judged, as a peer's replies and a bundle's stream are:
    decoded all first, the 50,000 held as objects added 15 MB to the peak that no
    receiver holds (measured)."""
    start = rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "pnyx.sqlite")
        docs = DocumentCache(store)
        Ingestor(store, docs).ingest(map(decode_envelope, wire))
        peak = peak_mb()
        docs.tend()
        out.put((start, peak, rss_mb()))
        store.close()


def plain_in_child(chunks: list[bytes], out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    start = rss_mb()
    doc = apply_in_batches(chunks)
    out.put((start, peak_mb(), rss_mb()))
    del doc


def in_child(target: Callable[..., None], argument: object) -> Any:
    """The three numbers `target` puts in its queue, run in a fresh (spawned) process: the
    memory measures' (resident MB at start, peak MB, resident MB at the end), for one."""
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    child = context.Process(target=target, args=(argument, out))
    child.start()
    result = out.get()
    child.join()
    return result


Times = tuple[float, float]  # seconds: elapsed, and of this process's CPU (the same under other load)


def both_timed(action: Callable[[], object]) -> Times:
    start, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - start, time.process_time() - cpu


def ingest_and_verify(tmp: Path, envelopes: list[Envelope],
                      vouched: list[Envelope]) -> tuple[tuple[Times, Times, Times], Store, DocumentCache]:
    """Times to ingest the signed envelopes into a fresh store in `tmp`, to `pnyx verify` it,
    and to ingest the same changes from packs into another; and the first store, open."""
    store, docs = first = opened(tmp / "pnyx.sqlite")
    ingest = both_timed(lambda: ingest_into(first, envelopes))
    verify = both_timed(lambda: reverify(store))
    second = opened(tmp / "packed.sqlite")
    packed = both_timed(lambda: ingest_into(second, vouched))
    second[0].close()
    return (ingest, verify, packed), store, docs


SOURCES = Path(pnyx.federation.__path__[-1])  # federation/: the last of the path, after any compiled


def pure_in_child(wire: list[bytes], out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Runs in a fresh process started with PNYX_PURE=1: `ingest_and_verify` in pure Python."""
    if why_pure(SOURCES) != "PNYX_PURE is set":
        raise AssertionError("the pure Python run is not pure")
    envelopes = received_envelopes(wire)
    with tempfile.TemporaryDirectory() as tmp:
        times, store, _ = ingest_and_verify(Path(tmp), envelopes, as_packs(envelopes))
        store.close()
    out.put(times)


def in_pure_python(envelopes: list[Envelope]) -> tuple[Times, Times, Times]:
    """`ingest_and_verify`'s times with federation's modules in pure Python."""
    os.environ["PNYX_PURE"] = "1"  # what the spawned child's environment starts from
    try:
        times: tuple[Times, Times, Times] = in_child(pure_in_child, [e.encode() for e in envelopes])
        return times
    finally:
        del os.environ["PNYX_PURE"]


def run() -> None:
    started = time.perf_counter()
    doc_id, envelopes = write_history()
    n = len(envelopes)
    chunks = [e.change for e in envelopes]
    print(f"{n} changes ({DECISIONS} decisions by {DEVICES} devices + genesis), "
          f"{sum(map(len, chunks)) / n:.0f} bytes per chunk, written in "
          f"{time.perf_counter() - started:.1f} s")

    checks = timed(lambda: [check_envelope(e) for e in envelopes])
    vouched = as_packs(envelopes)
    vouched_checks = timed(lambda: [check_envelope(e) for e in vouched])
    plain_sync = timed(lambda: apply_in_batches(chunks))
    plain_load = timed(lambda: Document.load(b"".join(chunks)))
    with tempfile.TemporaryDirectory() as tmp:
        compiled, store, docs = ingest_and_verify(Path(tmp), envelopes, vouched)
        saved = len(docs.get(doc_id).save())
        heads_match = docs.get(doc_id).get_heads() == apply_in_batches(chunks).get_heads()
        stored = at_rest(Path(tmp) / "pnyx.sqlite", store)
        store.close()
    pure = in_pure_python(envelopes)
    (ingest, _), (verify, _), (packed, _) = compiled

    rows = [
        ("verified ingest (Ingestor.ingest, SQLite)", ingest),
        ("  of which parse + hash + signature", checks),
        ("verified ingest from packs (vouched)", packed),
        ("  of which parse + hash + vouching", vouched_checks),
        *signature_rates(envelopes),
        ("pnyx verify (reverify of the store)", verify),
        ("plain Automerge, sync-message apply", plain_sync),
        ("plain Automerge, Document.load", plain_load),
    ]
    print(f"{'':44} {'seconds':>8} {'changes/s':>10}")
    for label, seconds in rows:
        print(f"{label:44} {seconds:8.2f} {n / seconds:10.0f}")
    reason = why_pure(SOURCES)
    print(f"federation's hot modules above: {'compiled by mypyc' if reason is None else reason}; "
          "the same in pure Python (PNYX_PURE=1) in a fresh process, changes/s elapsed and of CPU:")
    labels = ("verified ingest", "pnyx verify", "ingest from packs")
    for label, (wall, cpu), (pure_wall, pure_cpu) in zip(labels, compiled, pure, strict=True):
        print(f"  {label:18} compiled {n / wall:6.0f} (CPU {n / cpu:6.0f}), pure {n / pure_wall:6.0f} "
              f"(CPU {n / pure_cpu:6.0f}): {pure_wall / wall:.2f}x elapsed, {pure_cpu / cpu:.2f}x CPU")
    print(f"verified ingest is {ingest / plain_sync:.1f}x the time of sync-message apply, "
          f"{ingest / plain_load:.1f}x that of Document.load; same heads: {heads_match}; "
          f"from packs {packed / plain_sync:.1f}x sync-message apply "
          f"(goal 15,000 changes/s: {n / packed:,.0f})")
    memory(envelopes)
    many = [e for _ in range(RECEIVED_DOCS) for e in ledger_chain(new_key(), RECEIVED // RECEIVED_DOCS)[1]]
    peak = memory(many)
    print(f"peak receiving {len(many)} changes: {peak:.0f} MB, goal under {PEAK_GOAL_MB} MB")
    print(f"bytes at rest per decision: store {stored / DECISIONS:.0f} "
          f"(SQLite + WAL after checkpoint, {stored / 1e6:.1f} MB), "
          f"Automerge save() {saved / DECISIONS:.0f}; ratio {stored / saved:.1f}x")


def memory(envelopes: list[Envelope]) -> float:
    """Print and return the peak of a fresh process receiving `envelopes`, beside plain
    Automerge holding the same changes."""
    received: tuple[float, float, float] = in_child(receive_in_child, [e.encode() for e in envelopes])
    plain: tuple[float, float, float] = in_child(plain_in_child, [e.change for e in envelopes])
    print(f"memory receiving {len(envelopes)} changes in a fresh process (MB): peak {received[1]:.0f}, "
          f"resident after idle tending {received[2]:.0f} (at start {received[0]:.0f}, holding the "
          f"envelopes' bytes); plain Automerge peak {plain[1]:.0f}, holding them {plain[2]:.0f}; "
          f"peak ratio {received[1] / plain[1]:.1f}x")
    return received[1]
