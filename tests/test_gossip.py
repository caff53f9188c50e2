"""Gossip between real `pnyx run` processes on loopback: relaying, convergence, crash
recovery in a catch-up, and a rogue peer."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from automerge.core import ROOT, Document, ScalarType
from pnyx.daemon.node import open_node
from pnyx.federation.chunk import parse_change
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import Envelope, run_actor, sign_change
from pnyx.federation.keys import key_text
from pnyx.federation.syncdigest import BUCKETS
from pnyx.federation.syncmsg import (
    Buckets,
    Changes,
    DocsRequest,
    Hello,
    Peers,
    Pull,
    Push,
    Pushed,
    Reply,
    Vectors,
    decode_request,
    encode,
)

from bench.corpus import ledger_chain, new_key
from tests.pnyxproc import PNYX, Daemon, cli, cli_json, free_port, held_hashes, wait_for

pytestmark = pytest.mark.slow
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1")


def count(data: Path) -> int:
    db = sqlite3.connect(data / "pnyx.sqlite")
    try:
        return int(db.execute("SELECT count(*) FROM changes").fetchone()[0])
    finally:
        db.close()


def start_all(datas: list[Path], neighbours: dict[int, list[int]], *extra: str) -> list[Daemon]:
    ports = [free_port() for _ in datas]
    for i, data in enumerate(datas):
        for j in neighbours.get(i, []):
            cli(data, "peers", "add", f"http://127.0.0.1:{ports[j]}")
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
    procs = [subprocess.Popen([*PNYX, "--data", str(d), "init", "--assembly", f"Assembly {d.name}"],
                              stdout=subprocess.DEVNULL) for d in datas]
    assert all(p.wait(timeout=60) == 0 for p in procs)
    daemons = start_all(datas, {i: [j for j in (i - 1, i + 1) if 0 <= j < 5] for i in range(5)},
                        "--no-learn")
    yield daemons
    for d in daemons:
        d.stop()


def test_a_decision_at_one_end_is_held_and_verified_at_the_other(line: list[Daemon]) -> None:
    a, e = line[0].data, line[-1].data
    decision = cli(a, "decide", "--title", "Community kitchen", "--date", "2026-11-20", "--for", "80",
                   "--against", "12", "--abstain", "5", "--dissent", "Prefer Sundays").stdout.strip()
    wait_for("the decision to reach E", lambda: count(e) >= 6, 60)  # 5 geneses and the decision
    assert decisions(e, "Assembly A") == {decision}
    shown = cli(e, "show", "decisions", "--assembly", "Assembly A").stdout
    assert "Community kitchen" in shown and "80 for" in shown
    report = cli_json(e, "verify")
    assert report["verified"] == report["changes"] == 6 and report["failed"] == 0
    peers = cli_json(line[2].data, "peers")
    assert sorted(p["url"] for p in peers) == sorted([line[1].url, line[3].url])
    assert all(p["device"] and p["last_success"] for p in peers)


def test_concurrent_records_converge_to_identical_ledgers(line: list[Daemon]) -> None:
    procs = [subprocess.Popen([*PNYX, "--data", str(d.data), "decide", "--title", f"motion {i}",
                               "--date", "2026-11-21", "--for", "3", "--against", "1", "--abstain", "0"],
                              stdout=subprocess.DEVNULL) for d in line for i in range(2)]
    assert all(p.wait(timeout=60) == 0 for p in procs)

    def converged() -> bool:
        held = [held_hashes(d.data) for d in line]
        return len(held[0]) >= 16 and all(h == held[0] for h in held)

    wait_for("five identical stores", converged, 90)
    digests = {d.status()["sync_digest"] for d in line}
    assert len(digests) == 1
    for d in line:
        assert len(decisions(d.data, "Assembly C")) == 2


def test_sigkill_in_a_large_catch_up_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    source, target = tmp_path / "source", tmp_path / "target"
    cli(source, "init", "--assembly", "Archive")
    cli(target, "init", "--assembly", "Newcomer")
    node = open_node(source)
    try:
        _, chain = ledger_chain(new_key(), 3000)
        assert node.ingestor.ingest(chain).accepted == 3000
    finally:
        node.close()
    total = count(source) + 1  # the target's own genesis
    src = Daemon(source, *GOSSIP)
    cli(target, "peers", "add", src.url)
    port = free_port()
    tgt = Daemon(target, *GOSSIP, "--batch", "50", port=port)
    wait_for("the catch-up to start", lambda: count(target) > 60, 60)
    tgt.kill()
    at_kill = count(target)
    assert at_kill < total, "the catch-up ended before the kill; nothing was tested"
    tgt = Daemon(target, *GOSSIP, port=port)
    try:
        wait_for("the catch-up to complete", lambda: count(target) == total, 90)
        assert held_hashes(target) == held_hashes(source)
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
            tx.put(ROOT, "claim", ScalarType.Str, value)
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


class RogueServer:
    """Answers every exchange by serving the same bad batch; accepts and drops pushes."""

    def __init__(self, envelopes: list[Envelope]) -> None:
        self.envelopes = envelopes
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _answer(self, message: object) -> Reply:
        docs = sorted({e.doc_id for e in self.envelopes})
        if isinstance(message, Hello):
            return Buckets(b"\x66" * 32, os.urandom(32), tuple(os.urandom(32) for _ in range(BUCKETS)))
        if isinstance(message, DocsRequest):
            return Vectors(tuple((doc, ((b"\x66" * 40, 99),)) for doc in docs))
        if isinstance(message, Pull):
            return Changes(tuple(self.envelopes), 1, False)
        if isinstance(message, Push):
            return Pushed(0, 0, 0, 0, ())
        return Peers(())

    async def _handle(self, request: web.Request) -> web.Response:
        reply = self._answer(decode_request(await request.read()))
        return web.Response(body=encode(reply), content_type="application/msgpack")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/pnyx/v1/sync", self._handle)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_a_rogue_peer_changes_nothing_and_honest_records_flow_around_it(tmp_path: Path) -> None:
    datas = [tmp_path / n for n in ("A", "B", "C")]
    for d in datas:
        cli(d, "init", "--assembly", f"Assembly {d.name}")
    victim = cli_json(datas[0], "status")["assembly"]
    from pnyx.federation.keys import parse_key

    bad = rogue_envelopes(parse_key(victim))
    genesis, left, right, forged, unauthorized = (parse_change(e.change).hash for e in bad)
    rogue = RogueServer(bad)
    for d in (datas[0], datas[2]):
        cli(d, "peers", "add", rogue.url)
    daemons = start_all(datas, {0: [1], 2: [1]})
    try:
        decision = cli(datas[0], "decide", "--title", "Bread oven", "--date", "2026-11-21",
                       "--for", "9", "--against", "0", "--abstain", "1").stdout.strip()
        wait_for("A's decision at C", lambda: decision in decisions(datas[2], "Assembly A"), 60)

        def settled() -> bool:
            held = [held_hashes(d) for d in datas]
            return all(genesis in h and left in h for h in held) and held[0] == held[1] == held[2]

        wait_for("the rogue's valid changes to spread and the stores to agree", settled, 60)
        for d, daemon in zip(datas, daemons, strict=True):
            held = held_hashes(d)
            assert not held & {right, forged, unauthorized}
            assert daemon.status()["evidence"] >= (1 if d != datas[1] else 0)
        for d in (datas[0], datas[2]):
            (peer,) = [p for p in cli_json(d, "peers") if p["url"] == rogue.url]
            assert peer["rejected"] >= 3
            assert key_text(b"\x66" * 32) == peer["device"]
        assert cli_json(datas[0], "verify")["failed"] == 0
        wait_for("A to learn C from B",
                 lambda: daemons[2].url in {p["url"] for p in cli_json(datas[0], "peers")}, 30)
        assert decisions(datas[0], "Assembly A") == {decision}
    finally:
        for daemon in daemons:
            daemon.stop()
        rogue.stop()
