"""Ingest: every envelope that reaches this daemon, from a peer, a bundle or the
CLI, goes through here and nowhere else.

For each envelope: the stateless checks (envelope.check_envelope), the
stateful ones (verify.check_in_context), then contained application and the
insert, one savepoint per change inside one transaction per batch. Changes
that wait for dependencies or authority go to the pending set and are judged
again as soon as what they wait for arrives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from pnyx.federation.docids import DocKind
from pnyx.federation.envelope import Envelope, VerifiedChange, check_envelope, decode_envelope
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.ledger import revocations_at
from pnyx.federation.verify import check_in_context

from .documents import DocumentCache
from .sqlite import Store

BATCH = 500


@dataclass
class IngestReport:
    """What happened to each envelope, counted; `rejected` keeps the reasons."""

    accepted: int = 0
    duplicate: int = 0
    dropped: int = 0  # the pending set was full: the sender will offer it again
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
        self.dropped += other.dropped
        self.rejected.extend(other.rejected)
        self.accepted_docs |= other.accepted_docs


class Ingestor:
    def __init__(self, store: Store, docs: DocumentCache) -> None:
        self.store = store
        self.docs = docs

    def ingest(self, envelopes: Iterable[Envelope]) -> IngestReport:
        """Verify and store envelopes, committing every BATCH of them."""
        report = IngestReport()
        batch: list[Envelope] = []
        for envelope in envelopes:
            batch.append(envelope)
            if len(batch) >= BATCH:
                report.merge(self._ingest_batch(batch))
                batch = []
        if batch:
            report.merge(self._ingest_batch(batch))
        return report

    def _ingest_batch(self, batch: list[Envelope]) -> IngestReport:
        report = IngestReport()
        try:
            with self.store.transaction():
                for envelope in batch:
                    self._ingest_one(envelope, report)
        except BaseException:
            self.docs.forget_all(report.accepted_docs)
            raise
        return report

    def _ingest_one(self, envelope: Envelope, report: IngestReport) -> None:
        try:
            vc = check_envelope(envelope)
        except Rejected as exc:
            report.rejected.append((exc.reason.value, exc.detail))
            return
        # First in, first judged: changes released together are judged in the order they
        # arrived, so that of two equivocating changes the first to arrive is kept.
        queue = deque([vc])
        while queue:
            self._judge(queue.popleft(), report, queue)

    def _judge(self, vc: VerifiedChange, report: IngestReport, queue: deque[VerifiedChange]) -> None:
        if self.store.holds(vc.change.hash):
            report.duplicate += 1
            return
        try:
            wait = check_in_context(vc, self.store, self.docs)
            if wait is None:
                self.docs.apply_verified(vc.envelope.doc_id, vc.change.raw, vc.change.hash)
        except Rejected as exc:
            if exc.reason is Reason.EQUIVOCATION:
                self._keep_evidence(vc, exc)
            report.rejected.append((exc.reason.value, exc.detail))
            return
        if wait is not None:
            if self.store.add_pending(vc, wait.missing, wait.awaiting_doc):
                report.parked.add(vc.change.hash)
            else:
                report.dropped += 1
            return
        self._store_applied(vc, report)
        for released in self.store.release_pending(vc.change.hash, vc.envelope.doc_id):
            waiting = check_envelope(decode_envelope(released))
            report.parked.discard(waiting.change.hash)
            report.released.add(waiting.change.hash)
            queue.append(waiting)

    def _keep_evidence(self, vc: VerifiedChange, exc: Rejected) -> None:
        """Equivocation: the change kept and the one refused are both kept as evidence."""
        change = vc.change
        kept_hash = self.store.hash_at(vc.envelope.doc_id, change.actor, change.seq)
        kept = None if kept_hash is None else self.store.envelope(kept_hash)
        if kept is not None:
            assert kept_hash is not None
            self.store.add_evidence(kept, kept_hash, exc.reason.value,
                                    f"kept; {change.hash.hex()} has the same actor and seq")
        self.store.add_evidence(vc.envelope, change.hash, exc.reason.value, exc.detail)

    def _store_applied(self, vc: VerifiedChange, report: IngestReport) -> None:
        try:
            seqno = self.store.insert_change(vc)
        except BaseException:
            self.docs.forget(vc.envelope.doc_id)
            raise
        self.docs.mark_stored(vc.envelope.doc_id, seqno)
        change = vc.change
        if vc.doc.kind is DocKind.LEDGER and self.docs.note_ledger_change(change.hash, change.raw,
                                                                          change.deps):
            assert vc.doc.assembly is not None
            doc = self.docs.get(vc.envelope.doc_id)
            for device, cut in revocations_at(doc, vc.doc.assembly, [change.hash]):
                self.store.add_revocation(vc.doc.assembly, device, cut)
        report.accepted += 1
        report.accepted_docs.add(vc.envelope.doc_id)

    def record_local(self, vc: VerifiedChange) -> None:
        """Store a change this process made on the cached document itself.

        It passes the same checks as any received change; failing them is a bug
        here, so the cached document is dropped and the error propagates."""
        try:
            wait = check_in_context(vc, self.store, self.docs)
            if wait is not None:
                raise Rejected(Reason.MALFORMED_CHANGE, "a local change cannot wait")
        except BaseException:
            self.docs.forget(vc.envelope.doc_id)
            raise
        report = IngestReport()
        self._store_applied(vc, report)
