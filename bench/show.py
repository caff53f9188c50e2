"""What `pnyx show` and `pnyx view` cost, cold, as the ledger grows: 100, 10k and 100k records.

Two data directories are filled as ledgers grow, one change per record, each change
signed and stored through ingest (so the index of records is kept as a daemon keeps it):

- for `show`, nine plain decisions in ten, and every tenth a decision issuing a mandate to
  one of a thousand delegates;
- for `view`, plain decisions after a fixed confederal part (a confederation accepted, a
  proposal put and ratified, 20 mandates): the view lists every mandate, so a ledger of
  ever more mandates has an ever longer view, while plain decisions are not in it.

After each fill, as a command would, a node opened afresh (nothing cached) reads:

- `show decisions` and `show mandates`: the newest 50 with their total, from the index of
  records (daemon/store/ledgerindex.py); the log of a recalled mandate (one of the `show`
  ledger's, with its delegate's report), as the view reads it, which asks which acts saw
  the recall; and, as the baseline of the same run, the same
  rows from the whole ledger document (what `show` read before the index);
- `show bylaws`, from the bylaws decisions alone;
- `view`: the confederal view (daemon/store/viewindex.py) when nothing changed since it
  was last rendered, and after one more decision was recorded;
- the cut a revocation of the node's device records (its actors' last seqs), found by the
  index of actors, and as the baseline the same read through every change of the ledger.

The page read from the index must be the tail of the full listing, and the view the one
recomputed from every document. The ratio printed is each time over its time at the first
size, in the same run: 1.0 means the read does not grow with the ledger.
`PNYX_BENCH_SHOW_SIZES` (e.g. `100,10000`) picks other sizes.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from automerge.core import Document, Transaction
from pnyx.daemon.services.listing import (
    Listing,
    Row,
    decision_listing,
    decision_rows,
    indexed_bylaws_row,
    mandate_listing,
    mandate_rows,
)
from pnyx.daemon.services.records import DecisionInput, Recorder, new_record_id
from pnyx.daemon.store.node import Node, create_data_dir, new_key, open_node
from pnyx.daemon.store.viewindex import ViewIndex, indexed_log_records, scratch_view
from pnyx.federation.charter import Rules, new_charter
from pnyx.federation.confed import Act, ActKind, ProposalBody, ProposalKind, mandate_log_records
from pnyx.federation.docids import parse_doc_id
from pnyx.federation.envelope import run_actor, sign_change
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

from .record import record_id, timed_ms

SIZES = tuple(int(s) for s in os.environ.get("PNYX_BENCH_SHOW_SIZES", "100,10000,100000").split(","))
SHOWN = 50
TIMES = 5  # cold reads per measure: the fastest is printed (load on a shared machine only slows)
INGEST = 2_000  # changes handed to ingest at once
AS_OF = dt.date(2026, 12, 31)
PLAN = (Instruction("water plan", Position.FOR, Binding.IMPERATIVE),)


class Ledger:
    """A data directory whose ledger grows by hand-made changes signed by the assembly key."""

    def __init__(self, data: Path, mandates: bool) -> None:
        self.data, self.mandates, self.held = data, mandates, 0
        self.key = new_key()
        create_data_dir(data, self.key.public, new_key(), self.key)
        node = open_node(data)
        try:
            recorder = Recorder(node, today=lambda: AS_OF)
            recorder.found(Profile(key_text(self.key.public), "Bench assembly", "", 100))
            recorder.adopt_bylaws({"quorum": 3}, vote("Bylaws", dt.date(2025, 12, 1)))
            if mandates:
                recalled(recorder)
            else:
                confederal(recorder)
            self.doc = node.docs.get(node.ledger_id).fork()
        finally:
            node.close()
        self.doc.set_actor(run_actor(self.key.public, os.urandom(8)))

    def grow(self, size: int) -> None:
        """Records up to `size`, one change each."""
        node = open_node(self.data)
        try:
            batch = []
            for n in range(self.held, size):
                batch.append(sign_change(self.key, node.ledger_id, change(self.doc, n, self.mandates)))
                if len(batch) == INGEST or n == size - 1:
                    report = node.ingestor.ingest(batch)
                    assert report.accepted == len(batch), report.rejected[:3]
                    batch = []
            node.docs.save_snapshots()
        finally:
            node.close()
        self.held = size


def vote(title: str, day: dt.date) -> DecisionInput:
    return DecisionInput(title, "", day, Tally(20, 1, 0))


def confederal(recorder: Recorder) -> None:
    """What the view shows of the plain ledger, whatever its size."""
    charter = recorder.found_confederation(new_charter(
        dt.date(2025, 1, 1), [key_text(recorder.node.assembly)], [],
        Rules("Bench valley", "simple", "2/3", "1/2", 30, ())))
    day = dt.date(2025, 12, 2)
    recorder.accept_charter(charter, vote("Join the valley", day))
    recorder.propose(ProposalBody(charter, ProposalKind.POLICY, None, None), vote("Wells", day), ratify=True)
    for n in range(20):
        recorder.issue_mandate(vote(f"Send {n}", day), f"Delegate {n}", None, "Bench valley", day,
                               day + dt.timedelta(days=30), PLAN)


def recalled(recorder: Recorder) -> None:
    """A mandate naming this node's device, its delegate's report, then its adopted recall: the
    log's reading asks which acts saw the recall."""
    day, me = dt.date(2025, 12, 2), key_text(recorder.node.device_key.public)
    mandate = recorder.issue_mandate(vote("Send the bench delegate", day), "Bench delegate", me,
                                     "Water council", day, day + dt.timedelta(days=30), PLAN)
    recorder.delegate_act(mandate, Act(new_record_id(), ActKind.REPORT, day, None, None, None, "Met"))
    recorder.recall_mandate(mandate, vote("Recall the bench delegate", day))


def change(doc: Document, n: int, mandates: bool) -> bytes:
    """Record n as one change: a decision, issuing a mandate every tenth time if asked."""
    heads = doc.get_heads()
    day = dt.date(2026, 1, 1) + dt.timedelta(days=n % 300)
    issues = mandates and n % 10 == 0

    def edit(tx: Transaction) -> None:
        write_decision(tx, Decision(record_id(n), f"Decision {n}", "Filled for the bench.", day,
                                    Tally(10 + n % 7, n % 9, 0), None, "", None,
                                    "mandate" if issues else "decision",
                                    record_id(n + 10**9) if issues else None))
        if issues:
            write_mandate(tx, Mandate(record_id(n + 10**9), f"Delegate {n // 10 % 1000}", None,
                                      "Water council", day, day + dt.timedelta(days=30), PLAN,
                                      record_id(n), None))

    with doc.transaction() as tx:
        edit(tx)
    (made,) = doc.get_changes(heads)
    return bytes(made.raw_bytes)


def cold(data: Path, read: Callable[[Node], object], before: Callable[[Node], object] | None) -> float:
    """The fastest ms of `read` on a node opened afresh each time, as a command opens it; `before`
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
    return min(times)


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


def device_cut(node: Node) -> object:
    """What revoking this node's device reads of the store: its actors' last seqs (its cut)."""
    return node.store.actor_cut(node.ledger_id, node.device_key.public)


def every_change_cut(node: Node) -> object:
    """The same cut as it was read before, through every change of the ledger."""
    return dict(node.store.db.execute("SELECT actor, max(seq) FROM changes WHERE doc = ? AND signer = ?"
                                      " GROUP BY actor", (node.ledger_id, node.device_key.public)))


def log_of(node: Node) -> str:
    return next(doc for doc in node.store.documents() if doc.startswith("mandate/"))


def recalled_log(node: Node) -> object:
    """The recalled mandate's log as the view reads it: from the index and the store."""
    return indexed_log_records(node.ingestor.ledgers, log_of(node), node.docs.profile(node.ledger_id),
                               node.docs.get)


def whole_recalled_log(node: Node) -> object:
    """The same log read with the ledger's whole document, as before."""
    log = parse_doc_id(log_of(node))
    return mandate_log_records(node.assembly, log.record, node.docs.get(log_of(node)),
                               node.docs.get(node.ledger_id))


def check(shows: Path, views: Path) -> None:
    """The page read from the index is the tail of the full listing read from the document,
    and the view is the one recomputed from every document."""
    node = open_node(shows)
    try:
        for page, whole in ((show_decisions, whole_decisions), (show_mandates, whole_mandates)):
            listing, rows = page(node), whole(node)
            assert listing.rows == rows[-SHOWN:] and listing.total == len(rows), page.__name__
        assert recalled_log(node) == whole_recalled_log(node)
    finally:
        node.close()
    node = open_node(views)
    try:
        assert ViewIndex(node.store, node.docs).render(AS_OF) == scratch_view(node.store, AS_OF)
    finally:
        node.close()


Read = Callable[[Node], object]
# (what, read, done first untimed, on the ledger for `view`)
MEASURES: tuple[tuple[str, Read, Read | None, bool], ...] = (
    ("show decisions (newest 50)", show_decisions, None, False),
    ("show mandates (newest 50)", show_mandates, None, False),
    ("show bylaws", show_bylaws, None, False),
    ("view, nothing new", view, None, True),
    ("view, one decision new", view, one_more_decision, True),
    ("before: decisions, whole ledger", whole_decisions, None, False),
    ("before: mandates, whole ledger", whole_mandates, None, False),
    ("a recalled mandate's log", recalled_log, None, False),
    ("before: the log, whole ledger", whole_recalled_log, None, False),
    ("a device's cut (revocation)", device_cut, None, False),
    ("before: the cut, every change", every_change_cut, None, False),
)


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shows, views = Ledger(Path(tmp) / "shows", True), Ledger(Path(tmp) / "views", False)
        times: dict[str, list[float]] = {name: [] for name, _, _, _ in MEASURES}
        for size in SIZES:
            shows.grow(size)
            views.grow(size)
            check(shows.data, views.data)
            for name, read, before, on_views in MEASURES:
                times[name].append(cold((views if on_views else shows).data, read, before))
        print(f"cold, fastest of {TIMES}, in ms (ratio to {SIZES[0]:,} records); one change per record; "
              "pages and views checked against the whole documents")
        print(f"{'records':<34}" + "".join(f"{size:>20,}" for size in SIZES))
        for name, found in times.items():
            print(f"{name:<34}" + "".join(f"{ms:>11.1f} ({ms / found[0]:5.2f}x)" for ms in found))
