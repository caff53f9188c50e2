"""Sync between real daemons: idle cost, catch-up, and convergence on a mesh.

1. Idle: two daemons already in step, 10 and 1,000 documents: round trips and
   bytes of one exchange (bodies, and a whole HTTP/1.1 exchange on the socket).
2. Catch-up: 1k, 10k and 50k changes (10 ledgers) held by a `pnyx run` daemon,
   pulled into an empty store by the exchange `pnyx sync` runs (in this
   process, so Python's start is not counted, as node's is not for
   automerge-repo): bytes of bodies and wall time (verification and storage
   included), how busy the pulling process was (pipelined, it waits for
   its peer only to start: near 100% on a quiet machine) and how much of the
   time it spent in Ingestor.ingest, and of the rest how much in decoding replies and
   before the first batch was being stored (the rest: HTTP, waiting), beside
   automerge-repo 2.5.6 (installed from npm in bench/automerge-repo/, outside
   the pnyx package) catching up the same documents in the same run, as ratios.
   Then the other way: the same store pushes everything to an empty `pnyx run`
   daemon, which verifies and stores each push before it answers. And the pull
   again over a link of 100 ms round trips (bench/slowlink.py), against the
   loopback's time. And memory: the peak resident size of each process that receives the
   catch-up, each a fresh process as a user runs it: `pnyx sync` into an empty store, a
   `pnyx run` daemon pulling it from its peer (the village catching up), and the daemon the
   push above went to, beside plain Automerge holding the same changes in a fresh process
   (bench/ingest.py); the goal is a peak under 150 MB at 50k.
3. Convergence: MESH daemons on a random connected 3-regular graph (static
   peers, --no-learn), one new decision: seconds until all hold it, with push
   at once, and with periodic pull-push only (gossip rounds = seconds / interval).

PNYX_BENCH_SYNC_SIZES (say 10000,50000) runs only the catch-up, of those sizes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from automerge.core import Document
from pnyx.daemon.net import sync_client
from pnyx.daemon.net.sync_client import Outcome, new_session, sync_with
from pnyx.daemon.services.records import DecisionInput, Recorder
from pnyx.daemon.store.holdings import StoreHoldings
from pnyx.daemon.store.ingest import IngestReport
from pnyx.daemon.store.node import Node, open_node
from pnyx.daemon.store.peers import PeerBook
from pnyx.federation.envelope import Envelope
from pnyx.federation.ledger import Tally
from pnyx.federation.syncmsg import Hello, Reply, decode_reply, encode

from bench.corpus import ledger_chain, new_key
from bench.ingest import PEAK_GOAL_MB, in_child, plain_in_child
from bench.peak import cli_peak_mb, peak_mb

PNYX = [sys.executable, "-m", "pnyx.daemon.cli.main"]
# PNYX_BENCH_SYNC_SIZES=10000,50000 runs the catch-up of those sizes alone (no idle, no mesh)
SIZES = os.environ.get("PNYX_BENCH_SYNC_SIZES")
CATCH_UP = (1_000, 10_000, 50_000) if SIZES is None else tuple(int(s) for s in SIZES.split(","))
CATCH_UP_DOCS = 10
AUTOMERGE_REPO = Path(__file__).resolve().parent / "automerge-repo"
SLOW_RTT_MS = 100  # a catch-up over a mesh link of this round trip (bench/slowlink.py)
MESH = 20
INTERVAL = 1.0


def pnyx(data: Path, *args: str) -> str:
    return subprocess.run([*PNYX, "--data", str(data), *args], check=True, capture_output=True,
                          text=True, timeout=600).stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_all(datas: list[Path]) -> None:
    procs = [subprocess.Popen([*PNYX, "--data", str(d), "init", "--assembly", d.name],
                              stdout=subprocess.DEVNULL) for d in datas]
    assert all(p.wait(timeout=120) == 0 for p in procs)


class Daemon:
    def __init__(self, data: Path, *extra: str, port: int | None = None) -> None:
        self.data, self.port = data, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(data.parent / f"{data.name}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([*PNYX, "--data", str(data), "run", "--listen",
                                      f"127.0.0.1:{self.port}", "--no-discovery", *extra],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        wait_listening(self.port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def count(data: Path) -> int:
    db = sqlite3.connect(data / "pnyx.sqlite", timeout=30)
    try:
        return int(db.execute("SELECT count(*) FROM changes").fetchone()[0])
    finally:
        db.close()


def ingest(data: Path, envelopes: list[Envelope]) -> None:
    node = open_node(data)
    try:
        report = node.ingestor.ingest(envelopes)
        assert report.accepted + report.duplicate == len(envelopes), report.rejected[:3]
    finally:
        node.close()


def digest_of(data: Path) -> bytes:
    node = open_node(data)
    try:
        return StoreHoldings(node.store).trees().whole.root()
    finally:
        node.close()


def raw_http_exchange(port: int, body: bytes) -> tuple[int, int]:
    """Bytes a minimal HTTP/1.1 client sends and receives for one request."""
    request = (f"POST /pnyx/v1/sync HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Content-Type: application/msgpack\r\nContent-Length: {len(body)}\r\n"
               "Connection: close\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(request)
        received = b""
        while chunk := s.recv(65536):
            received += chunk
    head, _, reply = received.partition(b"\r\n\r\n")
    assert decode_reply(reply).__class__.__name__ == "Same", head
    return len(request), len(received)


def idle(root: Path, docs: int) -> None:
    a, b = root / f"idle{docs}-a", root / f"idle{docs}-b"
    init_all([a, b])
    shared = [e for _ in range(docs) for e in ledger_chain(new_key(), 1)[1]]
    ingest(a, shared)
    ingest(b, shared)
    daemon = Daemon(b)
    daemon.wait_ready()
    try:
        pnyx(a, "sync", daemon.url, "--json")  # exchange the two geneses first
        out = pnyx(a, "sync", daemon.url, "--json")
        result = json.loads(out)
        node = open_node(a)
        try:
            t = time.perf_counter()
            digest = StoreHoldings(node.store).trees().whole.root()  # a fresh tree: built from the heads
            recompute = time.perf_counter() - t
            hello = encode(Hello(((b"", digest),), node.device_key.public, "http://127.0.0.1:7464"))
        finally:
            node.close()
        sent, received = raw_http_exchange(daemon.port, hello)
    finally:
        daemon.stop()
    print(f"idle, {docs + 2:>5} documents: {result['round_trips']} round trip, "
          f"{result['bytes_sent'] + result['bytes_received']} bytes of bodies "
          f"({result['bytes_sent']} + {result['bytes_received']}); whole HTTP/1.1 exchange "
          f"{sent + received} bytes ({sent} + {received}); digest tree built from the heads "
          f"in {recompute * 1000:.1f} ms (once per process; then kept up to date per insert)")


def automerge_repo(chains: list[tuple[Document, list[Envelope]]], root: Path) -> dict[str, float]:
    """automerge-repo 2.5.6 (bench/automerge-repo/) catching up the same documents: bytes of its
    messages and seconds until the target holds them, from bench/automerge-repo/catchup.mjs."""
    if not (AUTOMERGE_REPO / "node_modules").exists():
        # `npm install`, not `npm ci`: npm 11 refuses this lock file, which leaves out the
        # optional per-platform packages of cbor-extract; install keeps the locked versions
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=AUTOMERGE_REPO, check=True,
                       capture_output=True, timeout=600)
    saved = root / "automerge-repo-docs"
    saved.mkdir(exist_ok=True)
    for old in saved.iterdir():
        old.unlink()
    for i, (doc, _) in enumerate(chains):
        (saved / f"doc{i:03d}.automerge").write_bytes(doc.save())
    out = subprocess.run(["node", str(AUTOMERGE_REPO / "catchup.mjs"), str(saved)], check=True,
                         capture_output=True, text=True, timeout=900).stdout
    result: dict[str, float] = json.loads(out)
    return result


async def pull_all(node: Node, url: str) -> Outcome:
    """One exchange from an empty store, in this process, as `pnyx sync` runs it."""
    node.docs.keep_only_in_use()
    async with new_session() as session:
        return await sync_with(session, node, StoreHoldings(node.store), url)


@dataclass
class Spent:
    """Where an exchange's wall time went in the process that runs it, besides its whole: in
    Ingestor.ingest (the receiver's verification and storage), decoding replies (unpacking
    their packs), and before the first batch was being stored (hello, descent, first pull)."""

    ingest: float = 0.0
    decode: float = 0.0
    first: float | None = None  # perf_counter when Ingestor.ingest was first called


@contextmanager
def timing(node: Node) -> Iterator[Spent]:
    """Sums into a Spent the wall seconds the node's Ingestor.ingest, and the sync client's
    decoding of replies, take in the block."""
    spent = Spent()
    ingest, decode = node.ingestor.ingest, sync_client.decoded_reply

    def timed_ingest(envelopes: Iterable[Envelope], source: str = "") -> IngestReport:
        start = time.perf_counter()
        spent.first = start if spent.first is None else spent.first
        try:
            return ingest(envelopes, source)
        finally:
            spent.ingest += time.perf_counter() - start

    def timed_decode(data: bytes) -> Reply:
        start = time.perf_counter()
        try:
            return decode(data)
        finally:
            spent.decode += time.perf_counter() - start

    node.ingestor.ingest = timed_ingest  # type: ignore[method-assign]
    sync_client.decoded_reply = timed_decode
    try:
        yield spent
    finally:
        sync_client.decoded_reply = decode


def catch_up(root: Path, total: int) -> None:
    source, target = root / f"source{total}", root / f"target{total}"
    init_all([source, target])
    t = time.perf_counter()
    chains = [ledger_chain(new_key(), total // CATCH_UP_DOCS) for _ in range(CATCH_UP_DOCS)]
    envelopes = [e for _, chain in chains for e in chain]
    made = time.perf_counter() - t
    t = time.perf_counter()
    ingest(source, envelopes)
    stored = time.perf_counter() - t
    print(f"catch-up corpus: {len(envelopes):,} changes in {CATCH_UP_DOCS} ledgers made in {made:.1f} s, "
          f"stored at the source in {stored:.1f} s")
    pulled = exchange(target, source)
    wall, outcome, spent = pulled.wall, pulled.outcome, pulled.spent
    assert outcome.received.accepted == len(envelopes) + 1, outcome.received
    assert digest_of(source) == digest_of(target)
    sink = root / f"sink{total}"
    init_all([sink])
    push = exchange(source, sink)  # and the geneses of source and target
    assert push.outcome.progress.remote_accepted == len(envelopes) + 2, push.outcome.progress
    assert not push.outcome.progress.remote_rejected, push.outcome.progress
    envelope_bytes = sum(len(e.encode()) for e in envelopes)
    wire = outcome.wire_sent + outcome.wire_received
    repo = automerge_repo(chains, root)
    print(f"catch-up {total:,}: pnyx sync {wire:,} bytes of bodies ({wire / envelope_bytes:.3f} of the "
          f"envelopes' {envelope_bytes:,}), {outcome.progress.round_trips} round trips, {wall:.2f} s "
          f"({len(envelopes) / wall:,.0f} changes/s verified and stored, in the process that pulls, "
          f"busy {pulled.cpu / wall:.0%} of it: the rest is waiting for the peer or for a core; "
          f"{spent.ingest:.2f} s of it in Ingestor.ingest, {wall - spent.ingest:.2f} s outside it: "
          f"{spent.decode:.2f} s decoding replies, the first batch stored from "
          f"{(spent.first or 0.0):.2f} s, the rest HTTP and waiting); "
          f"automerge-repo {repo['bytes']:,.0f} bytes in {repo['messages']:.0f} messages, "
          f"{repo['seconds']:.2f} s")
    print(f"catch-up {total:,}: ratios pnyx/automerge-repo: bytes {wire / repo['bytes']:.2f}x "
          f"(goal 2x), time {wall / repo['seconds']:.2f}x (goal 1x); pnyx verifies every signature "
          "and authority and commits to SQLite, automerge-repo verifies nothing")
    print(f"catch-up {total:,} pushed: to an empty daemon in {push.wall:.2f} s, "
          f"{push.outcome.progress.round_trips} round trips; time {push.wall / repo['seconds']:.2f}x "
          "automerge-repo's")
    slow_target = root / f"slow{total}"
    init_all([slow_target])
    slow = exchange(slow_target, source, SLOW_RTT_MS)
    assert digest_of(source) == digest_of(slow_target)
    print(f"catch-up {total:,} over a link of {SLOW_RTT_MS} ms round trips: {slow.wall:.2f} s, "
          f"{slow.outcome.progress.round_trips} round trips; {slow.wall / wall:.2f}x the same catch-up on "
          "the loopback (pipelined, a batch's round trip hides behind storing the one before)")
    received_peaks(root, source, total, [e.change for e in envelopes], push.peer_peak)


def received_peaks(root: Path, source: Path, total: int, chunks: list[bytes], pushed: float) -> None:
    """Print the peak resident MB of the processes that receive the catch-up from `source`,
    each fresh: `pnyx sync`, a daemon pulling from a daemon, a daemon pushed to (`pushed`,
    measured by the caller); beside plain Automerge holding the same `chunks`."""
    daemon = Daemon(source)
    daemon.wait_ready()
    try:
        synced = root / f"cli{total}"
        init_all([synced])
        held = count(source)
        cli, done = cli_peak_mb(["--data", str(synced), "sync", daemon.url, "--json"])
        assert done.returncode == 0 and json.loads(done.stdout)["received"] == held, done
        pulled = daemon_pull_peak(root / f"puller{total}", daemon.url, count(source))
    finally:
        daemon.stop()
    plain = in_child(plain_in_child, chunks)[1]
    peaks = {"pnyx sync": cli, "a daemon pulling": pulled, "a daemon pushed to": pushed}
    goal = f"goal under {PEAK_GOAL_MB} MB at 50k"
    if total == 50_000:
        goal += ": met" if max(peaks.values()) < PEAK_GOAL_MB else ": NOT MET"
    print(f"catch-up {total:,} memory, peak resident MB of the fresh process receiving it: "
          + ", ".join(f"{name} {peak:.0f} ({peak / plain:.2f}x)" for name, peak in peaks.items())
          + f"; plain Automerge holding the same changes {plain:.0f} (1x); {goal}")


def daemon_pull_peak(data: Path, url: str, held: int) -> float:
    """A `pnyx run` daemon on an empty store, with the daemon at `url` (holding `held` changes)
    as its one peer, pulls from it by gossip until it holds them all: its peak resident MB."""
    init_all([data])
    node = open_node(data)
    try:
        PeerBook(node.store).add(url, "added", time.time())
    finally:
        node.close()
    daemon = Daemon(data, "--gossip-interval", str(INTERVAL), "--no-learn")
    try:
        deadline = time.monotonic() + 900
        while count(data) < held + 1:  # and its own genesis
            if time.monotonic() > deadline or daemon.proc.poll() is not None:
                raise RuntimeError(f"the daemon on {data} did not catch up")
            time.sleep(0.2)
        return peak_mb(daemon.proc.pid)
    finally:
        daemon.stop()


@dataclass
class Exchanged:
    """An exchange run in this process with a daemon: wall and CPU seconds of this process,
    the outcome, where the wall seconds went (`first` from the start), and the peak resident
    MB of the daemon, a fresh process."""

    wall: float
    cpu: float
    outcome: Outcome
    spent: Spent
    peer_peak: float


def exchange(data: Path, peer: Path, rtt_ms: int = 0) -> Exchanged:
    """The store at `data` syncs with a `pnyx run` daemon on `peer` (through a link of `rtt_ms`
    round trips, bench/slowlink.py, if not 0)."""
    daemon = Daemon(peer)
    daemon.wait_ready()
    link = None
    url = daemon.url
    if rtt_ms:
        port = free_port()
        link = subprocess.Popen([sys.executable, "-m", "bench.slowlink", str(port), str(daemon.port),
                                 str(rtt_ms)], cwd=Path(__file__).resolve().parent.parent)
        wait_listening(port)
        url = f"http://127.0.0.1:{port}"
    node = open_node(data)
    try:
        with timing(node) as spent:
            t, cpu = time.perf_counter(), time.process_time()
            outcome = asyncio.run(pull_all(node, url))
            wall = time.perf_counter() - t
        spent.first = None if spent.first is None else spent.first - t
        return Exchanged(wall, time.process_time() - cpu, outcome, spent, peak_mb(daemon.proc.pid))
    finally:
        node.close()
        if link is not None:
            link.terminate()
            link.wait(timeout=30)
        daemon.stop()


def decide(data: Path, title: str) -> None:
    """Record one decision in this process (milliseconds), as `pnyx decide` would; the clock
    starts when it is committed."""
    node = open_node(data)
    try:
        Recorder(node).decide(DecisionInput(title, "", dt.date(2026, 11, 22), Tally(1, 0, 0)))
    finally:
        node.close()


def random_mesh(n: int, degree: int, rng: random.Random) -> list[set[int]]:
    """A connected simple graph with every vertex of the given degree (configuration model)."""
    while True:
        stubs = [v for v in range(n) for _ in range(degree)]
        rng.shuffle(stubs)
        edges = {(min(a, b), max(a, b)) for a, b in zip(stubs[::2], stubs[1::2], strict=True)}
        if len(edges) != n * degree // 2 or any(a == b for a, b in edges):
            continue
        adj: list[set[int]] = [set() for _ in range(n)]
        for a, b in edges:
            adj[a].add(b)
            adj[b].add(a)
        if len(hops_from(adj, 0)) == n:
            return adj


def hops_from(adj: list[set[int]], start: int) -> dict[int, int]:
    seen, frontier = {start: 0}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in adj[v]:
                if w not in seen:
                    seen[w] = seen[v] + 1
                    nxt.append(w)
        frontier = nxt
    return seen


def converge(datas: list[Path], target: int, timeout: float) -> float:
    start = time.monotonic()
    while any(count(d) < target for d in datas):
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"no convergence within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def mesh(root: Path) -> None:
    rng = random.Random(3)
    adj = random_mesh(MESH, 3, rng)
    datas = [root / f"m{i:02d}" for i in range(MESH)]
    init_all(datas)
    ports = [free_port() for _ in datas]
    now = time.time()
    for i, data in enumerate(datas):
        node = open_node(data)
        try:
            for j in adj[i]:
                PeerBook(node.store).add(f"http://127.0.0.1:{ports[j]}", "added", now)
        finally:
            node.close()
    origin = rng.randrange(MESH)
    eccentricity = max(hops_from(adj, origin).values())
    print(f"mesh: {MESH} daemons, 3-regular, {MESH * 3 // 2} links; the decision is {eccentricity} hops "
          "from the farthest daemon")
    held = MESH
    for label, flags in (("push at once", ()), ("periodic pull-push only", ("--no-push",))):
        daemons = [Daemon(data, "--gossip-interval", str(INTERVAL), "--no-learn", *flags, port=port)
                   for data, port in zip(datas, ports, strict=True)]
        try:
            for d in daemons:
                d.wait_ready()
            converge(datas, held, 120)
            decide(datas[origin], f"bench {label}")
            held += 1
            seconds = converge(datas, held, 120)
        finally:
            for d in daemons:
                d.stop()
        print(f"mesh, {label}: all {MESH} hold the new decision after {seconds:.2f} s "
              f"= {seconds / INTERVAL:.1f} gossip intervals of {INTERVAL:g} s")


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="pnyx-bench-sync-") as tmp:
        root = Path(tmp)
        for docs in (10, 1000) if SIZES is None else ():
            idle(root, docs)
        for total in CATCH_UP:
            catch_up(root, total)
        if SIZES is None:
            mesh(root)
