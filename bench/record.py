"""Recording one decision, whatever the size of the ledger; and what `status` and `show` load.

A data directory is founded, then its ledger is filled with 100, 10,000 and
100,000 decisions (500 to a change, so that filling is quick), and after each
fill one decision at a time is recorded as the daemon records it for the
local API and the web page: Recorder.decide on the open node, which checks the
input against the ledger, makes the change, signs it and stores it through
ingest. The goal is under 20 ms whatever the size; the ratio printed is the
time at each size over the time at 100 records, the baseline in the same run
(1.0 means a write does not grow with the ledger). Then, as a command would,
a fresh process state opens the node and reads `status` (the profile alone)
and `show decisions` (the newest 50, from the index of records; bench/show.py
measures the reads further).
"""

from __future__ import annotations

import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from automerge.core import Transaction
from pnyx.daemon.services.listing import decision_listing
from pnyx.daemon.services.records import DecisionInput, Recorder
from pnyx.daemon.services.status import node_status
from pnyx.daemon.store.node import Node, create_data_dir, new_key, open_node
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import Decision, Profile, Tally, write_decision

SIZES = (100, 10_000, 100_000)
PER_CHANGE = 500
WRITES = 15


def fill(recorder: Recorder, start: int, stop: int) -> None:
    """Decisions start..stop-1, PER_CHANGE to a change."""
    for first in range(start, stop, PER_CHANGE):
        numbers = range(first, min(first + PER_CHANGE, stop))

        def edit(tx: Transaction, numbers: range = numbers) -> None:
            for n in numbers:
                write_decision(tx, Decision(record_id(n), f"Decision {n}", "Filled for the bench.",
                                            dt.date(2026, 1, 1), Tally(10, 1, 0), None, "", None,
                                            "decision", None))

        recorder.write(recorder.node.ledger_id, edit)


def record_id(n: int) -> str:
    """A record id (16 of a-z2-7, federation/docids.py) of its own for each n."""
    return f"fill{n:012d}".translate(str.maketrans("0123456789", "abcdefghij"))


def timed_ms(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def cold_ms(data: Path, read: Callable[[Node], object]) -> float:
    """`read` on a node opened afresh, as a command opens it: nothing cached."""
    node = open_node(data)
    try:
        return timed_ms(lambda: read(node))
    finally:
        node.close()


def show_decisions(node: Node) -> object:
    """`pnyx show decisions`: the newest 50, from the index of records."""
    return decision_listing(node.ingestor.ledgers, node.ledger_id, node.docs.profile(node.ledger_id), 50)


def decide_ms(data: Path, size: int, held: int) -> float:
    """Fill the ledger from `held` to `size` decisions, then the median time of one more."""
    node = open_node(data)
    try:
        recorder = Recorder(node)
        fill(recorder, held, size)
        node.docs.save_snapshots()
        one = DecisionInput("One more decision", "Recorded for the bench.", dt.date(2026, 2, 1),
                            Tally(12, 3, 1))
        return statistics.median(timed_ms(lambda: recorder.decide(one)) for _ in range(WRITES))
    finally:
        node.close()


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "node"
        assembly_key, device_key = new_key(), new_key()
        create_data_dir(data, assembly_key.public, device_key, assembly_key)
        node = open_node(data)
        Recorder(node).found(Profile(key_text(assembly_key.public), "Bench assembly", "", 100))
        node.close()
        held = 0
        baseline = 0.0
        print(f"{'records':>8} {'decide ms (median)':>19} {'ratio to 100':>13} "
              f"{'status ms':>10} {'show ms':>8}")
        for size in SIZES:
            median = decide_ms(data, size, held)
            held = size + WRITES
            baseline = baseline or median
            status_ms = cold_ms(data, node_status)
            show_ms = cold_ms(data, show_decisions)
            print(f"{size:>8} {median:19.1f} {median / baseline:13.2f} {status_ms:10.1f} {show_ms:8.1f}")
