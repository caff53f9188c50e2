"""A writer killed with SIGKILL at random moments, again and again: every decision it
acknowledged is there after each restart, the index of records is whole, and the store
verifies."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pnyx.daemon.services.listing import decision_listing, decision_rows
from pnyx.daemon.store.audit import reverify
from pnyx.daemon.store.node import Node, open_node
from pnyx.federation.ledger import Ledger, read_ledger

from .ledgerkit import index_rows
from .pnyxproc import cli

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 15


def run_and_kill(data: Path, rng: random.Random) -> list[str]:
    """Start the writer, let it write for a random moment, SIGKILL it; the ids it printed."""
    writer = subprocess.Popen([sys.executable, "-m", "tests.crash_writer", str(data)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    try:
        assert writer.stdout.readline() == "ready\n", writer.stderr.read() if writer.stderr else ""
        time.sleep(rng.uniform(0.0, 0.6))
    finally:
        writer.kill()
        writer.wait(timeout=30)
    out = writer.stdout.read()
    lines = out.split("\n")
    return [line for line in lines[:-1] if line]  # the last piece may be half written


def assert_index_whole(node: Node, ledger: Ledger) -> None:
    """The index of records, kept in each change's transaction, lists what the ledger holds
    and is what rebuilding it from the document gives."""
    listing = decision_listing(node.ingestor.ledgers, node.ledger_id, node.docs.profile(node.ledger_id))
    assert listing.rows == decision_rows(ledger) and listing.total == len(ledger.decisions)
    kept = index_rows(node.store.db)
    with node.store.transaction():
        node.ingestor.ledgers.rebuild(node.ledger_id)
    assert index_rows(node.store.db) == kept


@pytest.mark.slow
def test_every_acknowledged_decision_survives_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "assembly"
    cli(data, "init", "--assembly", "Crash test assembly")
    rng = random.Random(20261122)
    acknowledged: list[str] = []
    for round_ in range(ROUNDS):
        acknowledged += run_and_kill(data, rng)
        node = open_node(data)
        try:
            ledger = read_ledger(node.docs.get(node.ledger_id))
            missing = [d for d in acknowledged if d not in ledger.decisions]
            assert not missing, f"round {round_}: lost {missing}"
            assert_index_whole(node, ledger)
            audit = reverify(node.store)
            assert audit.ok and audit.pending == 0, audit
        finally:
            node.close()
    assert len(acknowledged) > ROUNDS  # the writer did write between the kills
    verify = cli(data, "verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
