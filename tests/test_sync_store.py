"""The daemon's holdings (daemon/store/holdings.py): the digest tree kept up to date from the
store incrementally, also when another process writes, equal to one built from scratch, and
the same holdings served to the in-memory machine."""

from __future__ import annotations

import os
from pathlib import Path

from pnyx.daemon.store.holdings import StoreHoldings
from pnyx.daemon.store.node import open_node
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
