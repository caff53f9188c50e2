"""Gossip between real `pnyx run` processes on loopback: relaying, convergence, crash
recovery in a catch-up, and a rogue peer."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from automerge.core import ROOT, Document, ScalarType
from pnyx.daemon.store.node import open_node
from pnyx.federation.chunk import parse_change
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import Envelope, run_actor, sign_change
from pnyx.federation.keys import parse_key
from pnyx.federation.syncmsg import (
    Changes,
    Descend,
    Hello,
    Nodes,
    Peers,
    Pull,
    Push,
    Pushed,
    Reply,
    ScopeRoots,
    Told,
)
from pnyx.federation.synctree import HEX, Internal, Leaf, path_of

from bench.corpus import entry, ledger_chain, new_key
from tests.apikit import call
from tests.pnyxproc import (
    PNYX,
    Daemon,
    add_peers,
    cli,
    cli_json,
    free_port,
    held_hashes,
    init_all,
    query,
    wait_for,
)
from tests.syncserver import SyncServer

pytestmark = pytest.mark.slow
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1")


def count(data: Path) -> int:
    return int(query(data, "SELECT count(*) FROM changes")[0][0])


def start_all(datas: list[Path], neighbours: dict[int, list[int]], *extra: str) -> list[Daemon]:
    ports = [free_port() for _ in datas]
    for i, data in enumerate(datas):
        add_peers(data, *(f"http://127.0.0.1:{ports[j]}" for j in neighbours.get(i, [])))
    return [Daemon(data, *GOSSIP, *extra, port=port) for data, port in zip(datas, ports, strict=True)]


def decisions(data: Path, assembly: str) -> set[str]:
    """Ids of an assembly's decisions held at `data`; empty while its ledger has not arrived."""
    result = cli(data, "show", "decisions", "--assembly", assembly, "--json", check=False)
    if "no assembly named" in result.stderr:
        return set()
    assert result.returncode == 0, result.stderr
    return {d["id"] for d in json.loads(result.stdout)}


@pytest.fixture(scope="module")
def line(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Daemon]]:
    """Five daemons A-B-C-D-E, each knowing only its neighbours."""
    root = tmp_path_factory.mktemp("line")
    datas = [root / name for name in "ABCDE"]
    init_all(datas)
    daemons = start_all(datas, {i: [j for j in (i - 1, i + 1) if 0 <= j < 5] for i in range(5)},
                        "--no-learn")
    yield daemons
    for d in daemons:
        d.stop()


def test_a_decision_at_one_end_is_held_and_verified_at_the_other(line: list[Daemon]) -> None:
    a, e = line[0].data, line[-1].data
    decision = cli(a, "decide", "--title", "Community kitchen", "--date", "2026-11-20", "--for", "80",
                   "--against", "12", "--abstain", "5", "--dissent", "Prefer Sundays").stdout.strip()
    mandate = cli(a, "mandate", "issue", "--delegate", "Ana", "--council", "Water council", "--from",
                  "2026-12-01", "--until", "2027-03-01", "--date", "2026-11-20", "--for", "70",
                  "--against", "3", "--abstain", "2").stdout.strip()
    at_a = held_hashes(a)  # the decision and the mandate among them
    wait_for("the records to reach E", lambda: at_a <= held_hashes(e), 60)
    assert decision in decisions(e, "Assembly A")
    shown = cli(e, "show", "decisions", "--assembly", "Assembly A").stdout
    assert "Community kitchen" in shown and "80 for" in shown
    mandates = cli_json(e, "show", "mandates", "--assembly", "Assembly A")
    assert (mandate, "Ana") in [(m["id"], m["delegate"]) for m in mandates]
    report = cli_json(e, "verify")
    assert report["verified"] == report["changes"] >= len(at_a) and report["failed"] == 0
    peers = cli_json(line[2].data, "peers")
    assert sorted(p["url"] for p in peers) == sorted([line[1].url, line[3].url])
    assert all(p["device"] and p["last_success"] for p in peers)


def test_concurrent_records_converge_to_identical_ledgers(line: list[Daemon]) -> None:
    procs = [subprocess.Popen([*PNYX, "--data", str(d.data), "decide", "--title", f"motion {i}",
                               "--date", "2026-11-21", "--for", "3", "--against", "1", "--abstain", "0"],
                              stdout=subprocess.PIPE, text=True) for i, d in enumerate(line)]
    motions = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    recorded = set().union(*(held_hashes(d.data) for d in line))  # each motion is in its own store

    def converged() -> bool:
        held = [held_hashes(d.data) for d in line]
        return recorded <= held[0] and all(h == held[0] for h in held)

    wait_for("five identical stores holding the five motions", converged, 90)
    digests = {d.status()["sync_digest"] for d in line}
    assert len(digests) == 1
    assemblies = [d.status()["assembly"] for d in line]
    for d in line:  # through each daemon's API: a CLI process per question would take a minute
        for assembly, motion in zip(assemblies, motions, strict=True):
            status, listed = call(d, "GET", f"/decisions?assembly={assembly}")
            assert status == 200 and motion in {decision["id"] for decision in listed}, listed


def test_sigkill_in_a_large_catch_up_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    init_all([source, target])
    node = open_node(source)
    try:
        _, chain = ledger_chain(new_key(), 3000)
        assert node.ingestor.ingest(chain).accepted == 3000
    finally:
        node.close()
    total = count(source) + 1  # the target's own genesis
    src = Daemon(source, *GOSSIP)
    add_peers(target, src.url)
    port = free_port()
    tgt = Daemon(target, *GOSSIP, "--batch", "50", port=port)
    wait_for("the catch-up to start", lambda: count(target) > 60, 180)
    tgt.kill()
    at_kill = count(target)
    assert at_kill < total, "the catch-up ended before the kill; nothing was tested"
    tgt = Daemon(target, *GOSSIP, port=port)
    try:
        wait_for("the catch-up to complete", lambda: count(target) == total, 300)
        # the target pushes its own genesis after its pulls: wait for that too
        wait_for("the stores to agree", lambda: held_hashes(target) == held_hashes(source), 60)
        assert tgt.status()["sync_digest"] == src.status()["sync_digest"]
    finally:
        tgt.stop()
        src.stop()
    report = cli_json(target, "verify")
    assert report["verified"] == report["changes"] == total


# --- a rogue peer --------------------------------------------------------------------------


def rogue_envelopes(victim: bytes) -> list[Envelope]:
    """The rogue's own genesis, two equivocating seq-2 changes, a forged and an unauthorized one."""
    rogue = new_key()
    doc, (genesis,) = ledger_chain(rogue, 1)
    twin = Document.load(doc.save())
    twin.set_actor(parse_change(genesis.change).actor)
    pair = []
    for d, value in ((doc, "left"), (twin, "right")):
        heads = d.get_heads()
        with d.transaction() as tx:
            entry(tx, value)
        pair.append(sign_change(rogue, ledger_id(rogue.public), d.get_changes(heads)[0].raw_bytes))
    assert parse_change(pair[0].change).seq == parse_change(pair[1].change).seq == 2
    _, (honest,) = ledger_chain(new_key(), 1)
    forged = Envelope(honest.doc_id, honest.change, honest.signer, bytes(64))
    intruder = Document()
    intruder.set_actor(run_actor(rogue.public, os.urandom(8)))
    with intruder.transaction() as tx:
        tx.put(ROOT, "decisions", ScalarType.Str, "we decided for you")
    unauthorized = sign_change(rogue, ledger_id(victim), intruder.get_changes([])[0].raw_bytes)
    return [genesis, *pair, forged, unauthorized]


class RogueServer(SyncServer):
    """Answers every exchange by serving the same bad batch; accepts and drops pushes."""

    def __init__(self, envelopes: list[Envelope]) -> None:
        self.envelopes = envelopes
        super().__init__()

    def _node(self, prefix: str) -> Told:
        """A tree that differs everywhere: every document claims an actor at seq 99."""
        docs = sorted({e.doc_id for e in self.envelopes if path_of(e.doc_id).startswith(prefix)})
        if not docs:
            return Told(prefix, None)
        if len(docs) == 1 and prefix:
            return Told(prefix, Leaf(docs[0], os.urandom(32)), ((b"\x66" * 40, 99),))
        return Told(prefix, Internal({c: os.urandom(8) for c in HEX}))

    def answer(self, message: object) -> Reply:
        if isinstance(message, Hello):
            return ScopeRoots(b"\x66" * 32, bytes(8), ((b"", self._node("")),))
        if isinstance(message, Descend):
            return Nodes(tuple(self._node(p) for p in message.prefixes))
        if isinstance(message, Pull):
            return Changes(tuple(self.envelopes), 1, False)
        if isinstance(message, Push):
            return Pushed(0, 0, 0, 0, ())
        return Peers(())


def test_a_rogue_peer_changes_nothing_and_honest_records_flow_around_it(tmp_path: Path) -> None:
    datas = [tmp_path / n for n in ("A", "B", "C")]
    init_all(datas)
    (victim,) = {doc for (doc,) in query(datas[0], "SELECT doc FROM changes")}
    bad = rogue_envelopes(parse_key(victim.removeprefix("ledger/")))
    genesis, left, right, forged, unauthorized = (parse_change(e.change).hash for e in bad)
    rogue = RogueServer(bad)
    for d in (datas[0], datas[2]):
        add_peers(d, rogue.url)
    daemons = start_all(datas, {0: [1], 2: [1]})
    try:
        decision = cli(datas[0], "decide", "--title", "Bread oven", "--date", "2026-11-21",
                       "--for", "9", "--against", "0", "--abstain", "1").stdout.strip()
        at_a = held_hashes(datas[0])
        wait_for("A's decision at C", lambda: at_a <= held_hashes(datas[2]), 60)
        assert decision in decisions(datas[2], "Assembly A")

        def settled() -> bool:
            held = [held_hashes(d) for d in datas]
            return all(genesis in h and left in h for h in held) and held[0] == held[1] == held[2]

        wait_for("the rogue's valid changes to spread and the stores to agree", settled, 60)
        for d in (datas[0], datas[2]):
            rejected, device = query(d, "SELECT rejected, device FROM peers WHERE url = ?", rogue.url)[0]
            assert rejected >= 3 and device == b"\x66" * 32
        for d, daemon in zip(datas, daemons, strict=True):
            assert not held_hashes(d) & {right, forged, unauthorized}
            # every daemon that was served the twin keeps it as evidence (B, only once it
            # learned the rogue's address from A or C and synced with it)
            if query(d, "SELECT 1 FROM peers WHERE url = ? AND rejected > 0", rogue.url):
                assert daemon.status()["evidence"] >= 1
        listed = [line for line in cli(datas[0], "peers").stdout.splitlines() if rogue.url in line]
        assert "rejected" in listed[0]
        assert cli_json(datas[0], "verify")["failed"] == 0
        wait_for("A to learn C from B",
                 lambda: (daemons[2].url,) in query(datas[0], "SELECT url FROM peers"), 30)
    finally:
        for daemon in daemons:
            daemon.stop()
        rogue.stop()
