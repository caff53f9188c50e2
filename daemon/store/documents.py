"""Automerge documents materialized from the store, and contained application.

A document is loaded from its latest snapshot plus the newer changes, and
caught up from the store on every access, so that a CLI process and the
daemon writing the same store see each other's changes. Applying a verified
change goes through a hand-built sync message (the binding has no
apply_changes); if Automerge does not end up holding the change, the cached
document is thrown away and rebuilt from the store, which was never touched,
unless Automerge refused it silently and the document's heads did not move.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from automerge.core import Document, Message, SyncState
from pnyx.federation.amvalues import Plain, read_entry
from pnyx.federation.chunk import encode_uleb
from pnyx.federation.docids import ledger_id
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.keys import key_text

from .sqlite import Store

SNAPSHOT_EVERY = 2_000
SYNC_MESSAGE_V1 = 0x42
APPLY_BATCH = 1_000


def automerge_failed(exc: BaseException) -> bool:
    """Whether `exc` is Automerge refusing input: an ordinary exception, or the Rust panic
    that pyo3 raises as PanicException, which derives from BaseException, not Exception."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def apply_chunks(doc: Document, chunks: Sequence[bytes]) -> None:
    """Hand canonical change chunks to Automerge as a v1 sync message with no heads."""
    if not chunks:
        return
    body = [bytes([SYNC_MESSAGE_V1]), encode_uleb(0), encode_uleb(0), encode_uleb(0),
            encode_uleb(len(chunks))]
    for chunk in chunks:
        body.append(encode_uleb(len(chunk)))
        body.append(chunk)
    doc.receive_sync_message(SyncState(), Message.decode(b"".join(body)))


def loads_back(data: bytes, heads: Sequence[bytes]) -> bool:
    """Whether a saved document loads again with these heads. A validly signed change whose
    op columns are not canonically encoded is applied by Automerge, but a document holding
    it saves into bytes that do not load ("mismatching heads"); such a document is always
    rebuilt from the store's changes instead of a snapshot."""
    try:
        return sorted(Document.load(data).get_heads()) == sorted(heads)
    except BaseException as exc:
        if not automerge_failed(exc):
            raise
        return False


class DocumentCache:
    """Materialized documents by id, each with the last store seqno it includes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._docs: dict[str, tuple[Document, int]] = {}
        self._since_snapshot: dict[str, int] = {}
        # Documents may hold changes of a transaction that was rolled back (a COMMIT on a full
        # disk): reads must never show what was not stored, so all are rebuilt from the store.
        store.abort_hooks.append(self._docs.clear)

    def get(self, doc_id: str) -> Document:
        """The document with every change the store holds for it."""
        cached = self._docs.get(doc_id)
        if cached is None:
            doc, upto = self._load(doc_id)
        else:
            doc, upto = cached
        upto = self._catch_up(doc_id, doc, upto)
        self._docs[doc_id] = (doc, upto)
        return doc

    def _load(self, doc_id: str) -> tuple[Document, int]:
        snapshot = self.store.snapshot(doc_id)
        if snapshot is not None:
            try:
                return Document.load(snapshot[1]), snapshot[0]
            except BaseException as exc:  # a bad snapshot is only a cache: rebuild from changes
                if not automerge_failed(exc):
                    raise
        return Document(), 0

    def _catch_up(self, doc_id: str, doc: Document, upto: int) -> int:
        batch: list[bytes] = []
        for seqno, chunk in self.store.changes_of(doc_id, upto):
            batch.append(chunk)
            upto = seqno
            if len(batch) >= APPLY_BATCH:
                apply_chunks(doc, batch)
                self._count(doc_id, len(batch))
                batch = []
        apply_chunks(doc, batch)
        self._count(doc_id, len(batch))
        return upto

    def _count(self, doc_id: str, applied: int) -> None:
        self._since_snapshot[doc_id] = self._since_snapshot.get(doc_id, 0) + applied

    def apply_verified(self, doc_id: str, chunk: bytes, change_hash: bytes) -> None:
        """Apply one verified change to the cached document; Rejected if Automerge refuses.

        The caller stores the change afterwards and reports its seqno with `mark_stored`."""
        doc = self.get(doc_id)
        before = doc.get_heads()
        try:
            apply_chunks(doc, [chunk])
            heads = doc.get_heads()
        except BaseException as exc:  # the binding may raise anything, even panics
            self.forget(doc_id)
            if not automerge_failed(exc):
                raise
            raise Rejected(Reason.APPLY_FAILED, f"automerge refused it: {type(exc).__name__}") from None
        if change_hash not in heads:
            # Refused without a word: a document whose heads did not move holds nothing new and
            # is kept, so a push of such changes does not rebuild the document for each one.
            if sorted(heads) != sorted(before):
                self.forget(doc_id)
            raise Rejected(Reason.APPLY_FAILED, "automerge did not take the change")

    def mark_stored(self, doc_id: str, seqno: int) -> None:
        """A change already in the cached document has been stored at `seqno`."""
        doc, _ = self._docs[doc_id]
        self._docs[doc_id] = (doc, seqno)
        self._count(doc_id, 1)

    def forget(self, doc_id: str) -> None:
        self._docs.pop(doc_id, None)

    def forget_all(self, doc_ids: Iterable[str]) -> None:
        for doc_id in doc_ids:
            self.forget(doc_id)

    def snapshot_due(self) -> None:
        """Write snapshots of documents that gained many changes since their last one."""
        for doc_id, count in list(self._since_snapshot.items()):
            if count >= SNAPSHOT_EVERY and doc_id in self._docs:
                doc, upto = self._docs[doc_id]
                data = doc.save()
                if loads_back(data, doc.get_heads()):
                    self.store.save_snapshot(doc_id, upto, data)
                self._since_snapshot[doc_id] = 0

    # --- authority records (federation.verify.AuthorityRecords) ------------------------

    def device_entry(self, assembly: bytes, device: bytes, heads: Sequence[bytes] | None) -> Plain:
        doc = self.get(ledger_id(assembly))
        if heads is not None and not heads:
            return None
        return read_entry(doc, "devices", key_text(device), list(heads) if heads else None)

    def revocation_cuts(self, assembly: bytes, device: bytes) -> list[dict[str, int]]:
        return self.store.revocation_cuts(assembly, device)

    def mandate_entry(self, assembly: bytes, mandate: str) -> Plain:
        return read_entry(self.get(ledger_id(assembly)), "mandates", mandate)
