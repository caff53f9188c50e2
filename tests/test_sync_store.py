"""The daemon's holdings (daemon/store/holdings.py): the digest tree kept up to date from the
store incrementally, also when another process writes, equal to one built from scratch, and
the same holdings served to the in-memory machine."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pnyx.daemon.store import holdings as holdings_module
from pnyx.daemon.store.holdings import StoreHoldings
from pnyx.daemon.store.node import Node, open_node
from pnyx.federation.chunk import parse_change
from pnyx.federation.memstore import MemoryStore
from pnyx.federation.sync import Initiator
from pnyx.federation.syncpeer import Responder, exchange

from bench.corpus import ledger_chain, new_key
from tests.pnyxproc import cli


def test_the_tree_follows_the_store_and_matches_one_built_whole(tmp_path: Path) -> None:
    data = tmp_path / "node"
    cli(data, "init", "--assembly", "Barrio Norte")
    node, other = open_node(data), open_node(data)  # a second connection: another process's writes
    try:
        holdings = StoreHoldings(node.store)
        first = holdings.trees().whole.root()
        _, chain = ledger_chain(new_key(), 30)
        assert other.ingestor.ingest(chain[:10] + ledger_chain(new_key(), 3)[1]).accepted == 13
        grown = holdings.trees().whole.root()
        assert grown != first
        assert grown == StoreHoldings(node.store).trees().whole.root()  # built whole, from the heads
        assert node.ingestor.ingest(chain[10:]).accepted == 20
        assert holdings.trees().whole.root() == StoreHoldings(other.store).trees().whole.root()

        mirror = MemoryStore()  # an empty node catches up from the daemon's holdings
        responder = Responder(holdings, node.device_key.public, node.ingestor.ingest, os.urandom)
        exchange(Initiator(mirror, b"m" * 32), responder.respond, mirror.ingest)
        assert mirror.trees().whole.root() == holdings.trees().whole.root()
        assert len(mirror) == node.store.count_changes()
    finally:
        node.close()
        other.close()


def sqlite_steps(node: Node, read: Callable[[], object]) -> int:
    """How much work SQLite does for `read`, counted in hundreds of its VM steps."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    node.store.db.set_progress_handler(count, 100)
    try:
        read()
    finally:
        node.store.db.set_progress_handler(None, 0)
    return steps[0]


def test_a_pull_of_the_newest_changes_of_a_long_ledger_reads_those_not_the_ledger(tmp_path: Path) -> None:
    data = tmp_path / "node"
    cli(data, "init", "--assembly", "Barrio Norte")
    node = open_node(data)
    try:
        _, chain = ledger_chain(new_key(), 1500)
        assert node.ingestor.ingest(chain).accepted == 1500
        holdings = StoreHoldings(node.store)
        actor = parse_change(chain[0].change).actor
        doc_id = chain[0].doc_id
        cost = {}
        for held in (10, 1497):
            wants = {doc_id: {actor: held}}
            batch = holdings.changes_after(wants, 0, 500, 2 << 20)
            seqs = [parse_change(e.change).seq for e in batch.envelopes]
            assert seqs == list(range(held + 1, min(held + 500, 1500) + 1))
            cost[held] = sqlite_steps(node, lambda w=wants: holdings.changes_after(w, 0, 500, 2 << 20))
        assert cost[1497] * 10 < cost[10], cost  # 3 changes read, not the 1,500 of the ledger
        assert holdings.changes_after({doc_id: {}}, 0, 500, 2 << 20).envelopes == []  # nothing wanted
        assert sqlite_steps(node, lambda: holdings.changes_after({doc_id: {}}, 0, 500, 2 << 20)) <= 2
    finally:
        node.close()


def test_a_batch_of_several_documents_is_read_in_arrival_order_without_reading_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "node"
    cli(data, "init", "--assembly", "Barrio Sur")
    node = open_node(data)
    try:
        chains = [ledger_chain(new_key(), 900)[1] for _ in range(3)]
        for start in range(0, 900, 150):  # the three ledgers arrive interleaved
            for chain in chains:
                assert node.ingestor.ingest(chain[start:start + 150]).accepted == 150
        holdings = StoreHoldings(node.store)
        wants = {chain[0].doc_id: {parse_change(chain[0].change).actor: 0} for chain in chains[:2]}

        def batches(limit: int) -> list[tuple[list[bytes], bool]]:
            """Each batch's changes and `more` (the cursor may differ: a read of every change
            moves it past those of the other ledger too)."""
            out, cursor, more = [], 0, True
            while more:
                batch = holdings.changes_after(wants, cursor, limit, 2 << 20)
                out.append(([e.change for e in batch.envelopes], batch.more))
                cursor, more = batch.cursor, batch.more
            return out

        merged = batches(100)
        monkeypatch.setattr(holdings_module, "MAX_IN_LIST", 0)  # one read of every change instead
        assert merged == batches(100)
        monkeypatch.undo()
        assert sum(len(changes) for changes, _ in merged) == 1_800
        first = sqlite_steps(node, lambda: holdings.changes_after(wants, 0, 100, 2 << 20))
        whole = sqlite_steps(node, lambda: holdings.changes_after(wants, 0, 1_800, 2 << 20))
        assert first * 8 < whole, (first, whole)  # the first 100 read, not the 1,800 and a sort
    finally:
        node.close()
