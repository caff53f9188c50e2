"""What `pnyx show` and `pnyx view` cost, cold, as the ledger grows: 100, 10k and 100k records.

A data directory is founded and its ledger filled (500 records to a change, so that
filling is quick): nine plain decisions in ten, and every tenth a decision issuing a
mandate, to one of a thousand delegates, with bylaws adopted at the start. After each
fill, as a command would, a node opened afresh (nothing cached) reads:

- `show decisions` and `show mandates`: the newest 50 with their total, from the index of
  records (daemon/store/ledgerindex.py); and, as the baseline of the same run, the same
  rows from the whole ledger document (what `show` read before the index);
- `show bylaws` from the bylaws decisions alone;
- `view`: the confederal view (daemon/store/viewindex.py) when nothing changed since it
  was last rendered, and after one more decision was recorded.

The page read from the index must be the tail of the full listing. The ratio printed is
each time over its time at 100 records, in the same run: 1.0 means the read does not grow
with the ledger. `PNYX_BENCH_SHOW_SIZES` (e.g. `100,10000`) picks other sizes.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

from automerge.core import Transaction
from pnyx.daemon.services.listing import (
    Listing,
    Row,
    decision_listing,
    decision_rows,
    indexed_bylaws_row,
    mandate_listing,
    mandate_rows,
)
from pnyx.daemon.services.records import DecisionInput, Recorder
from pnyx.daemon.store.node import Node, create_data_dir, new_key, open_node
from pnyx.daemon.store.viewindex import ViewIndex
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import (
    Binding,
    Decision,
    Instruction,
    Mandate,
    Position,
    Profile,
    Tally,
    read_ledger,
    write_decision,
    write_mandate,
)

from .record import PER_CHANGE, record_id, timed_ms

SIZES = tuple(int(s) for s in os.environ.get("PNYX_BENCH_SHOW_SIZES", "100,10000,100000").split(","))
SHOWN = 50
TIMES = 3  # cold reads per measure: the median is printed
AS_OF = dt.date(2026, 12, 31)
PLAN = (Instruction("water plan", Position.FOR, Binding.IMPERATIVE),)


def fill(recorder: Recorder, start: int, stop: int) -> None:
    """Records start..stop-1, PER_CHANGE to a change; every tenth issues a mandate."""
    for first in range(start, stop, PER_CHANGE):
        def edit(tx: Transaction, numbers: range = range(first, min(first + PER_CHANGE, stop))) -> None:
            for n in numbers:
                day = dt.date(2026, 1, 1) + dt.timedelta(days=n % 300)
                mandate = n % 10 == 0
                write_decision(tx, Decision(record_id(n), f"Decision {n}", "Filled for the bench.",
                                            day, Tally(10 + n % 7, n % 9, 0), None, "", None,
                                            "mandate" if mandate else "decision",
                                            record_id(n + 10**9) if mandate else None))
                if mandate:
                    write_mandate(tx, Mandate(record_id(n + 10**9), f"Delegate {n % 1000}", None,
                                              "Water council", day, day + dt.timedelta(days=30),
                                              PLAN, record_id(n), None))

        recorder.write(recorder.node.ledger_id, edit)


def cold(data: Path, read: Callable[[Node], object], before: Callable[[Node], object] | None) -> float:
    """Median ms of `read` on a node opened afresh each time, as a command opens it; `before`
    runs first on a node of its own, untimed."""
    times = []
    for _ in range(TIMES):
        if before is not None:
            node = open_node(data)
            try:
                before(node)
            finally:
                node.close()
        node = open_node(data)
        try:
            times.append(timed_ms(lambda: read(node)))  # noqa: B023 (called at once)
        finally:
            node.close()
    return statistics.median(times)


def show_decisions(node: Node) -> Listing:
    return decision_listing(node.ingestor.ledgers, node.ledger_id, node.docs.profile(node.ledger_id), SHOWN)


def show_mandates(node: Node) -> Listing:
    return mandate_listing(node.ingestor.ledgers, node.ledger_id, node.docs.profile(node.ledger_id), SHOWN)


def show_bylaws(node: Node) -> object:
    return indexed_bylaws_row(node.ingestor.ledgers, node.ledger_id, node.docs.profile(node.ledger_id), AS_OF)


def whole_decisions(node: Node) -> list[Row]:
    return decision_rows(read_ledger(node.docs.get(node.ledger_id)))


def whole_mandates(node: Node) -> list[Row]:
    return mandate_rows(read_ledger(node.docs.get(node.ledger_id)))


def view(node: Node) -> object:
    return ViewIndex(node.store, node.docs).render(AS_OF)


def one_more_decision(node: Node) -> object:
    return Recorder(node, today=lambda: AS_OF).decide(DecisionInput("One more", "", AS_OF,
                                                                    Tally(9, 1, 0)))


def check_page(data: Path) -> None:
    """The page read from the index is the tail of the full listing read from the document."""
    node = open_node(data)
    try:
        for page, whole in ((show_decisions, whole_decisions), (show_mandates, whole_mandates)):
            listing, rows = page(node), whole(node)
            assert listing.rows == rows[-SHOWN:] and listing.total == len(rows), page.__name__
    finally:
        node.close()


Read = Callable[[Node], object]
MEASURES: tuple[tuple[str, Read, Read | None], ...] = (
    ("show decisions (newest 50)", show_decisions, None),
    ("show mandates (newest 50)", show_mandates, None),
    ("show bylaws", show_bylaws, None),
    ("view, nothing new", view, None),
    ("view, one decision new", view, one_more_decision),
    ("before: decisions, whole ledger", whole_decisions, None),
    ("before: mandates, whole ledger", whole_mandates, None),
)


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "node"
        assembly_key, device_key = new_key(), new_key()
        create_data_dir(data, assembly_key.public, device_key, assembly_key)
        node = open_node(data)
        recorder = Recorder(node, today=lambda: AS_OF)
        recorder.found(Profile(key_text(assembly_key.public), "Bench assembly", "", 100))
        recorder.adopt_bylaws({"quorum": 3}, DecisionInput("Bylaws", "", dt.date(2025, 12, 1),
                                                           Tally(20, 0, 0)))
        node.close()
        held = 0
        times: dict[str, list[float]] = {name: [] for name, _, _ in MEASURES}
        for size in SIZES:
            node = open_node(data)
            try:
                fill(Recorder(node), held, size)
                node.docs.save_snapshots()
            finally:
                node.close()
            held = size
            check_page(data)
            for name, read, before in MEASURES:
                times[name].append(cold(data, read, before))
        print(f"cold, median of {TIMES}, in ms (ratio to {SIZES[0]} records); the page read from the "
              "index is the tail of the whole listing")
        print(f"{'records':<34}" + "".join(f"{size:>20,}" for size in SIZES))
        for name, found in times.items():
            print(f"{name:<34}" + "".join(f"{ms:>11.1f} ({ms / found[0]:5.2f}x)" for ms in found))
