"""A store in memory that implements `sync.Holdings`, for simulating many daemons in one process.

It keeps what daemon/store/ keeps for sync (changes in arrival order, heads,
vectors, the digest tree, a bounded pending set) and checks every change the
way ingest does, through `envelope.check_envelope` and
`verify.check_in_context` (write rules included), except that it keeps no
device certificates or mandates: the only writers it admits are an assembly
key writing its own ledger and a charter's; a device's change is refused and
a mandate log's waits, so the store never holds what a daemon would refuse.
Nodes in one process share nothing they can change: `fork` starts a node
from another's holdings by layering its own maps over the other's, which
must not change afterwards (many simulated daemons holding the same
documents cost the memory of one, plus what each learns later).
"""

from __future__ import annotations

import bisect
from collections import ChainMap
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field

from automerge.core import ROOT, Document

from .amvalues import Plain
from .chunk import parse_change
from .envelope import Envelope, VerifiedChange, check_envelope
from .errors import Rejected
from .ops import OpId
from .sync import Batch, Row, take_batch
from .syncscope import Founders, ScopedTrees, founders
from .synctree import doc_digest
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

    def __init__(self, follow: Iterable[bytes] | None = None) -> None:
        self._base: MemoryStore | None = None  # rows 1.._offset are the base's
        self._offset = 0
        self._frozen = False  # forked: its maps are shared and must not change
        self._rows: list[tuple[Envelope, HeldChange]] = []
        # Values in these maps are replaced, never changed in place, so a fork can share them.
        self._by_hash: MutableMapping[bytes, int] = {}  # hash -> seqno
        self._by_doc: MutableMapping[str, list[int]] = {}  # doc -> seqnos, ascending
        self._at: MutableMapping[tuple[str, bytes, int], bytes] = {}  # (doc, actor, seq) -> hash
        self._vectors: MutableMapping[str, dict[bytes, int]] = {}
        self._heads: MutableMapping[str, frozenset[bytes]] = {}
        self._trees = ScopedTrees(follow, self._founders)
        self._pending: dict[bytes, VerifiedChange] = {}
        self._first: MutableMapping[str, bytes] = {}  # doc -> its change without deps
        self._vouch: MutableMapping[bytes, bytes] = {}  # vouched change -> its voucher's hash
        self._vouchers: MutableMapping[bytes, Envelope] = {}  # voucher hash -> its envelope

    def fork(self) -> MemoryStore:
        """A store holding the same verified changes, as a daemon restored from another's data
        directory would, sharing this one's maps (this one must not change afterwards)."""
        self._frozen = True
        other = MemoryStore(self._trees.follow)
        other._base, other._offset = self, len(self)
        other._by_hash = ChainMap({}, self._by_hash)
        other._by_doc = ChainMap({}, self._by_doc)
        other._at = ChainMap({}, self._at)
        other._vectors = ChainMap({}, self._vectors)
        other._heads = ChainMap({}, self._heads)
        other._trees = self._trees.fork(other._founders)
        other._pending = dict(self._pending)
        other._first = ChainMap({}, self._first)
        other._vouch = ChainMap({}, self._vouch)
        other._vouchers = ChainMap({}, self._vouchers)
        return other

    def _stored(self, seqno: int) -> tuple[Envelope, HeldChange]:
        if seqno <= self._offset:
            assert self._base is not None
            return self._base._stored(seqno)
        return self._rows[seqno - self._offset - 1]

    # --- sync.Holdings ---------------------------------------------------------------------

    def trees(self) -> ScopedTrees:
        return self._trees

    def _founders(self, charter: bytes) -> Founders | None:
        first = self._first.get(f"charter/{charter.hex()}")
        return None if first is None else founders(charter, self._stored(self._by_hash[first])[0].change)

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
        envelope, held = self._stored(seqno)
        h = self._at[(held.doc_id, held.actor, held.seq)]
        return Row(seqno, envelope, held.actor, held.seq, h, self._vouch.get(h))

    def _after(self, doc: str, cursor: int) -> list[int]:
        seqnos = self._by_doc.get(doc, [])
        return seqnos[bisect.bisect_right(seqnos, cursor):]

    # --- verify.ChangeIndex ----------------------------------------------------------------

    def lookup(self, change_hash: bytes) -> HeldChange | None:
        seqno = self._by_hash.get(change_hash)
        return None if seqno is None else self._stored(seqno)[1]

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
            envelope, held = self._stored(seqno)
            if held.actor == op.actor and held.max_op >= op.counter:
                return envelope.change if parse_change(envelope.change).start_op <= op.counter else None
        return None

    def has_entry(self, doc_id: str, path: Path, key: str, heads: Sequence[bytes]) -> bool:
        """Read from the document rebuilt from its changes: slow, and fine for a simulation."""
        doc = Document.load(b"".join(self._stored(s)[0].change for s in self._by_doc.get(doc_id, [])))
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
        return self._offset + len(self._rows)

    def holds(self, change_hash: bytes) -> bool:
        return change_hash in self._by_hash

    def envelopes(self) -> list[Envelope]:
        return [self._stored(s)[0] for s in range(1, len(self) + 1)]

    def ingest(self, envelopes: Iterable[Envelope]) -> MemoryReport:
        """Verify and store; a change that cannot be judged yet waits in the pending set."""
        if self._frozen:
            raise RuntimeError("a forked store's base must not change")
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
            verdict = check_in_context(vc, self, self)
        except Rejected as exc:
            report.rejected.append((exc.reason.value, exc.detail))
            return
        voucher = vc.envelope.voucher
        if voucher is not None and vc.vouch is not None:
            self._vouchers[vc.vouch] = voucher.envelope
        if isinstance(verdict, Wait):
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
        if vc.vouch is not None:
            self._vouch[c.hash] = vc.vouch
        seqno = len(self)
        self._by_hash[c.hash] = seqno
        self._by_doc[doc] = [*self._by_doc.get(doc, ()), seqno]
        self._at[(doc, c.actor, c.seq)] = c.hash
        vector = self._vectors.get(doc, {})
        self._vectors[doc] = vector | {c.actor: max(vector.get(c.actor, 0), c.seq)}
        if not c.deps and doc not in self._first:
            self._first[doc] = c.hash
        heads = (self._heads.get(doc, frozenset()) - set(c.deps)) | {c.hash}
        self._heads[doc] = heads
        self._trees.set(doc, doc_digest(heads))
