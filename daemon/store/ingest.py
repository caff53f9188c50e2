"""Ingest: every envelope that reaches this daemon, from a peer, a bundle or the
CLI, goes through here and nowhere else.

For each envelope: the stateless checks (envelope.check_envelope), the
stateful ones (verify.check_in_context), then contained application and the
insert, in one transaction per batch. Changes that wait for dependencies or
authority go to the pending set and are judged again as soon as what they
wait for arrives.

A batch is judged the fast way first, inside a savepoint: the changes accepted
are stored as they are judged and staged, and each document's staged changes are
applied to Automerge together at the end (daemon/store/staging.py). If Automerge
does not take them all, the savepoint is rolled back and the batch judged again
one change at a time, each applied before the next is judged: the change
Automerge refuses is refused alone, with the same report as if it had come alone.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import islice

from pnyx.federation.chunk import ParsedChange
from pnyx.federation.docids import DocKind, ledger_id
from pnyx.federation.envelope import (
    Envelope,
    VerifiedChange,
    check_envelope,
    decode_envelope,
    recheck_envelope,
)
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.ledger import may_change_devices
from pnyx.federation.verify import Wait, check_in_context
from pnyx.federation.writerules import Written

from .documents import DocumentCache
from .evidence import keep_evidence
from .ledgerindex import LedgerIndex
from .sqlite import Store
from .staging import StagedApplyFailed

# Envelopes judged and stored in one write transaction. Each commit writes every page the
# transaction dirtied to the WAL, and a change's hash lands on a page of its index (sqlite.BY_HASH)
# at random: at 500 a commit, the pages written per change grew with the store (WAL frames a
# change, replaying an ingest of 50k changes in 10 ledgers: 0.32 over the first 10k, 0.65 over the
# last; 0.90 at 100k), at 2,000 they grow a third as fast (0.23, 0.32; 0.43 at 100k). A batch's
# judging is held in memory until it commits: the peak receiving 50k changes rose from 127 MB
# to 134 MB (bench ingest's), to 142 MB at 5,000 for 0.25 frames a change at 50k.
BATCH = 2_000
NEVER_HELD = 4_096  # hashes of changes that can never be held here, remembered (Ingestor._never)
LEDGER = DocKind.LEDGER  # a module's name: an enum's member looked up on its class cost 0.14 us (measured)
NONE_RELEASED: tuple[VerifiedChange, ...] = ()  # what most changes release: no list made for each


@dataclass
class IngestReport:
    """What happened to each envelope, counted; `rejected` keeps the reasons."""

    accepted: int = 0
    duplicate: int = 0
    deferred: int = 0  # no room in the pending set (daemon/store/pending.py): offered again later
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (reason, detail)
    accepted_docs: set[str] = field(default_factory=set)
    parked: set[bytes] = field(default_factory=set)  # still pending at the end
    released: set[bytes] = field(default_factory=set)

    @property
    def pending(self) -> int:
        return len(self.parked)

    def merge(self, other: IngestReport) -> None:
        self.accepted += other.accepted
        self.duplicate += other.duplicate
        self.parked = (self.parked - other.released) | other.parked
        self.deferred += other.deferred
        self.rejected.extend(other.rejected)
        self.accepted_docs |= other.accepted_docs


class Ingestor:
    def __init__(self, store: Store, docs: DocumentCache, index: bool = True) -> None:
        """`index`: keep the index of ledger records in each write transaction; `pnyx verify`
        replays a store into a scratch one that nobody reads, and keeps none."""
        self.store = store
        self.docs = docs
        self._ledgers = LedgerIndex(store, docs) if index else None
        self._vouchers_kept: set[bytes] = set()  # in the batch's transaction
        # Changes refused as a conflict, and those found waiting on one: none can ever be held
        # here, so a change that waits on one is not parked (`_never_held`). Kept across calls,
        # as a piece of evidence may be judged in two slices; forgotten when a judging is taken
        # back, as what it refused may then be judged otherwise.
        self._never: dict[bytes, None] = {}

    @property
    def ledgers(self) -> LedgerIndex:
        """The index of the ledgers' records, kept in each write transaction."""
        assert self._ledgers is not None, "an ingestor made to keep no index"
        return self._ledgers

    def ingest(self, envelopes: Iterable[Envelope], source: str = "") -> IngestReport:
        """Verify and store envelopes, committing every BATCH of them. `source` names who
        sent them (a peer's proven key, a bundle): what waits is bounded per source. The
        batches commit unsynced and are synced once before this returns, as nobody is told
        what they stored before then (Store.synced_at_end)."""
        report = IngestReport()
        coming = iter(envelopes)
        with self.store.synced_at_end():
            while batch := list(islice(coming, BATCH)):  # taken by islice: no Python code an envelope
                report.merge(self._ingest_batch(batch, source))
        return report

    def _ingest_batch(self, batch: list[Envelope], source: str) -> IngestReport:
        with collector_paused():
            return self._judged_batch(batch, source)

    def _judged_batch(self, batch: list[Envelope], source: str) -> IngestReport:
        checked: list[VerifiedChange | Rejected] = []
        hashes = []
        for envelope in batch:  # the stateless checks of the whole batch, in a loop, not a call each
            try:
                vc = check_envelope(envelope)
            except Rejected as exc:
                checked.append(exc)
                continue
            checked.append(vc)
            hashes.append(vc.change.hash)
        report = IngestReport()
        try:
            with self.store.transaction():
                self.store.pending.refresh(time.time())
                self.store.expect(hashes)
                try:
                    with self.store.savepoint():
                        self._judge_batch(checked, source, report, staged=True)
                except StagedApplyFailed:
                    report = IngestReport()
                    self._never.clear()
                    self._judge_batch(checked, source, report, staged=False)
                self.store.settle()
        except BaseException:
            self.docs.forget_all(report.accepted_docs)
            self._never.clear()
            raise
        return report

    def _judge_batch(self, checked: list[VerifiedChange | Rejected], source: str,
                     report: IngestReport, staged: bool) -> None:
        """Judge a batch in order; `staged`: the fast way (see the module's docstring).
        First in, first judged: changes released together are judged in the order they
        arrived, so that of two equivocating changes the first to arrive is kept."""
        self._vouchers_kept.clear()
        if staged:
            self.docs.begin_staging()
        judge, rejected = self._judge, report.rejected
        try:
            for vc in checked:
                if isinstance(vc, Rejected):
                    rejected.append((vc.reason.value, vc.detail))
                    continue
                released = judge(vc, report, source)
                if released:
                    queue = deque(released)
                    while queue:
                        queue.extend(judge(queue.popleft(), report, source))
            if staged:
                self.docs.apply_all_staged()
        except BaseException:
            if staged:
                self.docs.undo_staging()
            raise

    def _judge(self, vc: VerifiedChange, report: IngestReport, source: str) -> Sequence[VerifiedChange]:
        """Judge one change; the waiting changes its arrival releases, to be judged next.
        Called for every change: what an empty pending set (Store.transaction knows) or a
        change without a voucher needs no call for is skipped here, and a change the batch's
        `expect` found not held is answered from Store's memory without a call of `holds`."""
        store, change = self.store, vc.change
        change_hash = change.hash
        pending = store.pending
        if change_hash not in store.absent and store.holds(change_hash):
            if not pending.empty:
                pending.discard(change_hash)
            report.duplicate += 1
            return NONE_RELEASED
        docs, doc_id, deps = self.docs, vc.envelope.doc_id, change.deps  # read once, passed on
        try:
            verdict = check_in_context(vc, store, docs)
            if not isinstance(verdict, Wait):
                docs.apply_verified(doc_id, change.raw, change_hash, deps)
        except Rejected as exc:
            pending.discard(change_hash)
            if exc.conflict is not None:
                keep_evidence(store, vc, exc, exc.conflict)
                self._never_held(change_hash, report)
            report.rejected.append((exc.reason.value, exc.detail))
            return NONE_RELEASED
        if isinstance(verdict, Wait):
            self._wait(vc, verdict, report, source)
            return NONE_RELEASED
        if vc.vouch is not None and vc.vouch not in self._vouchers_kept:
            self._keep_voucher(vc)
        if not pending.empty:
            pending.discard(change_hash)
        self._store_applied(vc, verdict, report, doc_id, change, change_hash, deps)
        if pending.empty:
            return NONE_RELEASED
        released_now = []
        for released in pending.release(change_hash, doc_id):
            released_now.append(recheck_envelope(
                decode_envelope(released.envelope, released.vouch is not None), released.vouch))
            report.parked.discard(released.hash)
            report.released.add(released.hash)
        return released_now

    def _wait(self, vc: VerifiedChange, verdict: Wait, report: IngestReport, source: str) -> None:
        """A change that must wait: parked, unless what it waits on can never be held here."""
        change_hash, pending = vc.change.hash, self.store.pending
        if not self._never.keys().isdisjoint(verdict.missing):
            pending.discard(change_hash)
            self._never_held(change_hash, report)
            return
        if vc.vouch is not None and vc.vouch not in self._vouchers_kept:
            self._keep_voucher(vc)
        known = self._known_signer(vc)
        if pending.add(vc, verdict.missing, verdict.awaiting_doc, source, known, time.time()):
            report.parked.add(change_hash)
        else:
            report.deferred += 1

    def _never_held(self, change_hash: bytes, report: IngestReport) -> None:
        """A change that can never be held here: refused as a conflict (what it contradicts is
        held for good), or waiting on such a change. What waits on it leaves the pending set,
        and what comes waiting on it is not parked: the chain and voucher that travel after a
        change refused vouched (evidence, daemon/store/evidence.py keeps them beside it), or a
        forked history, would otherwise fill its source's share of the set until they expired.
        They are reported neither pending nor refused: nothing is wrong with them but their
        past."""
        never = self._never
        gone = self.store.pending.discard_descendants(change_hash)
        for h in (change_hash, *gone):
            if len(never) >= NEVER_HELD:
                del never[next(iter(never))]
            never[h] = None
        report.parked.difference_update(gone)
        report.released.update(gone)

    def _keep_voucher(self, vc: VerifiedChange) -> None:
        """A vouched change is kept (stored or waiting) with its voucher's hash, and the
        voucher's envelope is kept beside it: this daemon serves the change to others, and
        `pnyx verify` re-checks it, with the signature that vouched for it. Called for a
        voucher not yet kept in the batch's transaction."""
        voucher = vc.envelope.voucher
        if voucher is not None and vc.vouch is not None:
            self.store.keep_voucher(voucher.envelope, vc.vouch)
            self._vouchers_kept.add(vc.vouch)

    def _known_signer(self, vc: VerifiedChange) -> bool:
        """A signer whose waiting changes rank above junk (daemon/store/pending.py): it already
        wrote to the document, or the assembly's ledger held here certifies it as a device."""
        if self.store.known_signer(vc.envelope.doc_id, vc.envelope.signer):
            return True
        assembly = vc.doc.assembly
        if assembly is None or not self.store.holds_document(ledger_id(assembly)):
            return False
        return self.docs.device_entry(assembly, vc.envelope.signer, None) is not None

    def _store_applied(self, vc: VerifiedChange, written: Written, report: IngestReport, doc_id: str,
                       change: ParsedChange, change_hash: bytes, deps: tuple[bytes, ...]) -> None:
        """Store an applied change; given what _judge read of it (Store.insert_change says why)."""
        docs = self.docs
        try:
            seqno = self.store.insert_change(vc, doc_id, change, change_hash, deps)
        except BaseException:
            docs.forget(doc_id)
            raise
        if vc.doc.kind is LEDGER:
            # Whether it writes on `devices` (DocumentCache.mark_stored): the write rules found the
            # path of every value it puts. A change they hand on no values for (one of no
            # operations) is scanned whole (federation.ledger.may_change_devices).
            devices = written.devices if written.values else may_change_devices(change.raw, 1)
            docs.mark_stored(doc_id, seqno, change_hash, deps, devices)
            if self._ledgers is not None:
                self._ledgers.stored(change, written.rows)
        else:
            docs.mark_stored(doc_id, seqno)
        report.accepted += 1
        report.accepted_docs.add(doc_id)

    def record_local(self, vc: VerifiedChange) -> None:
        """Store a change this process made on the cached document itself.

        It passes the same checks as any received change; failing them is a bug
        here, so the cached document is dropped and the error propagates."""
        try:
            verdict = check_in_context(vc, self.store, self.docs)
            if isinstance(verdict, Wait):
                raise Rejected(Reason.MALFORMED_CHANGE, "a local change cannot wait")
        except BaseException:
            self.docs.forget(vc.envelope.doc_id)
            raise
        report, change = IngestReport(), vc.change
        self._store_applied(vc, verdict, report, vc.envelope.doc_id, change, change.hash, change.deps)
        self.store.settle()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector held off while a batch is judged: a batch makes
    hundreds of thousands of short-lived objects, few in cycles, and each collection walks
    every object the process holds (about 7% of ingest's time, measured). A batch is bounded
    (BATCH changes), so what cycles it leaves wait at most one batch for the next collection."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
