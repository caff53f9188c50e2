"""A store in memory that implements `sync.Holdings`, for simulating many daemons in one process.

It keeps what daemon/store/ keeps for sync (changes in arrival order, heads,
vectors, the digest tree, a bounded pending set) and checks every change the
way ingest does, through `envelope.check_envelope` and
`verify.check_in_context` (write rules included), except that it keeps no
device certificates or mandates: the only writers it admits are an assembly
key writing its own ledger and a charter's; a device's change is refused and
a mandate log's waits, so the store never holds what a daemon would refuse.
Everything is per instance: nodes in one process share nothing.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from automerge.core import ROOT, Document

from .amvalues import Plain
from .chunk import parse_change
from .envelope import Envelope, VerifiedChange, check_envelope
from .errors import Rejected
from .ops import OpId
from .sync import Batch, Row, take_batch
from .synctree import DigestTree, doc_digest
from .verify import HeldChange, Wait, check_in_context
from .writerules import Path, resolve_path

MAX_PENDING = 10_000


@dataclass
class MemoryReport:
    """What one ingest did, with the fields `syncpeer.pushed_reply` reads."""

    accepted: int = 0
    duplicate: int = 0
    deferred: int = 0  # no room in the pending set
    rejected: list[tuple[str, str]] = field(default_factory=list)
    parked: int = 0
    new: list[Envelope] = field(default_factory=list)  # accepted, in the order stored

    @property
    def pending(self) -> int:
        return self.parked


class MemoryStore:
    """Verified changes in arrival order (seqno = position + 1), and what sync reads of them."""

    def __init__(self) -> None:
        self._rows: list[tuple[Envelope, HeldChange]] = []
        self._by_hash: dict[bytes, int] = {}  # hash -> seqno
        self._by_doc: dict[str, list[int]] = {}  # doc -> seqnos, ascending
        self._at: dict[tuple[str, bytes, int], bytes] = {}  # (doc, actor, seq) -> hash
        self._vectors: dict[str, dict[bytes, int]] = {}
        self._heads: dict[str, set[bytes]] = {}
        self._tree = DigestTree()
        self._pending: dict[bytes, VerifiedChange] = {}
        self._first: dict[str, bytes] = {}  # doc -> its change without deps
        self._hashes: list[bytes] = []  # by seqno - 1
        self._vouch: dict[bytes, bytes] = {}  # vouched change -> its voucher's hash
        self._vouchers: dict[bytes, Envelope] = {}  # voucher hash -> its envelope

    def copy(self) -> MemoryStore:
        """An independent store holding the same verified changes, as a daemon restored from
        another's data directory would (the envelopes themselves are immutable and shared)."""
        other = MemoryStore()
        other._rows = list(self._rows)
        other._by_hash = dict(self._by_hash)
        other._by_doc = {doc: list(s) for doc, s in self._by_doc.items()}
        other._at = dict(self._at)
        other._vectors = {doc: dict(v) for doc, v in self._vectors.items()}
        other._heads = {doc: set(h) for doc, h in self._heads.items()}
        other._tree = self._tree.copy()
        other._pending = dict(self._pending)
        other._first = dict(self._first)
        other._hashes = list(self._hashes)
        other._vouch = dict(self._vouch)
        other._vouchers = dict(self._vouchers)
        return other

    # --- sync.Holdings ---------------------------------------------------------------------

    def tree(self) -> DigestTree:
        return self._tree

    def vector(self, doc_id: str) -> dict[bytes, int]:
        return dict(self._vectors.get(doc_id, {}))

    def changes_after(self, wants: Mapping[str, Mapping[bytes, int]], cursor: int, limit: int,
                      max_bytes: int) -> Batch:
        seqnos = sorted(s for doc in wants for s in self._after(doc, cursor))
        rows = (self._row(seqno) for seqno in seqnos)
        batch = take_batch(rows, wants, cursor, limit, max_bytes, self._vouchers.get)
        if batch.more or not seqnos:
            return batch
        return Batch(batch.envelopes, max(batch.cursor, seqnos[-1]), False)

    def _row(self, seqno: int) -> Row:
        envelope, held = self._rows[seqno - 1]
        h = self._hashes[seqno - 1]
        return Row(seqno, envelope, held.actor, held.seq, h, self._vouch.get(h))

    def _after(self, doc: str, cursor: int) -> list[int]:
        seqnos = self._by_doc.get(doc, [])
        return seqnos[bisect.bisect_right(seqnos, cursor):]

    # --- verify.ChangeIndex ----------------------------------------------------------------

    def lookup(self, change_hash: bytes) -> HeldChange | None:
        seqno = self._by_hash.get(change_hash)
        return None if seqno is None else self._rows[seqno - 1][1]

    def hash_at(self, doc_id: str, actor: bytes, seq: int) -> bytes | None:
        return self._at.get((doc_id, actor, seq))

    # --- verify.AuthorityRecords, from the changes alone ---------------------------------------

    def device_entry(self, assembly: bytes, device: bytes, heads: Sequence[bytes] | None) -> Plain:
        return None  # no document is materialized: only the assembly key itself writes a ledger

    def mandate_entry(self, assembly: bytes, mandate: str) -> Plain:
        return None  # so a mandate log's changes wait

    def object_path(self, doc_id: str, obj: OpId) -> Path | None:
        return resolve_path(doc_id, obj, self._chunk_with_op)

    def _chunk_with_op(self, doc_id: str, op: OpId) -> bytes | None:
        for seqno in self._by_doc.get(doc_id, []):
            envelope, held = self._rows[seqno - 1]
            if held.actor == op.actor and held.max_op >= op.counter:
                return envelope.change if parse_change(envelope.change).start_op <= op.counter else None
        return None

    def has_entry(self, doc_id: str, path: Path, key: str, heads: Sequence[bytes]) -> bool:
        """Read from the document rebuilt from its changes: slow, and fine for a simulation."""
        doc = Document.load(b"".join(self._rows[s - 1][0].change for s in self._by_doc.get(doc_id, [])))
        obj = ROOT
        for segment in path:
            found = doc.get(obj, segment, list(heads))
            if found is None:
                return False
            obj = found[1]
        return doc.get(obj, key, list(heads)) is not None

    def first_change(self, doc_id: str) -> bytes | None:
        return self._first.get(doc_id)

    # --- ingest ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._rows)

    def holds(self, change_hash: bytes) -> bool:
        return change_hash in self._by_hash

    def envelopes(self) -> list[Envelope]:
        return [e for e, _ in self._rows]

    def ingest(self, envelopes: Iterable[Envelope]) -> MemoryReport:
        """Verify and store; a change that cannot be judged yet waits in the pending set."""
        report = MemoryReport()
        for envelope in envelopes:
            try:
                vc = check_envelope(envelope)
            except Rejected as exc:
                report.rejected.append((exc.reason.value, exc.detail))
                continue
            if vc.change.hash in self._by_hash or vc.change.hash in self._pending:
                report.duplicate += 1
                continue
            self._judge(vc, report)
        report.parked = len(self._pending)
        return report

    def _judge(self, vc: VerifiedChange, report: MemoryReport) -> None:
        try:
            wait = check_in_context(vc, self, self)
        except Rejected as exc:
            report.rejected.append((exc.reason.value, exc.detail))
            return
        voucher = vc.envelope.voucher
        if voucher is not None and vc.vouch is not None:
            self._vouchers[vc.vouch] = voucher.envelope
        if isinstance(wait, Wait):
            if len(self._pending) >= MAX_PENDING:
                report.deferred += 1
            else:
                self._pending[vc.change.hash] = vc
            return
        self._insert(vc)
        report.accepted += 1
        report.new.append(vc.envelope)  # a vouched one with its voucher: a push carries both
        for waiting in [p for p in self._pending.values() if vc.change.hash in p.change.deps]:
            del self._pending[waiting.change.hash]
            self._judge(waiting, report)

    def _insert(self, vc: VerifiedChange) -> None:
        c, doc = vc.change, vc.envelope.doc_id
        stored = Envelope(doc, c.raw, vc.envelope.signer, vc.envelope.signature)  # no voucher kept
        self._rows.append((stored, HeldChange(doc, c.actor, c.seq, c.max_op, c.deps)))
        self._hashes.append(c.hash)
        if vc.vouch is not None:
            self._vouch[c.hash] = vc.vouch
        seqno = len(self._rows)
        self._by_hash[c.hash] = seqno
        self._by_doc.setdefault(doc, []).append(seqno)
        self._at[(doc, c.actor, c.seq)] = c.hash
        vector = self._vectors.setdefault(doc, {})
        vector[c.actor] = max(vector.get(c.actor, 0), c.seq)
        if not c.deps:
            self._first.setdefault(doc, c.hash)
        heads = self._heads.setdefault(doc, set())
        heads.difference_update(c.deps)
        heads.add(c.hash)
        self._tree.set(doc, doc_digest(heads))
