"""Whether heads reach a change: asked of the store's table of changes, without loading
the document.

A change is stored only once every change it depends on is (ingest holds the others
pending), so the store's seqno orders every change after its ancestors: walking back
from some heads toward a change, a change stored before it cannot lead to it. A walk
visits only changes stored after its target, in the target's document.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterable

from .sqlite import ChangeAt, split_hashes


def reaches(db: sqlite3.Connection, doc_id: str, heads: Iterable[bytes], target: ChangeAt) -> bool:
    """Whether `target` is one of `heads` or among their ancestors; heads not held in
    `doc_id` are left out."""
    frontier: list[tuple[int, bytes, bytes]] = []  # (-seqno, hash, deps), the latest stored first
    seen: set[bytes] = set()

    def visit(changes: Iterable[bytes]) -> None:
        for change in changes:
            row = None if change in seen else db.execute(
                "SELECT seqno, deps FROM changes WHERE hash = ? AND doc = ?", (change, doc_id)).fetchone()
            seen.add(change)
            if row is not None and row[0] >= target.seqno:  # one stored before cannot lead to it
                heapq.heappush(frontier, (-int(row[0]), change, bytes(row[1])))

    visit(heads)
    while frontier:
        _, change, deps = heapq.heappop(frontier)
        if change == target.hash:
            return True
        visit(split_hashes(deps))
    return False
