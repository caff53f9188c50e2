"""Whether heads reach a change: asked of the store's table of changes, without loading
the document.

A change is stored only once every change it depends on is (ingest holds the others
pending), so the store's seqno orders every change after its ancestors: a change descends
from the target if one of its deps is the target or descends from it, and one pass forward
in arrival order, from the target on, finds every descendant before any change that depends
on it. The pass visits only changes of the target's document stored after the target.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator

from .sqlite import BY_HASH, ChangeAt, split_hashes


class Descent:
    """The changes of one document that descend from `target` (it included), found by one pass
    forward, taken only as far as the heads asked about need. The acts of a mandate log each ask
    whether their heads reach the recall, and share the pass: a log read visits the changes
    stored since the recall once, whatever the number of its acts."""

    def __init__(self, db: sqlite3.Connection, doc_id: str, target: ChangeAt) -> None:
        self.db = db
        self.doc_id = doc_id
        self.target = target
        self.reached = {target.hash}
        self.upto = target.seqno  # the seqno the pass has reached

    def reaches(self, heads: Iterable[bytes]) -> bool:
        """Whether the target is one of `heads` or among their ancestors; heads not held in
        the document are left out."""
        held = {}
        for head in heads:  # +doc: found by its hash, not among every change of the document
            row = self.db.execute(f"SELECT seqno FROM changes WHERE {BY_HASH} AND +doc = ?",
                                  (head, self.doc_id)).fetchone()
            if row is not None and row[0] >= self.target.seqno:  # one stored before cannot lead to it
                held[head] = int(row[0])
        if not held:
            return False
        last = max(held.values())
        if last > self.upto:
            for change, deps in stored_between(self.db, self.doc_id, self.upto, last):
                if any(dep in self.reached for dep in split_hashes(deps)):
                    self.reached.add(change)
            self.upto = last
        return any(head in self.reached for head in held)


def stored_between(db: sqlite3.Connection, doc_id: str, after: int,
                   upto: int) -> Iterator[tuple[bytes, bytes]]:
    """(hash, deps) of the document's changes stored after seqno `after` up to `upto`, in order."""
    for change, deps in db.execute("SELECT hash, deps FROM changes WHERE doc = ? AND seqno > ?"
                                   " AND seqno <= ? ORDER BY seqno", (doc_id, after, upto)):
        yield bytes(change), bytes(deps)
