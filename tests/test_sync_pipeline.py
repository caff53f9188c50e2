"""The pipelined exchange (federation/syncpeer.exchange_async): the next pull goes out while
the batch before it is stored, batches are stored one at a time in the order they came, and
an initiator never holds more than three (one being stored, the one that arrived after it,
one on its way). Two in-memory stores, every message through the wire codec; a store that
yields while it judges, as the daemon's sliced ingest does."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pnyx.daemon.net import sync_client
from pnyx.daemon.net.sync_endpoint import SYNC_KEY, SyncContext, Turns, handle_sync
from pnyx.daemon.store import documents, snapshots
from pnyx.daemon.store.holdings import StoreHoldings
from pnyx.daemon.store.ingest import Ingestor, IngestReport
from pnyx.daemon.store.node import Node, open_node
from pnyx.federation.envelope import Envelope
from pnyx.federation.keys import SigningKey
from pnyx.federation.ledger import read_ledger
from pnyx.federation.memstore import MemoryReport, MemoryStore
from pnyx.federation.sync import Initiator
from pnyx.federation.syncmsg import (
    MAX_BODY_BYTES,
    Changes,
    Hello,
    Pull,
    Push,
    Pushed,
    Reply,
    Request,
    ScopeRoots,
    decode_reply,
    decode_request,
    encode,
)
from pnyx.federation.syncpeer import Responder, exchange_async

from bench.corpus import ledger_chain, new_key
from tests.pnyxproc import PNYX, Daemon, cli_json, held_hashes, init_all, query, wait_for
from tests.syncserver import SyncServer

KEY_I, KEY_R = os.urandom(32), os.urandom(32)


def holding(envelopes: list[Envelope]) -> MemoryStore:
    s = MemoryStore()
    assert not s.ingest(envelopes).rejected
    return s


class Peer:
    """The responder over the codec, as an awaitable transport; `cut_at`: the request (0-based)
    that fails as a lost connection would; `tamper`: batches whose first change is damaged."""

    def __init__(self, theirs: MemoryStore, cut_at: int | None = None,
                 tamper: frozenset[int] = frozenset()) -> None:
        self.responder = Responder(theirs, KEY_R, theirs.ingest, os.urandom)
        self.requests: list[Request] = []
        self.events: list[tuple[str, int]] = []
        self.cut_at = cut_at
        self.tamper = tamper
        self.batches = 0

    async def __call__(self, request: Request) -> Reply:
        if len(self.requests) == self.cut_at:
            raise ConnectionError("cut")
        self.requests.append(decode_request(encode(request)))
        reply = decode_reply(encode(self.responder.respond(self.requests[-1])))
        if isinstance(reply, Changes):
            self.events.append(("sent", self.batches))
            if self.batches in self.tamper:
                first = reply.envelopes[0]
                damaged = first.change[:-1] + bytes((first.change[-1] ^ 1,))
                reply = Changes((Envelope(first.doc_id, damaged, first.signer, first.signature,
                                          first.voucher), *reply.envelopes[1:]), reply.cursor, reply.more)
            self.batches += 1
        for _ in range(3):  # the network takes a few turns of the loop
            await asyncio.sleep(0)
        return reply

    def send(self, request: Request) -> asyncio.Future[Reply]:
        """The request under way at once (a task), as the daemon's transport has it."""
        return asyncio.ensure_future(self(request))


class SlowStore:
    """Ingest as the daemon runs it: a task that yields the loop a few times while it judges.
    Notes when each batch starts and ends being stored, and how many are held at once."""

    def __init__(self, mine: MemoryStore, peer: Peer) -> None:
        self.mine = mine
        self.peer = peer
        self.stored = 0
        self.held = 0
        self.most_held = 0
        self.report = MemoryReport()

    def __call__(self, envelopes: Sequence[Envelope]) -> asyncio.Task[None]:
        self.held += 1
        self.most_held = max(self.most_held, self.held + 1)  # and the reply on its way
        return asyncio.ensure_future(self._store(list(envelopes), self.stored))

    async def _store(self, envelopes: list[Envelope], number: int) -> None:
        self.stored += 1
        self.peer.events.append(("storing", number))
        for _ in range(10):
            await asyncio.sleep(0)
        report = self.mine.ingest(envelopes)
        self.report.accepted += report.accepted
        self.report.rejected.extend(report.rejected)
        self.peer.events.append(("stored", number))
        self.held -= 1


def changes(s: MemoryStore) -> set[bytes]:
    return {e.change for e in s.envelopes()}


def chains(docs: int, changes: int) -> list[Envelope]:
    return [e for _ in range(docs) for e in ledger_chain(new_key(), changes)[1]]


def pulls(peer: Peer) -> list[Request]:
    return [r for r in peer.requests if isinstance(r, Pull)]


def run(mine: MemoryStore, peer: Peer, limit: int) -> SlowStore:
    store = SlowStore(mine, peer)
    asyncio.run(exchange_async(Initiator(mine, KEY_I, None, limit), peer.send, store))
    return store


def test_the_next_pull_is_asked_while_a_batch_is_stored_and_batches_are_stored_in_order() -> None:
    theirs = holding(chains(3, 40))
    mine = MemoryStore()
    peer = Peer(theirs)
    store = run(mine, peer, limit=10)
    assert changes(mine) == changes(theirs) and store.report.accepted == 120
    batches = peer.batches
    assert batches == 12
    at = {event: i for i, event in enumerate(peer.events)}
    for n in range(batches - 1):
        assert at[("sent", n + 1)] < at[("stored", n)], "the next batch was asked for only after"
        assert at[("stored", n)] < at[("storing", n + 1)], "two batches were stored at once"
    for n in range(batches - 2):  # and the one after it, once the next one arrived
        assert at[("sent", n + 2)] < at[("stored", n)], "a pull left only once the batch was stored"
    assert store.most_held == 2
    held = [sum(1 if what == "sent" else -1 for what, _ in peer.events[:i + 1] if what != "storing")
            for i in range(len(peer.events))]
    assert max(held) == 3  # the one being stored, the one that arrived next, the one on its way


def test_what_a_pipelined_exchange_asks_does_not_depend_on_what_ingest_judged() -> None:
    """A damaged change is rejected (and what builds on it waits) while the next batch is
    already asked for: nothing is asked twice, the exchange ends, and the next exchange
    brings what was refused."""
    theirs = holding(chains(2, 30))
    clean, damaged = Peer(theirs), Peer(theirs, tamper=frozenset({1}))
    run(MemoryStore(), clean, limit=8)
    mine = MemoryStore()
    store = run(mine, damaged, limit=8)
    assert pulls(damaged) == pulls(clean) and len(pulls(clean)) == 8
    assert store.report.rejected and len(mine) < len(theirs)
    again = Peer(theirs)
    run(mine, again, limit=8)
    assert changes(mine) == changes(theirs)


def test_an_exchange_cut_while_a_batch_is_stored_keeps_that_batch_and_resumes() -> None:
    theirs = holding(chains(1, 50))
    mine = MemoryStore()
    peer = Peer(theirs, cut_at=4)  # hello, then pulls of 10: the fourth is cut
    with pytest.raises(ConnectionError):
        run(mine, peer, limit=10)
    assert peer.events[-1] == ("stored", 2)  # the batch being stored when the link failed
    assert len(mine) == 30
    resumed = Peer(theirs)
    store = run(mine, resumed, limit=10)
    assert store.report.accepted == 20 and changes(mine) == changes(theirs)


# --- real daemons ---------------------------------------------------------------------------


def stored(data: Path) -> int:
    return int(query(data, "SELECT count(*) FROM changes")[0][0])


def test_a_responder_killed_mid_catch_up_leaves_what_was_reported_and_the_rest_comes_once(
        tmp_path: Path) -> None:
    """`pnyx sync` pulling batches while it stores the one before, from a daemon killed part
    way: one line of error, the summary counts exactly what is stored, and the next sync
    brings the rest with nothing received twice."""
    source, target = tmp_path / "source", tmp_path / "target"
    init_all([source, target])
    node = open_node(source)
    try:
        assert node.ingestor.ingest(ledger_chain(new_key(), 6000)[1]).accepted == 6000
    finally:
        node.close()
    total = stored(source)
    own = stored(target)
    daemon = Daemon(source)
    try:
        sync = subprocess.Popen([*PNYX, "--data", str(target), "sync", daemon.url, "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for("the catch-up to store its first batches", lambda: stored(target) > own + 600, 120)
    finally:
        daemon.kill()
    out, err = sync.communicate(timeout=120)
    summary = json.loads(out)
    assert sync.returncode == 1 and summary["error"], (out, err)
    assert err.count("\n") == 1 and err.startswith("pnyx: error: sync stopped:"), err
    at_kill = stored(target)
    assert at_kill < own + total, "the catch-up ended before the kill; nothing was tested"
    assert summary["received"] == at_kill - own and summary["rejected"] == 0
    daemon = Daemon(source)
    try:
        rest = cli_json(target, "sync", daemon.url)
    finally:
        daemon.stop()
    assert rest["error"] is None and rest["duplicate"] == 0, rest
    assert rest["received"] == total - (at_kill - own)
    assert held_hashes(target) == held_hashes(source)  # and the target's genesis was pushed


def synced_once(node: Node, url: str) -> sync_client.Outcome:
    """One exchange of the daemon's sync client, as gossip runs it, with the peer at `url`."""
    async def exchange() -> sync_client.Outcome:
        async with sync_client.new_session() as session:
            return await sync_client.sync_with(session, node, StoreHoldings(node.store), url)
    return asyncio.run(exchange())


def test_a_catch_up_past_the_cache_bound_snapshots_the_ledgers_it_lets_go_and_keeps_them_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulling more than the document cache holds, ledger after ledger: the ledgers let go
    meanwhile are snapshotted as they go, and every one reads, from its snapshot and after it,
    as its writer's own document."""
    monkeypatch.setattr(documents, "MAX_CACHED_CHANGES", 400)
    monkeypatch.setattr(documents, "UNUSED_AFTER", 50)
    monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY", 100)
    source, target = tmp_path / "source", tmp_path / "target"
    init_all([source, target])
    chains = [ledger_chain(new_key(), 300) for _ in range(4)]
    node = open_node(source)
    try:
        assert node.ingestor.ingest([e for _, chain in chains for e in chain]).accepted == 1_200
    finally:
        node.close()
    daemon = Daemon(source)
    try:
        node = open_node(target)
        try:
            assert synced_once(node, daemon.url).received.accepted == 1_201  # and the genesis
            let_go = [chain[0].doc_id for _, chain in chains if chain[0].doc_id not in node.docs._docs]
            assert len(let_go) >= 2
        finally:
            node.close()
    finally:
        daemon.stop()
    node = open_node(target)
    try:
        assert all(node.store.snapshot_upto(doc_id) > 0 for doc_id in let_go)
        for doc, chain in chains:
            assert read_ledger(node.docs.get(chain[0].doc_id)) == read_ledger(doc)
    finally:
        node.close()


def test_ledgers_that_arrived_interleaved_are_pushed_a_window_at_a_time_and_loaded_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The initiator pushes a window of documents at a time, as it pulls: ledgers that arrived
    at it interleaved reach the responder one after the other, so a responder whose cache holds
    fewer changes than they do loads each once (pushed in one arrival order across them, each
    was let go while the others came and loaded again at its next turn). Loads are counted
    where the responder's document cache reads a document from its snapshot and changes."""
    monkeypatch.setattr(documents, "MAX_CACHED_CHANGES", 400)
    monkeypatch.setattr(documents, "UNUSED_AFTER", 100)  # fewer than a turn of the others
    source, target = tmp_path / "source", tmp_path / "target"
    init_all([source, target])
    chains = [chain for _, chain in (ledger_chain(new_key(), 300) for _ in range(4))]
    node = open_node(source)
    try:  # arrived interleaved, 50 changes of each ledger at a time
        assert node.ingestor.ingest([e for at in range(0, 300, 50) for chain in chains
                                     for e in chain[at:at + 50]]).accepted == 1_200
    finally:
        node.close()
    responder = open_node(target)
    loads: list[str] = []
    load = responder.docs.snapshots.load
    monkeypatch.setattr(responder.docs.snapshots, "load", lambda doc_id: loads.append(doc_id) or load(doc_id))
    app = web.Application(client_max_size=MAX_BODY_BYTES + 1024)
    app[SYNC_KEY] = SyncContext.open(responder)
    app.router.add_post(sync_client.SYNC_PATH, handle_sync)

    async def pushed() -> sync_client.Outcome:
        async with TestServer(app) as server, sync_client.new_session() as session:
            return await sync_client.sync_with(session, node, StoreHoldings(node.store),
                                               str(server.make_url("")).rstrip("/"), limit=300)
    node = open_node(source)
    try:
        assert asyncio.run(pushed()).progress.remote_accepted == 1_201  # and the source's genesis
    finally:
        node.close()
        responder.close()
    ledgers = [chain[0].doc_id for chain in chains]
    loaded = [doc_id for doc_id in loads if doc_id in ledgers]
    # Each once; one more at most: a push sent ahead of the reply to the last (sync.md,
    # "Pipelining") may reach the responder's turn first when both arrive in one turn of its
    # loop, and only the first window is split in two pushes (the first is 250 changes). Pushed
    # in arrival order across them, the four were loaded 9 times (measured).
    assert set(loaded) == set(ledgers) and len(loaded) <= len(ledgers) + 1, loaded


class NotingPeer(SyncServer):
    """The responder over real HTTP, in a thread, so that it reads a request while the
    pulling loop is busy storing; notes when each pull arrives."""

    def __init__(self, theirs: MemoryStore, events: list[tuple[str, float]]) -> None:
        self.responder = Responder(theirs, KEY_R, theirs.ingest, os.urandom)
        self.events = events
        super().__init__()

    def answer(self, message: Request) -> Reply:
        if isinstance(message, Pull):
            self.events.append(("pull arrived", time.monotonic()))
        return self.responder.respond(message)


def test_the_daemon_sends_the_next_pull_before_it_stores_a_batch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Storing holds the event loop, and aiohttp needs a few turns of it to send a request:
    the daemon stores a batch only once the next pull is on the wire, so the responder has
    it (and packs the next batch) while the batch is stored, not after (1,800 changes: pulls
    of 250, 500, 1,000 and the 50 left)."""
    init_all([tmp_path / "t"])
    events: list[tuple[str, float]] = []
    peer = NotingPeer(holding(chains(2, 900)), events)
    real = sync_client.ingest_in_slices

    async def noting(ingestor: Ingestor, envelopes: Sequence[Envelope], source: str,
                     clear: asyncio.Event | None = None) -> IngestReport:
        events.append(("storing", time.monotonic()))
        report = await real(ingestor, envelopes, source, clear)
        events.append(("stored", time.monotonic()))
        return report

    monkeypatch.setattr(sync_client, "ingest_in_slices", noting)
    node = open_node(tmp_path / "t")
    try:
        outcome = synced_once(node, peer.url)
    finally:
        node.close()
        peer.stop()
    assert outcome.received.accepted == 1_800 and not outcome.received.rejected
    arrived = [t for what, t in events if what == "pull arrived"]
    stored = [t for what, t in events if what == "stored"]
    assert len(arrived) >= 4 and len(stored) == len(arrived)
    for n, done in enumerate(stored[:-1]):
        assert arrived[n + 1] < done, f"pull {n + 1} arrived only once batch {n} was stored"


# --- pushes, one ahead ----------------------------------------------------------------------


class PushPeer(Peer):
    """The responder over the codec, as a transport whose requests are under way at once (a
    task, as the daemon's), judging one push at a time as the daemon does: notes when each
    push arrives and when it is answered."""

    def __init__(self, theirs: MemoryStore) -> None:
        super().__init__(theirs)
        self.arrived = 0
        self.turn = asyncio.Lock()

    def send(self, request: Request) -> asyncio.Future[Reply]:
        return asyncio.ensure_future(self._push(request))

    async def _push(self, request: Request) -> Reply:
        if not isinstance(request, Push):
            return await self(request)
        number, self.arrived = self.arrived, self.arrived + 1
        self.events.append(("push arrived", number))
        async with self.turn:
            reply = await self(request)
            for _ in range(5):  # judging takes a while
                await asyncio.sleep(0)
        self.events.append(("push answered", number))
        return reply


def test_the_next_push_leaves_before_the_reply_to_the_last_and_replies_are_counted_in_order() -> None:
    theirs = MemoryStore()
    mine = holding(chains(3, 40))
    peer = PushPeer(theirs)
    initiator = Initiator(mine, KEY_I, None, 10)
    progress = asyncio.run(exchange_async(initiator, peer.send, SlowStore(MemoryStore(), peer)))
    assert changes(theirs) == changes(mine)
    assert progress.pushed == progress.remote_accepted == 120
    assert initiator.done
    pushes = [n for what, n in peer.events if what == "push arrived"]
    assert pushes == list(range(12))
    at = {event: i for i, event in enumerate(peer.events)}
    for n in range(11):
        assert at[("push arrived", n + 1)] < at[("push answered", n)], "push sent only after a reply"
        assert at[("push answered", n)] < at[("push answered", n + 1)]
    assert not any(at.get(("push arrived", n + 2), 1 << 30) < at[("push answered", n)] for n in range(10)), \
        "more than one push ahead"


def test_a_daemon_judges_two_pushes_of_one_sender_in_the_order_they_came(tmp_path: Path) -> None:
    """The second push, small, is read while the first, large, is judged (a slice at a time,
    yielding the loop: the sender is not known here); judged in turn, each change finds its
    deps stored, and nothing waits."""
    init_all([tmp_path / "r"])
    chain = ledger_chain(new_key(), 1_010)[1]
    first, second = tuple(chain[:1_000]), tuple(chain[1_000:])
    device = SigningKey(os.urandom(32))
    daemon = Daemon(tmp_path / "r")
    try:
        async def both() -> tuple[Reply, Reply]:
            async with sync_client.new_session() as session:
                hello = await sync_client.post(session, daemon.url, Hello(((b"", b"\0" * 32),), device.public,
                                                                          None))
                assert isinstance(hello, ScopeRoots)
                sender = (device, hello.key)
                on_wire = asyncio.Event()
                one = asyncio.ensure_future(sync_client.post(session, daemon.url, Push(first),
                                                             sender=sender, on_wire=on_wire))
                await on_wire.wait()
                two = await sync_client.post(session, daemon.url, Push(second), sender=sender)
                return await one, two
        replies = asyncio.run(both())
    finally:
        daemon.stop()
    assert [(r.accepted, r.pending, r.rejected) for r in replies if isinstance(r, Pushed)] == [
        (1_000, 0, 0), (10, 0, 0)], replies


class SlowPushPeer(SyncServer):
    """The responder over real HTTP, in a thread, answering each push only once the next has
    arrived, or at once once all `expected` envelopes came; else after WAIT seconds (pushes
    that are not sent ahead: long, so that a loaded machine packing the next is not taken
    for one)."""

    WAIT = 30.0

    def __init__(self, theirs: MemoryStore, expected: int) -> None:
        self.responder = Responder(theirs, KEY_R, theirs.ingest, os.urandom)
        self.events: list[str] = []
        self.pushes = 0
        self.pushed, self.expected = 0, expected
        super().__init__()

    async def _handle(self, request: web.Request) -> web.Response:
        message = decode_request(await request.read())
        if not isinstance(message, Push):
            return await super()._answered(message)
        number, self.pushes = self.pushes, self.pushes + 1
        self.pushed += len(message.envelopes)
        self.events.append(f"push {number} arrived")
        deadline = time.monotonic() + self.WAIT
        while self.pushes == number + 1 and self.pushed < self.expected and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.events.append(f"push {number} answered")
        return await super()._answered(message)

    def answer(self, message: Request) -> Reply:
        return self.responder.respond(message)


def test_the_daemon_sends_the_next_push_before_the_reply_to_the_last(tmp_path: Path) -> None:
    init_all([tmp_path / "i"])
    node = open_node(tmp_path / "i")
    theirs = MemoryStore()
    peer = SlowPushPeer(theirs, expected=1_201)  # and the genesis of `i`
    try:
        assert node.ingestor.ingest(ledger_chain(new_key(), 1_200)[1]).accepted == 1_200
        outcome = synced_once(node, peer.url)
    finally:
        node.close()
        peer.stop()
    assert outcome.progress.remote_accepted == 1_201 == len(theirs)  # and the genesis of `i`
    assert peer.pushes == 3
    at = {event: i for i, event in enumerate(peer.events)}
    for n in range(peer.pushes - 1):
        assert at[f"push {n + 1} arrived"] < at[f"push {n} answered"], peer.events


def test_turns_are_taken_in_the_order_asked_and_forgotten_once_nobody_waits() -> None:
    turns = Turns()
    order: list[str] = []

    async def take(sender: str | None, name: str) -> None:
        async with turns.of(sender):
            order.append(f"{name} in")
            for _ in range(3):
                await asyncio.sleep(0)
            order.append(f"{name} out")

    async def all_of_them() -> int:
        tasks = [asyncio.ensure_future(take(s, n)) for s, n in
                 (("a", "a1"), ("a", "a2"), ("b", "b1"), (None, "free"), ("a", "a3"))]
        await asyncio.sleep(0)
        held = len(turns)
        await asyncio.gather(*tasks)
        return held

    assert asyncio.run(all_of_them()) == 2 and len(turns) == 0
    for first, then in (("a1", "a2"), ("a2", "a3")):
        assert order.index(f"{first} out") < order.index(f"{then} in"), order
    assert order.index("b1 in") < order.index("a1 out") and order.index("free in") < order.index("a1 out")
