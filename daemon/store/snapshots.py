"""Snapshots of documents: when one is due, where it is stored, and how a bad one is found out.

A document is loaded from its latest snapshot plus the changes stored after it, so a snapshot
is only a cache of the store, which always holds every change.

When: a snapshot is renewed once the changes after it are at least SNAPSHOT_EVERY and a
SNAPSHOT_SHARE-th of all the document's changes; saving costs in proportion to the whole
document, so the cost per change stays bounded however large it grows. Saves are made when a
daemon is idle, when a process closes its store (DocumentCache.save_snapshots), and when the
document cache lets a document go past its bound during a long ingest, at once. Automerge
1.0.0rc1 holds the GIL in save (a thread spinning meanwhile gets 10% of its rate): a worker
thread that saved let-go documents deferred each save but overlapped almost none of it, and
held the document beside the cache meanwhile, so there is none.

Checked when loaded, not when saved. Automerge's load rebuilds every change from the saved
columns and refuses bytes whose rebuilt heads are not the heads the save wrote ("mismatching
heads"), so a snapshot that loads holds exactly what its document held. One that does not: a
validly signed change whose op columns are not canonically encoded is applied by Automerge,
but a document holding it saves into bytes that do not load. Such a snapshot is found out at
its first load, the document is rebuilt from its stored changes instead, and this process does
not try that snapshot again; it is renewed (and found out again) only once as many changes came
after it as for any snapshot. Loading every save back to check it cost more than the save
itself (a 5,000-change ledger: save 20 ms, load 33 ms; 8-9 us a change of a catch-up past the
cache bound).

Where: a save made inside a write transaction is stored in it at once, so that a transaction
(or a batch's savepoint) taken back takes the snapshot back with the changes it holds, and
kill -9 leaves both or neither. One made outside (a read that lets documents go) holds only
committed changes; it is kept until the next write transaction or `store_taken`, so that a read
never waits for another process's lock, and the oldest go past UNSTORED_BYTES (a long read of a
large store must not hold every snapshot it took).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from automerge.core import Document

from .sqlite import Store

SNAPSHOT_EVERY = 2_000  # changes after a snapshot before it is renewed, at least ...
SNAPSHOT_SHARE = 4  # ... and at least a quarter of the document's changes
UNSTORED_BYTES = 16 << 20  # snapshots taken on reads, held for the next write; the oldest go past it


def automerge_failed(exc: BaseException) -> bool:
    """Whether `exc` is Automerge refusing input: an ordinary exception, or the Rust panic
    that pyo3 raises as PanicException, which derives from BaseException, not Exception."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


@dataclass(frozen=True)
class Saved:
    """A document's snapshot as of arrival number `upto`, not stored yet."""

    doc_id: str
    upto: int
    data: bytes


class Snapshots:
    """The store's snapshots of documents, as the document cache loads and takes them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.unstored: list[Saved] = []  # taken outside a write transaction, stored later
        self._unloadable: dict[str, int] = {}  # document -> `upto` of its snapshot that did not load

    def load(self, doc_id: str) -> tuple[Document, int]:
        """The document as of its snapshot and the arrival number it includes; an empty
        document and 0 if it has none, or one that does not load."""
        snapshot = self.store.snapshot(doc_id)
        if snapshot is not None and self._unloadable.get(doc_id) != snapshot[0]:
            try:
                return Document.load(snapshot[1]), snapshot[0]
            except BaseException as exc:
                if not automerge_failed(exc):
                    raise
                self._unloadable[doc_id] = snapshot[0]
        return Document(), 0

    def due(self, doc_id: str) -> bool:
        """Whether the changes newer than the document's snapshot are at least SNAPSHOT_EVERY
        and 1/SNAPSHOT_SHARE of all its changes."""
        newer, total = self.store.count_changes_of(doc_id, self.store.snapshot_upto(doc_id))
        return newer >= max(SNAPSHOT_EVERY, total // SNAPSHOT_SHARE)

    def take(self, doc_id: str, upto: int, doc: Document) -> bool:
        """Save `doc`, which holds the document's changes up to arrival number `upto`: stored at
        once inside a write transaction, else kept for `store_taken`. False if it could not
        be stored (another process holds the store, or the disk refused it): only a cache."""
        saved = Saved(doc_id, upto, doc.save())
        if self.store.writing:
            return self._store(saved)
        unstored = self.unstored
        unstored.append(saved)
        while sum(len(held.data) for held in unstored) > UNSTORED_BYTES:
            del unstored[0]  # a long read of a large store holds no more than the bound
        return True

    def store_taken(self) -> bool:
        """Store the snapshots taken outside a write transaction; False if another process
        holds the store (those not stored are let go)."""
        taken, self.unstored = self.unstored, []
        return all(self._store(saved) for saved in taken)  # stops at the first not stored

    def _store(self, saved: Saved) -> bool:
        if saved.upto <= self.store.snapshot_upto(saved.doc_id):
            return True  # a newer snapshot is stored already
        try:
            self.store.save_snapshot(saved.doc_id, saved.upto, saved.data)
        except sqlite3.OperationalError:
            return False
        return True
