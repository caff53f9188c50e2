"""Bundles and state files through the real CLI: what the secretary with the USB stick relies on.

Exactly what the other side lacks is exported; importing twice changes
nothing; a killed import loses nothing and a second run completes it; a
truncated, damaged or foreign file is refused with a clear error and every
valid record before the damage is kept; --since and --confed narrow the
export; exporting and reading 100,000 records never holds them all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import signal
import subprocess
import time
import tracemalloc
from pathlib import Path

import pytest
from automerge.core import Document
from pnyx.daemon.store import bundles, documents
from pnyx.daemon.store.bundles import export_bundle, read_import
from pnyx.daemon.store.node import Node, create_data_dir, new_key, open_node
from pnyx.federation.bundle import BundleReader, Selection
from pnyx.federation.changepack import join_chunk, pack
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import Envelope, run_actor, sign_change
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import Decision, Profile, Tally, read_ledger, write_decision, write_genesis

from bench.corpus import ledger_chain

from .confedkit import World, count_changes
from .pnyxproc import PNYX, cli, cli_json


def ledger_history(n: int, name: str = "Village") -> list[Envelope]:
    """An assembly's ledger: its profile and `n` decisions, signed by the assembly key."""
    assembly = SigningKey(os.urandom(32))
    doc_id = ledger_id(assembly.public)
    doc = Document(run_actor(assembly.public, os.urandom(8)))
    with doc.transaction() as tx:
        write_genesis(tx, Profile(key_text(assembly.public), name, "", 100))
    for i in range(n):
        with doc.transaction() as tx:
            write_decision(tx, Decision(f"{i:016d}".translate(str.maketrans("0123456789", "abcdefghij")),
                                        f"Decision {i}", "", dt.date(2026, 1, 1) + dt.timedelta(days=i % 300),
                                        Tally(5, 1, 0), None, "", None, "decision", None))
    return [sign_change(assembly, doc_id, bytes(c.raw_bytes)) for c in doc.get_changes([])]


def data_dir(root: Path, name: str, envelopes: list[Envelope] = ()) -> Path:  # type: ignore[assignment]
    data = root / name
    create_data_dir(data, new_key().public, new_key(), None)
    node = open_node(data)
    try:
        report = node.ingestor.ingest(envelopes)
        assert report.accepted == len(envelopes)
    finally:
        node.close()
    return data


def test_exactly_what_the_other_side_lacks_and_twice_changes_nothing(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.assembly("hill")
    world.assembly("village")
    for i in range(5):
        world.recorders["hill"].decide(vote(f"2026-02-0{i + 1}", f"hill {i}"))
    world.recorders["village"].decide(vote("2026-02-03", "village own"))
    world.close()
    hill, village = tmp_path / "hill", tmp_path / "village"
    cli(village, "state", "export", "-o", str(tmp_path / "village.state"))
    out = cli_json(hill, "bundle", "export", "--for", str(tmp_path / "village.state"),
                   "-o", str(tmp_path / "carry.pnyx"))
    assert out["records"] == count_changes(hill)  # the village had none of the hill's records
    before = count_changes(village)
    first = cli_json(village, "bundle", "import", str(tmp_path / "carry.pnyx"))
    assert (first["new"], first["already_held"], first["rejected"], first["complete"]) == \
        (out["records"], 0, 0, True)
    assert count_changes(village) == before + out["records"]
    again = cli_json(village, "bundle", "import", str(tmp_path / "carry.pnyx"))
    assert (again["new"], again["already_held"]) == (0, out["records"])
    assert count_changes(village) == before + out["records"]
    # now the village lacks nothing of the hill's: the next bundle for it is empty
    cli(village, "state", "export", "-o", str(tmp_path / "village.state"))
    assert cli_json(hill, "bundle", "export", "--for", str(tmp_path / "village.state"),
                    "-o", str(tmp_path / "none.pnyx"))["records"] == 0
    # the other way: only the village's own record and nothing the hill sent it
    cli(hill, "state", "export", "-o", str(tmp_path / "hill.state"))
    back = cli_json(village, "bundle", "export", "--for", str(tmp_path / "hill.state"),
                    "-o", str(tmp_path / "back.pnyx"))
    assert back["records"] == before
    assert cli_json(hill, "status", "--completeness")["complete"] is True


def test_ledgers_that_arrived_interleaved_go_in_a_window_of_documents_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bundle carries a window of documents at a time, as sync pulls them: ledgers that
    arrived at the exporter interleaved reach the importer one after the other, so an importer
    whose cache holds fewer changes than they do loads each once (in the exporter's arrival
    order across them, ledgers were let go while the others came and loaded again at their next
    turn: 6 loads for the four, measured). Loads are counted where the importer's document cache reads
    a document from its snapshot and changes."""
    monkeypatch.setattr(documents, "MAX_CACHED_CHANGES", 400)
    monkeypatch.setattr(documents, "UNUSED_AFTER", 100)  # fewer than a turn of the others
    monkeypatch.setattr(bundles, "PULL_ENVELOPES", 300)  # a window: one ledger
    made = [ledger_chain(SigningKey(os.urandom(32)), 300) for _ in range(4)]
    chains = [chain for _, chain in made]
    source = data_dir(tmp_path, "source", [e for at in range(0, 300, 50) for chain in chains
                                           for e in chain[at:at + 50]])
    node = open_node(source)
    try:
        trailer = export_bundle(node, tmp_path / "carry.pnyx", Selection(), None)
    finally:
        node.close()
    create_data_dir(tmp_path / "village", new_key().public, new_key(), None)
    village = open_node(tmp_path / "village")
    loads: list[str] = []
    load = village.docs.snapshots.load
    monkeypatch.setattr(village.docs.snapshots, "load", lambda doc_id: loads.append(doc_id) or load(doc_id))
    try:
        result = read_import(village, tmp_path / "carry.pnyx")
        assert result.error is None and result.report.accepted == trailer.changes
        ledgers = [chain[0].doc_id for chain in chains]
        assert sorted(doc_id for doc_id in loads if doc_id in ledgers) == sorted(ledgers), loads
        for doc, chain in made:
            assert read_ledger(village.docs.get(chain[0].doc_id)) == read_ledger(doc)
    finally:
        village.close()


def vote(on: str, title: str):  # type: ignore[no-untyped-def]
    from .confedkit import vote as confed_vote

    return confed_vote(on, 5, 1, title=title)


def test_damaged_files_are_refused_and_what_came_before_is_kept(tmp_path: Path) -> None:
    envelopes = ledger_history(1200)
    source = data_dir(tmp_path, "source", envelopes)
    target = data_dir(tmp_path, "target")
    bundle = tmp_path / "carry.pnyx"
    cli(source, "bundle", "export", "--all", "-o", str(bundle))
    data = bundle.read_bytes()
    cut = tmp_path / "cut.pnyx"
    cut.write_bytes(data[:len(data) * 2 // 3])
    result = cli(target, "bundle", "import", str(cut), check=False)
    assert result.returncode == 1
    assert "cut short" in result.stderr and "is damaged" in result.stderr
    kept = count_changes(target)
    assert 0 < kept < len(envelopes) and kept % 500 == 0  # every whole pack before the cut is stored
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0x40
    damaged = tmp_path / "damaged.pnyx"
    damaged.write_bytes(bytes(flipped))
    result = cli(target, "bundle", "import", str(damaged), check=False)
    assert result.returncode == 1 and "checksum" in result.stderr
    assert count_changes(target) == kept
    foreign = tmp_path / "notes.txt"
    foreign.write_text("shopping list\n")
    result = cli(target, "bundle", "import", str(foreign), check=False)
    assert result.returncode == 1 and "not a pnyx bundle" in result.stderr
    result = cli(target, "bundle", "export", "--for", str(foreign), "-o", str(tmp_path / "x"), check=False)
    assert result.returncode == 2 and "not a usable state file" in result.stderr
    assert not (tmp_path / "x").exists()
    assert count_changes(target) == kept
    done = cli_json(target, "bundle", "import", str(bundle))
    assert (done["new"], done["already_held"], done["complete"]) == (len(envelopes) - kept, kept, True)


def test_a_killed_import_loses_nothing_and_simply_runs_again(tmp_path: Path) -> None:
    envelopes = ledger_history(3000)
    source = data_dir(tmp_path, "source", envelopes)
    target = data_dir(tmp_path, "target")
    bundle = tmp_path / "carry.pnyx"
    cli(source, "bundle", "export", "-o", str(bundle))
    proc = subprocess.Popen([*PNYX, "--data", str(target), "bundle", "import", str(bundle)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while count_changes_live(target) < 500 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stored = count_changes(target)
    assert 500 <= stored < len(envelopes), "the import was not killed halfway"
    rerun = cli_json(target, "bundle", "import", str(bundle))
    assert rerun["new"] + rerun["already_held"] == len(envelopes)
    assert rerun["new"] == len(envelopes) - stored
    assert count_changes(target) == len(envelopes)
    checked = cli_json(target, "verify")
    assert (checked["verified"], checked["failed"], checked["pending"]) == (len(envelopes), 0, 0)


def count_changes_live(data: Path) -> int:
    import sqlite3

    db = sqlite3.connect(f"file:{data / 'pnyx.sqlite'}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM changes").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_since_and_confed_narrow_the_export(tmp_path: Path) -> None:
    world = World(tmp_path)
    members = [world.assembly(n) for n in ("north", "south")]
    world.assembly("outsider")
    charter = world.found("north", "River council", ["north", "south"])
    world.spread()
    world.close()
    north = tmp_path / "north"
    everything = cli_json(north, "bundle", "export", "-o", str(tmp_path / "all.pnyx"))["records"]
    confed = cli_json(north, "bundle", "export", "--confed", charter, "-o", str(tmp_path / "c.pnyx"))
    assert confed["records"] == everything - 1  # all but the outsider's founding change
    with open(tmp_path / "c.pnyx", "rb") as f:
        docs = {e.doc_id for e in BundleReader(f).records() if isinstance(e, Envelope)}
    assert docs == {f"charter/{charter}"} | {f"ledger/{m}" for m in members}
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    assert cli_json(north, "bundle", "export", "--since", tomorrow, "-o", str(tmp_path / "s.pnyx"))[
        "records"] == 0
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    assert cli_json(north, "bundle", "export", "--since", yesterday, "-o", str(tmp_path / "s.pnyx"))[
        "records"] == everything
    bad = cli(north, "bundle", "export", "--since", "last spring", "-o", str(tmp_path / "s.pnyx"),
              check=False)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


RECORDS = 100_000


@pytest.mark.slow
def test_100k_records_stream_both_ways_in_bounded_memory(tmp_path: Path) -> None:
    """Export from a store of 100,000 changes and read the bundle back, measuring the
    allocations at their peak: a few batches (one pack frame each), whatever the store holds."""
    create_data_dir(tmp_path / "d", new_key().public, new_key(), None)
    node = open_node(tmp_path / "d")
    try:
        fill(node, RECORDS)
        bundle = tmp_path / "big.pnyx"
        tracemalloc.start()
        trailer = export_bundle(node, bundle, Selection(), None)
        _, export_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        node.close()
    size = bundle.stat().st_size
    assert trailer.changes == RECORDS and trailer.records >= RECORDS // 500
    tracemalloc.start()
    with open(bundle, "rb") as f:
        reader = BundleReader(f)
        read = sum(1 for _ in reader.records())
    _, import_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert read == RECORDS
    assert export_peak < 16 << 20, f"export peaked at {export_peak} bytes for a {size}-byte bundle"
    assert import_peak < 8 << 20, f"reading peaked at {import_peak} bytes for a {size}-byte bundle"


def fill(node: Node, n: int) -> None:
    """n stored rows (as the store keeps verified changes; export does not re-verify), each
    under a SHA-256 hash as every stored change is: the store finds changes by their hash's
    first 8 bytes, so hashes that share them (0, 1, 2 ... as 32 bytes) would make each
    lookup read every row."""
    db = node.store.db
    body = join_chunk([], os.urandom(220))[0]  # canonical, as every stored chunk is
    with node.store.transaction():
        document = db.execute("INSERT INTO documents (doc) VALUES (?)",
                              (f"ledger/{key_text(bytes(32))}",)).lastrowid
        db.executemany(
            "INSERT INTO change_rows (hash, document, actor, seq, start_op, max_op, deps, signature,"
            " change) VALUES (?,?,?,?,?,?,?,?,?)",
            ((hashlib.sha256(i.to_bytes(8, "big")).digest(), document, bytes(40),
              i + 1, i + 1, i + 1, b"", bytes(64), body) for i in range(n)))


def test_reader_never_buffers_past_one_frame() -> None:
    envelopes = ledger_history(3)
    out = io.BytesIO()
    from pnyx.federation.bundle import BundleWriter, Header, HeldState

    writer = BundleWriter(out.write, Header(Selection(), HeldState(bytes(32), bytes(32), bytes(32), ())))
    for e in envelopes:
        writer.add([e])
    writer.finish()
    reads: list[int] = []
    stream = io.BytesIO(out.getvalue())

    def read(n: int) -> bytes:
        reads.append(n)
        return stream.read(n)
    assert [e for e in BundleReader(read).records()] == envelopes
    assert max(reads) <= max(len(pack([e])) for e in envelopes) + 4
