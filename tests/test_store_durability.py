"""Batches committed unsynced (Store.unsynced) and synced once (Store.sync): a killed process
loses none of them, the WAL is synced exactly when something committed unsynced is not yet
synced, an ingest of several batches once at its end, a push before it is answered and a
pull once at its end; how many transactions a push takes. Real SQLite files and daemons;
only os.fsync is wrapped, to count the syncs of the code around it. The store mark is
written after a sync."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pnyx.daemon.net.sync_client import SYNC_PATH, Outcome, new_session, post, sync_with
from pnyx.daemon.net.sync_endpoint import SYNC_KEY, Sender, SyncContext, handle_sync, push
from pnyx.daemon.store import ingest, mark
from pnyx.daemon.store import node as node_module
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.holdings import StoreHoldings
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.mark import read_mark
from pnyx.daemon.store.node import Node, open_node
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.chunk import parse_change
from pnyx.federation.syncmsg import MAX_BODY_BYTES, Hello, Push, Pushed, Reply, ScopeRoots

from bench.corpus import ledger_chain, new_key
from tests.pnyxproc import Daemon, held_hashes, init_all


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The files os.fsync is called on, by path."""
    synced: list[str] = []
    real = os.fsync

    def counting(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    yield synced


def write(store: Store, seqno: int) -> None:
    with store.transaction():
        store.db.execute("INSERT INTO arrivals (seqno, at) VALUES (?, 0)", (seqno,))


def synchronous(store: Store) -> int:
    return int(store.db.execute("PRAGMA synchronous").fetchone()[0])


def test_sync_fsyncs_the_wal_once_after_unsynced_commits_and_only_then(tmp_path: Path,
                                                                        fsyncs: list[str]) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.sync()
    assert fsyncs == []  # nothing committed
    with store.unsynced():
        assert synchronous(store) == 1
        write(store, 1)
        write(store, 2)
    assert synchronous(store) == 2
    store.sync()
    assert fsyncs == [str(tmp_path / "s.sqlite-wal")]
    store.sync()
    assert len(fsyncs) == 1  # already synced
    with store.unsynced():
        write(store, 3)
    write(store, 4)  # a synced commit that writes syncs the whole WAL, c included
    store.sync()
    assert len(fsyncs) == 1
    with store.unsynced():
        write(store, 5)
    with store.transaction():  # synced, but it writes nothing: no frame, so no sync either
        store.db.execute("SELECT count(*) FROM arrivals").fetchone()
    store.sync()
    assert len(fsyncs) == 2
    store.close()


def test_the_safety_level_comes_back_when_the_block_raises(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    with pytest.raises(RuntimeError), store.unsynced():
        write(store, 1)
        raise RuntimeError("a failed ingest")
    assert synchronous(store) == 2
    store.close()


KILLED = """
import os, signal, sys
from pnyx.daemon.store.sqlite import Store
store = Store(sys.argv[1])
with store.unsynced():
    for i in range(50):
        with store.transaction():
            store.db.execute("INSERT INTO arrivals (seqno, at) VALUES (?, 0)", (i,))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_process_killed_before_it_syncs_loses_no_unsynced_commit(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    done = subprocess.run([sys.executable, "-c", KILLED, str(path)], timeout=60)
    assert done.returncode == -signal.SIGKILL
    store = Store(path)
    assert store.db.execute("SELECT count(*) FROM arrivals").fetchone()[0] == 50
    store.close()


def responder(node: Node) -> web.Application:
    """The sync endpoint of `node`, to run in this process (aiohttp's TestServer)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES + 1024)
    app[SYNC_KEY] = SyncContext.open(node)
    app.router.add_post(SYNC_PATH, handle_sync)
    return app


async def posted(app: web.Application, request: Push) -> Reply:
    async with TestServer(app) as server, new_session() as session:
        return await post(session, str(server.make_url("")).rstrip("/"), request)


def test_a_push_is_synced_once_after_its_last_commit_and_before_it_is_answered(
        tmp_path: Path, fsyncs: list[str]) -> None:
    init_all([tmp_path / "r"])
    node = open_node(tmp_path / "r")
    commits: list[tuple[int, int]] = []  # (safety level, syncs done) at each commit
    node.store.commit_hooks.append(lambda: commits.append((synchronous(node.store), len(fsyncs))))
    _, envelopes = ledger_chain(new_key(), 120)  # three slices of the push, each unsynced
    try:
        reply = asyncio.run(posted(responder(node), Push(tuple(envelopes))))
        synced_when_answered = list(fsyncs)
    finally:
        node.close()
    assert isinstance(reply, Pushed) and reply.accepted == len(envelopes)
    # the three slices, the news of the document and the sender's record: none waits for the
    # disk, and one sync of the WAL after the last of them comes before the answer
    assert commits == [(1, 0)] * 5
    assert synced_when_answered == [str(tmp_path / "r" / "pnyx.sqlite-wal")]


def held_disk() -> tuple[threading.Event, threading.Event, Callable[[int], None]]:
    """An fsync that says it began (`syncing`) and returns only once `disk_done` is set."""
    syncing, disk_done = threading.Event(), threading.Event()
    real = os.fsync

    def slow_disk(fd: int) -> None:
        syncing.set()
        assert disk_done.wait(10)
        real(fd)

    return syncing, disk_done, slow_disk


def test_the_responder_answers_others_while_a_push_is_synced_and_answers_the_push_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk's sync runs off the event loop: a hello sent while a push's sync is held up
    is answered, and the push is answered only once its sync has returned."""
    init_all([tmp_path / "r"])
    node = open_node(tmp_path / "r")
    app = responder(node)
    syncing, disk_done, slow_disk = held_disk()

    monkeypatch.setattr(os, "fsync", slow_disk)
    _, envelopes = ledger_chain(new_key(), 60)

    async def both() -> tuple[Reply, bool, Reply]:
        async with TestServer(app) as server, new_session() as session:
            url = str(server.make_url("")).rstrip("/")
            pushed = asyncio.ensure_future(post(session, url, Push(tuple(envelopes))))
            assert await asyncio.to_thread(syncing.wait, 10)
            hello = await post(session, url, Hello(((b"", bytes(32)),), new_key().public))
            answered_before = pushed.done()
            disk_done.set()
            return hello, answered_before, await pushed

    try:
        hello, push_answered_first, reply = asyncio.run(both())
    finally:
        disk_done.set()
        node.close()
    assert isinstance(hello, ScopeRoots) and not push_answered_first
    assert isinstance(reply, Pushed) and reply.accepted == len(envelopes)


def test_a_sender_s_next_push_is_judged_while_the_sync_of_the_push_before_it_is_held_up(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sender's pushes are judged one at a time, but a push's sync runs after its turn: the
    next push it sent ahead (sync.md "Pipelining") is judged and committed while the disk
    syncs the one before, and neither is answered before a sync that began after its last
    commit has returned."""
    init_all([tmp_path / "r"])
    node = open_node(tmp_path / "r")
    app = responder(node)
    syncing, disk_done, slow_disk = held_disk()

    _, envelopes = ledger_chain(new_key(), 61)
    sender = (new_key(), node.device_key.public)

    async def both() -> tuple[int, bool, Reply, Reply]:
        async with TestServer(app) as server, new_session() as session:
            url = str(server.make_url("")).rstrip("/")
            # a first push makes the sender known: charged (and taking turns) under its key
            assert isinstance(await post(session, url, Push(tuple(envelopes[:1])), sender=sender), Pushed)
            held = node.store.count_changes()
            monkeypatch.setattr(os, "fsync", slow_disk)
            first = asyncio.ensure_future(post(session, url, Push(tuple(envelopes[1:31])), sender=sender))
            assert await asyncio.to_thread(syncing.wait, 10)
            second = asyncio.ensure_future(post(session, url, Push(tuple(envelopes[31:])), sender=sender))
            deadline = time.monotonic() + 10
            while node.store.count_changes() < held + 60 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            stored, answered = node.store.count_changes() - held, first.done() or second.done()
            disk_done.set()
            return stored, answered, await first, await second

    try:
        stored, answered_before, first, second = asyncio.run(both())
    finally:
        disk_done.set()
        node.close()
    assert stored == 60 and not answered_before
    assert isinstance(first, Pushed) and isinstance(second, Pushed)
    assert first.accepted + second.accepted == 60


def test_a_daemon_killed_once_it_answered_a_push_keeps_every_change_it_counted(
        tmp_path: Path) -> None:
    init_all([tmp_path / "r"])
    _, envelopes = ledger_chain(new_key(), 300)
    daemon = Daemon(tmp_path / "r")
    try:
        async def pushed() -> Reply:
            async with new_session() as session:
                return await post(session, daemon.url, Push(tuple(envelopes)))

        reply = asyncio.run(pushed())
    finally:
        daemon.kill()  # SIGKILL, at once after the answer
    assert isinstance(reply, Pushed) and reply.accepted == len(envelopes)
    assert {parse_change(e.change).hash for e in envelopes} <= held_hashes(tmp_path / "r")


def test_an_ingest_of_several_batches_commits_each_unsynced_and_syncs_once_at_its_end(
        tmp_path: Path, fsyncs: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "BATCH", 500)
    store = Store(tmp_path / "s.sqlite")
    ingestor = Ingestor(store, DocumentCache(store))
    _, envelopes = ledger_chain(new_key(), 1_200)  # three batches
    commits = []
    store.commit_hooks.append(lambda: commits.append((synchronous(store), list(fsyncs))))
    assert ingestor.ingest(envelopes[:1_100]).accepted == 1_100
    assert commits == [(1, []), (1, []), (1, [])]  # NORMAL: SQLite does not sync the commit
    assert fsyncs == [str(tmp_path / "s.sqlite-wal")]
    assert synchronous(store) == 2  # FULL again for what comes after
    with store.unsynced():  # inside a caller's unsynced block the caller syncs, when it will
        assert ingestor.ingest(envelopes[1_100:]).accepted == 100
    assert len(fsyncs) == 1
    store.close()
    reopened = Store(tmp_path / "s.sqlite")
    assert reopened.count_changes() == len(envelopes)


def test_a_pull_stores_its_batches_unsynced_and_syncs_once_at_its_end(
        tmp_path: Path, fsyncs: list[str]) -> None:
    source, target = tmp_path / "s", tmp_path / "t"
    init_all([source, target])
    _, envelopes = ledger_chain(new_key(), 1_200)  # three batches
    node = open_node(source)
    try:
        assert node.ingestor.ingest(envelopes).accepted == len(envelopes)
    finally:
        node.close()
    fsyncs.clear()  # the source's own ingest synced once at its end (Store.synced_at_end)
    daemon = Daemon(source)
    try:
        node = open_node(target)
        try:
            outcome = asyncio.run(pull(node, daemon.url))
        finally:
            node.close()
    finally:
        daemon.stop()
    assert outcome.received.accepted == len(envelopes) + 1  # and the source's genesis
    assert outcome.progress.round_trips > 3
    assert fsyncs == [str(target / "pnyx.sqlite-wal")]


async def pull(node: Node, url: str) -> Outcome:
    async with new_session() as session:
        return await sync_with(session, node, StoreHoldings(node.store), url)


@pytest.mark.parametrize(("sender", "ingests"), [(Sender("address:127.0.0.1"), 3),
                                                 (Sender("ab" * 32, "ab" * 32), 1)])
def test_a_known_sender_s_push_is_one_transaction_and_an_unknown_one_s_a_slice_at_a_time(
        tmp_path: Path, sender: Sender, ingests: int) -> None:
    init_all([tmp_path / "r"])
    node = open_node(tmp_path / "r")
    ctx = SyncContext.open(node)
    _, envelopes = ledger_chain(new_key(), 120)
    begun = node.store.serial
    try:
        reply = asyncio.run(push(ctx, sender, Push(tuple(envelopes))))
        # the ingest's transactions, then the news of the documents and the sender's record
        assert node.store.serial - begun == ingests + 2
    finally:
        node.close()
    assert reply.accepted == len(envelopes) and reply.rejected == 0


def test_the_store_mark_is_written_once_what_it_counts_is_synced(
        tmp_path: Path, fsyncs: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    init_all([tmp_path / "n"])
    node = open_node(tmp_path / "n")
    _, envelopes = ledger_chain(new_key(), 10)
    with node.store.unsynced():
        assert node.ingestor.ingest(envelopes).accepted == len(envelopes)
    written = mark.write_mark

    def noting(data: Path, store: Store) -> None:
        written(data, store)
        fsyncs.append("mark written")

    monkeypatch.setattr(node_module, "write_mark", noting)
    node.close()
    assert fsyncs[-2:] == [str(tmp_path / "n" / "pnyx.sqlite-wal"), "mark written"]
    assert read_mark(tmp_path / "n") is not None
