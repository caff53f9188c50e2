"""Re-verification of a whole store, for `pnyx verify`.

First SQLite's own integrity check of the file, and the store mark
(daemon/store/mark.py): a store that lost records this data directory is
known to have held is reported. Then every stored envelope is replayed, in
arrival order and in the batches this daemon would serve (a change stored
without a signature travels with the change that vouched for it, as in a
pack), through the ingest pipeline into an empty in-memory store, which keeps
no index of records (nobody reads it): a change that was stored but would not
be accepted again (a bit flipped on disk, a bug fixed since) is reported, and
every document must load from scratch. Last, the refused halves of the evidence kept
are refused again there, as they travel (a vouched one with its chain and voucher): the
scratch store must then keep exactly the evidence this one keeps, so that a row that the
rules would not keep (a key flagged by a forged or damaged row) fails too.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pnyx.federation.changepack import canonical_piece, received
from pnyx.federation.envelope import Envelope

from .documents import DocumentCache
from .holdings import StoreHoldings
from .ingest import Ingestor
from .mark import lost_records
from .sqlite import Store

MAX_INTEGRITY_PROBLEMS = 20


@dataclass
class AuditReport:
    changes: int
    documents: int
    verified: int
    failed: int
    pending: int
    evidence: int
    problems: list[str] = field(default_factory=list)
    damaged: bool = False  # the file failed SQLite's integrity check or could not be read
    lost: str | None = None  # records this data directory held that the store no longer has

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.verified == self.changes and not self.damaged \
            and self.lost is None


def integrity(store: Store) -> list[str]:
    """SQLite's own check of every page and index; empty if the file is sound."""
    rows = [str(r[0]) for r in store.db.execute(
        f"PRAGMA integrity_check({MAX_INTEGRITY_PROBLEMS})")]
    return [] if rows == ["ok"] else [f"the store file is damaged: {r}" for r in rows]


def replayed(store: Store) -> Iterator[Envelope]:
    """Every stored change as a receiver of this store's packs would get it: each batch's
    vouched changes given their voucher by the pack's own rule (changepack.received, what
    unpacking the batch's pack gives, found without building it), on hashes recomputed from
    the stored chunks. A stored chunk a pack cannot carry as it is (a damaged header or
    checksum) goes as it is stored, to be refused for what is wrong."""
    wants = {doc: dict.fromkeys(vector, 0) for doc, vector in store.vectors()}
    for batch in StoreHoldings(store).batches(wants, evidence=False):
        yield from _as_received(batch)


def _as_received(batch: list[Envelope]) -> Iterator[Envelope]:
    pieces = []
    for e in batch:
        piece = canonical_piece(e)
        if piece is None:
            yield e
        else:
            pieces.append(piece)
    yield from received(pieces)


def unproven_evidence(store: Store, replay: Ingestor) -> list[str]:
    """The evidence `store` keeps that the store `replay` ingests into (every held change
    replayed there) does not keep once it has refused the refused halves itself, each as it
    travels."""
    replay.ingest(e for piece in store.refused_evidence(limit=sys.maxsize) for e in _as_received(piece))
    kept = replay.store.evidence_hashes()
    return [f"evidence that the rules do not keep again: {h.hex()} in {doc}"
            for doc, hashes in store.evidence_hashes().items()
            for h in sorted(set(hashes) - set(kept.get(doc, ())))]


def reverify(store: Store, data: Path | None = None) -> AuditReport:
    """Check the store of the data directory `data` (None: no mark to compare with)."""
    try:
        damage = integrity(store)
    except sqlite3.DatabaseError as exc:
        damage = [f"the store file is damaged: {exc}"]
    lost = None if data is None else lost_records(data, store)
    scratch = Store(":memory:")
    try:
        replay = Ingestor(scratch, DocumentCache(scratch), index=False)
        ingest = replay.ingest(replayed(store))
        problems = damage + ([lost] if lost else [])
        problems += [f"{reason}: {detail}" for reason, detail in ingest.rejected]
        if ingest.pending:
            problems.append(f"{ingest.pending} stored changes lack a stored dependency")
        unproven = unproven_evidence(store, replay)
        problems += unproven
        return AuditReport(
            changes=store.count_changes(), documents=len(store.documents()),
            verified=ingest.accepted, failed=len(ingest.rejected) + ingest.pending + len(unproven),
            pending=store.pending.count(), evidence=len(store.evidence()), problems=problems,
            damaged=bool(damage), lost=lost)
    except sqlite3.DatabaseError as exc:
        return AuditReport(changes=0, documents=0, verified=0, failed=0, pending=0, evidence=0,
                           problems=[*damage, f"the store could not be read to the end: {exc}"],
                           damaged=True, lost=lost)
    finally:
        scratch.close()
