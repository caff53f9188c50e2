"""Re-verification of a whole store, for `pnyx verify`.

Every stored envelope is replayed, in arrival order, through the ingest
pipeline into an empty in-memory store: a change that was stored but would
not be accepted again (a bit flipped on disk, a bug fixed since) is reported,
and every document must load from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .documents import DocumentCache
from .ingest import Ingestor
from .sqlite import Store


@dataclass
class AuditReport:
    changes: int
    documents: int
    verified: int
    failed: int
    pending: int
    evidence: int
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.verified == self.changes


def reverify(store: Store) -> AuditReport:
    scratch = Store(":memory:")
    try:
        ingest = Ingestor(scratch, DocumentCache(scratch)).ingest(
            stored.envelope for stored in store.envelopes())
        problems = [f"{reason}: {detail}" for reason, detail in ingest.rejected]
        if ingest.pending:
            problems.append(f"{ingest.pending} stored changes lack a stored dependency")
        return AuditReport(
            changes=store.count_changes(), documents=len(store.documents()),
            verified=ingest.accepted, failed=len(ingest.rejected) + ingest.pending,
            pending=store.pending.count(), evidence=len(store.evidence()), problems=problems)
    finally:
        scratch.close()
