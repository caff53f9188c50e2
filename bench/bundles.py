"""The village's catch-up (tests/villagestory.py): sync over the network and bundles by hand,
beside copying the other side's whole store and beside Automerge's own sync protocol.

The story is written once; each way starts from a fresh copy of the village's and its
neighbour's data directories and ends with both holding the union:
- pnyx sync: one exchange, the village against the neighbour's `pnyx run` on loopback
  (wall time of the exchange; bytes of the request and reply bodies);
- bundles: state file out, bundle in, state file back, bundle out, each verified and stored
  (wall time of the four steps in-process; bytes of the four files);
- copying the whole store: the two SQLite files (WAL checkpointed), copied; this merges
  nothing, so it is a floor on time and the size of "send everything";
- Automerge sync: every document materialized on both sides, then Automerge's sync
  messages exchanged until neither side has more (wall time of the exchange only, not of
  loading; bytes of the encoded messages). No signatures are checked there.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from automerge.core import Document, SyncState
from pnyx.daemon.net.sync_client import new_session, sync_with
from pnyx.daemon.net.sync_endpoint import SyncContext
from pnyx.daemon.store.bundles import export_bundle, export_state, read_import
from pnyx.daemon.store.node import Node, open_node
from pnyx.federation.bundle import Selection, decode_state

from tests.pnyxproc import Daemon
from tests.villagestory import NEIGHBOUR, six_months

PAIR = ("village", NEIGHBOUR)


def fresh(story: Path, into: Path) -> tuple[Path, Path]:
    for name in PAIR:
        shutil.copytree(story / name, into / name)
    return into / "village", into / NEIGHBOUR


def count(data: Path) -> int:
    node = open_node(data)
    try:
        return node.store.count_changes()
    finally:
        node.close()


def by_network(village: Path, neighbour: Path) -> tuple[float, int]:
    daemon = Daemon(neighbour, "--no-learn")
    node = open_node(village)
    try:
        async def once() -> tuple[float, int]:
            async with new_session() as session:
                start = time.perf_counter()
                outcome = await sync_with(session, node, SyncContext.open(node).holdings, daemon.url)
                return time.perf_counter() - start, outcome.wire_sent + outcome.wire_received
        return asyncio.run(once())
    finally:
        node.close()
        daemon.stop()


def by_bundles(village: Path, neighbour: Path, files: Path) -> tuple[float, int]:
    v, n = open_node(village), open_node(neighbour)
    try:
        start = time.perf_counter()
        moved = 0
        for source, target, name in ((n, v, "in"), (v, n, "out")):
            state = export_state(target, files / f"{name}.state")
            bundle = files / f"{name}.pnyx"
            export_bundle(source, bundle, Selection(for_state=state.digest),
                          decode_state((files / f"{name}.state").read_bytes()))
            result = read_import(target, bundle)
            assert result.error is None and not result.report.rejected
            moved += (files / f"{name}.state").stat().st_size + bundle.stat().st_size
        return time.perf_counter() - start, moved
    finally:
        v.close()
        n.close()


def by_copy(village: Path, neighbour: Path, files: Path) -> tuple[float, int]:
    for data in (village, neighbour):
        open_node(data).store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    start = time.perf_counter()
    moved = 0
    for data in (village, neighbour):
        target = files / f"{data.name}.sqlite"
        shutil.copyfile(data / "pnyx.sqlite", target)
        moved += target.stat().st_size
    return time.perf_counter() - start, moved


def documents(node: Node) -> dict[str, Document]:
    return {doc: node.docs.get(doc) for doc in node.store.documents()}


def by_automerge(village: Path, neighbour: Path) -> tuple[float, int]:
    v, n = open_node(village), open_node(neighbour)
    try:
        ours, theirs = documents(v), documents(n)
        start = time.perf_counter()
        moved = 0
        for doc in sorted(ours.keys() | theirs.keys()):
            a, b = ours.get(doc, Document()), theirs.get(doc, Document())
            sa, sb = SyncState(), SyncState()
            while True:
                sent = False
                for x, sx, y, sy in ((a, sa, b, sb), (b, sb, a, sa)):
                    message = x.generate_sync_message(sx)
                    if message is not None:
                        moved += len(message.encode())
                        y.receive_sync_message(sy, message)
                        sent = True
                if not sent:
                    break
            assert a.get_heads() == b.get_heads() or sorted(a.get_heads()) == sorted(b.get_heads())
        return time.perf_counter() - start, moved
    finally:
        v.close()
        n.close()


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        six_months(root / "story")
        print(f"story: 12 assemblies, six months, written in {time.perf_counter() - start:.1f} s")
        village, neighbour = root / "story" / "village", root / "story" / NEIGHBOUR
        union = len({*hashes(village), *hashes(neighbour)})
        print(f"village holds {count(village)}, its neighbour {count(neighbour)}, union {union} changes")
        results: dict[str, tuple[float, int]] = {}
        for name, way in (("pnyx sync (network)", lambda v, n, f: by_network(v, n)),
                          ("pnyx bundles (both ways)", by_bundles),
                          ("copy both SQLite files", by_copy),
                          ("Automerge sync protocol", lambda v, n, f: by_automerge(v, n))):
            work = root / name.split()[0] / name.split()[1]
            work.mkdir(parents=True)
            v, n = fresh(root / "story", work)
            results[name] = way(v, n, work)
            if name.startswith("pnyx"):  # the others do not store into pnyx stores
                assert count(v) == count(n) == union, f"{name} did not reconcile"
        base_time, base_bytes = results["copy both SQLite files"]
        am_time, am_bytes = results["Automerge sync protocol"]
        print(f"{'way':26} {'wall s':>8} {'bytes':>10} {'x copy bytes':>12} {'x automerge bytes':>17}"
              f" {'x automerge time':>16}")
        for name, (seconds, moved) in results.items():
            print(f"{name:26} {seconds:8.3f} {moved:10d} {moved / base_bytes:12.2f} {moved / am_bytes:17.2f}"
                  f" {seconds / am_time:16.2f}")
        print(f"(copy time {base_time:.3f} s is a floor: a copy merges nothing)")


def hashes(data: Path) -> set[bytes]:
    node = open_node(data)
    try:
        return {bytes(h) for (h,) in node.store.db.execute("SELECT hash FROM changes")}
    finally:
        node.close()
