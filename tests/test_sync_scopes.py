"""Scopes across real daemons (protocol-spec/sync.md, "Scopes"): two daemons that share one
confederation but each follow another one exchange only the shared confederation's documents,
however many exchanges they run, and nothing of their own ledgers outside it."""

from __future__ import annotations

import time
from pathlib import Path

from pnyx.daemon.store.node import open_node
from pnyx.federation.envelope import Envelope
from pnyx.federation.keys import SigningKey

from bench.corpus import charter, ledger_chain, new_key
from tests.pnyxproc import Daemon, add_peers, cli, free_port, init_all, query, wait_for


def held_docs(data: Path) -> set[str]:
    return {doc for (doc,) in query(data, "SELECT DISTINCT doc FROM changes")}


def store(data: Path, envelopes: list[Envelope]) -> None:
    node = open_node(data)
    try:
        report = node.ingestor.ingest(envelopes)
        assert report.accepted == len(envelopes), report.rejected
    finally:
        node.close()


def charter_hex(envelope: Envelope) -> str:
    return envelope.doc_id.removeprefix("charter/")


def last_success(data: Path, url: str) -> float:
    rows = query(data, "SELECT last_success FROM peers WHERE url = ?", url)
    return float(rows[0][0] or 0) if rows else 0.0


def test_two_daemons_exchange_only_the_confederation_both_follow(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    init_all([a, b])
    keys: list[SigningKey] = [new_key() for _ in range(6)]
    ledgers = [ledger_chain(k, 3)[1] for k in keys]
    shared = charter([keys[0].public, keys[1].public], name="Shared")
    only_a = charter([keys[2].public, keys[3].public], name="Only A")
    only_b = charter([keys[4].public, keys[5].public], name="Only B")
    store(a, [shared, only_a, *ledgers[0], *ledgers[2], *ledgers[3]])
    store(b, [shared, only_b, *ledgers[1], *ledgers[4], *ledgers[5]])
    before_a, before_b = held_docs(a), held_docs(b)
    port_a, port_b = free_port(), free_port()
    add_peers(a, f"http://127.0.0.1:{port_b}")
    add_peers(b, f"http://127.0.0.1:{port_a}")
    gossip = ("--gossip-interval", "0.3", "--no-push", "--no-learn")
    da = Daemon(a, "--follow", charter_hex(shared), "--follow", charter_hex(only_a), *gossip, port=port_a)
    db = Daemon(b, "--follow", charter_hex(shared), "--follow", charter_hex(only_b), *gossip, port=port_b)
    try:
        wait_for("the shared confederation's ledgers on both sides",
                 lambda: ledgers[1][0].doc_id in held_docs(a) and ledgers[0][0].doc_id in held_docs(b), 60)
        settled = time.time()
        wait_for("two more exchanges each way",  # anything else would have moved by then
                 lambda: last_success(a, db.url) > settled + 1 and last_success(b, da.url) > settled + 1, 60)
        assert held_docs(a) == before_a | {ledgers[1][0].doc_id}
        assert held_docs(b) == before_b | {ledgers[0][0].doc_id}
        assert query(a, "SELECT count(*) FROM changes WHERE doc = ?", ledgers[1][0].doc_id) == [(3,)]
    finally:
        da.stop()
        db.stop()


def test_following_something_not_a_charter_hash_is_one_line(tmp_path: Path) -> None:
    data = tmp_path / "a"
    init_all([data])
    result = cli(data, "run", "--no-discovery", "--follow", "Barrio Norte", check=False)
    assert result.returncode != 0
    assert result.stderr.strip() == ("pnyx: error: --follow takes a charter hash (64 hex digits), "
                                     "got 'Barrio Norte'")
