"""The store seen through federation.sync.Holdings: the digest tree, vectors and batches of changes.

The digest tree (federation/synctree.py) is built once per process from the
heads table, then kept up to date incrementally: when the store's last
arrival number has moved, only the documents that gained changes since are
re-read (their heads) and set in the tree, O(log D) each. An idle exchange
costs one indexed query. Batches are read in arrival order, which is an order
in which every change comes after its dependencies: a receiver can store each
batch as it comes, with nothing left waiting. A read starts at the first change
asked for, found by index: pulling the newest change of a long ledger reads that
change, not the ledger.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping

from pnyx.federation.bundle import HeldState
from pnyx.federation.docids import charter_doc_id
from pnyx.federation.envelope import Envelope
from pnyx.federation.sync import BATCH_BYTES, BATCH_ENVELOPES, Batch, Row, take_batch
from pnyx.federation.syncscope import Founders, ScopedTrees, founders
from pnyx.federation.synctree import doc_digest

from .sqlite import Store

MAX_IN_LIST = 500  # documents named in one SQL statement
MERGED_DOCS = 32  # up to this many, one indexed read per document (measured: 10 µs each)


class StoreHoldings:
    """`follow`: the confederations (charter hashes) this daemon reconciles (`pnyx run
    --follow`); None: every document it holds."""

    def __init__(self, store: Store, follow: tuple[bytes, ...] | None = None) -> None:
        self.store = store
        self.follow = follow
        self._tree: ScopedTrees | None = None
        self._seen = (0, 0)  # the arrival number and evidence count the tree reflects
        self._held: set[str] = set()  # the documents held, read again when their count grows
        self._every: tuple[Mapping[str, object], int] | None = None  # wants naming all of them

    def _founders(self, charter: bytes) -> Founders | None:
        row = self.store.db.execute("SELECT change FROM changes WHERE doc = ? ORDER BY seqno LIMIT 1",
                                    (charter_doc_id(charter),)).fetchone()
        return None if row is None else founders(charter, bytes(row[0]))

    def trees(self) -> ScopedTrees:
        seen = (self.store.last_seqno(), self.store.count_evidence())
        if self._tree is None:
            self._tree = ScopedTrees(self.follow, self._founders)
            heads: dict[str, list[bytes]] = {}
            for doc, h in self.store.heads():
                heads.setdefault(doc, []).append(h)
            evidence = self.store.evidence_hashes()
            for doc, hs in heads.items():
                self._tree.set(doc, doc_digest(hs, evidence.get(doc, ())))
        elif seen != self._seen:
            changed = set(self.store.documents_since(self._seen[0]))
            evidence = self.store.evidence_hashes() if seen[1] != self._seen[1] or changed else {}
            if seen[1] != self._seen[1]:
                changed |= set(evidence)
            for doc in changed:
                hs = [bytes(h) for (h,) in self.store.db.execute(
                    "SELECT hash FROM heads WHERE doc = ?", (doc,))]
                if hs:
                    self._tree.set(doc, doc_digest(hs, evidence.get(doc, ())))
        self._seen = seen
        return self._tree

    def vector(self, doc_id: str) -> dict[bytes, int]:
        return self.store.vector(doc_id)

    def state(self, device: bytes, assembly: bytes) -> HeldState:
        """What this store holds, as a state file and a bundle header carry it."""
        digest = self.trees().whole.root()
        vectors = tuple((doc, tuple(sorted(v.items()))) for doc, v in self.store.vectors())
        return HeldState(device, assembly, digest, vectors)

    def batches(self, wants: Mapping[str, Mapping[bytes, int]], cursor: int = 0,
                evidence: bool = True) -> Iterator[list[Envelope]]:
        """Every batch `changes_after` would send, in arrival order (each one a pack: its
        vouched changes are vouched for within it); `evidence` False leaves evidence out."""
        while True:
            batch = self.changes_after(wants, cursor, BATCH_ENVELOPES, BATCH_BYTES, evidence)
            yield batch.envelopes
            if not batch.more:
                return
            cursor = batch.cursor

    def changes_after(self, wants: Mapping[str, Mapping[bytes, int]], cursor: int, limit: int,
                      max_bytes: int, evidence: bool = True) -> Batch:
        first = self._first_wanted(wants)
        if first is None:
            batch = Batch([], cursor, False)
        else:
            batch = self._read(wants, max(cursor, first - 1), limit, max_bytes)
        if batch.more or not evidence:
            return batch
        # The last batch ends with the evidence of the documents asked for: the receiver
        # refuses each again and so keeps, and flags, the same evidence.
        out = batch.envelopes
        size = sum(len(e.change) + 100 for e in out)
        for piece in self.store.refused_evidence(wants):
            more = sum(len(e.change) + 100 for e in piece)
            if size + more > max_bytes:
                break
            out.extend(piece)
            size += more
        return Batch(out, batch.cursor, False)

    def _first_wanted(self, wants: Mapping[str, Mapping[bytes, int]]) -> int | None:
        """The arrival number of the first change `wants` asks for (None: none is held), so
        that a pull of the newest changes of a long document reads those, not the whole
        document: each actor's next change, found by index (an actor's changes arrive in seq
        order, each building on the one before). With more actors than MAX_IN_LIST, 0."""
        if len(wants) > MAX_IN_LIST:  # more actors than that, without listing them at each batch
            return 0
        pairs = [(doc, actor, seq) for doc, actors in wants.items() for actor, seq in actors.items()]
        if len(pairs) > MAX_IN_LIST:
            return 0
        firsts = [row[0] for row in (self.store.db.execute(
            "SELECT seqno FROM changes WHERE doc = ? AND actor = ? AND seq > ? ORDER BY seq LIMIT 1",
            pair).fetchone() for pair in pairs) if row is not None]
        return min(firsts, default=None)

    def _names_every_document(self, wants: Mapping[str, object]) -> bool:
        """Whether `wants` names every document held. Documents are never dropped, so the set
        is read again only when their count has grown, and the same wants (each batch of one
        read: `pnyx verify` names every document) are compared once: at every batch, reading
        and comparing 20,000 documents cost 17 ms a batch (measured). Wants are never changed
        once asked for."""
        count = self.store.count_documents()
        if len(wants) < count:
            return False
        if self._every is not None and self._every[0] is wants and self._every[1] == count:
            return True
        if len(self._held) != count:
            self._held = set(self.store.documents())
        every = wants.keys() >= self._held
        self._every = (wants, count) if every else None
        return every

    def _read(self, wants: Mapping[str, Mapping[bytes, int]], cursor: int, limit: int,
              max_bytes: int) -> Batch:
        """The wanted changes after `cursor`, in arrival order (federation.sync.take_batch)."""
        sql = ("SELECT seqno, doc, actor, seq, change, signer, signature, hash, vouch FROM changes"
               " WHERE seqno > ?")
        if len(wants) <= MERGED_DOCS:
            # One read per document, each in arrival order by the (doc, seqno) index, merged:
            # `doc IN (...) ORDER BY seqno` makes SQLite read and sort every wanted row after
            # the cursor for each batch, which made a push of 50k changes cost its sender 3 s.
            streams = [self.store.db.execute(sql + " AND doc = ? ORDER BY seqno", (cursor, doc))
                       for doc in wants]
        elif not self._names_every_document(wants):
            # At most MAX_IN_LIST documents a read, merged: a window of small documents may
            # name more, and a read of every row after the cursor, filtered here, made each
            # pull of a window scan from the window's first change to its end: a village
            # pulling 20,000 documents of 3 changes, 31 pulls, cost its peer 5.3 s (measured).
            docs = list(wants)
            streams = [self.store.db.execute(
                sql + f" AND doc IN ({','.join('?' * len(part))}) ORDER BY seqno", (cursor, *part))
                for part in (docs[at:at + MAX_IN_LIST] for at in range(0, len(docs), MAX_IN_LIST))]
        else:
            # Also when every document held is wanted (`pnyx verify`, a whole catch-up): then
            # `doc IN (...)` leaves nothing out, and would make SQLite sort every row after the
            # cursor for each batch (measured: reading 100 documents of 100 changes cost 41 µs
            # a change); read in arrival order, the read stops at the batch's end.
            streams = [self.store.db.execute(sql + " ORDER BY seqno", (cursor,))]
        rows = streams[0] if len(streams) == 1 else heapq.merge(*streams)
        try:  # closed when we stop early, so no read transaction stays open
            return take_batch((Row(seqno, Envelope(doc, bytes(change), bytes(signer), bytes(sig)),
                                   bytes(actor), seq, bytes(h), None if vouch is None else bytes(vouch))
                               for seqno, doc, actor, seq, change, signer, sig, h, vouch in rows),
                              wants, cursor, limit, max_bytes, self.store.voucher)
        finally:
            for stream in streams:
                stream.close()
