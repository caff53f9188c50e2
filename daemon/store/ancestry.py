"""Which stored change made an op, and whether heads reach a change: asked of the store's
table of changes, without loading the document.

A change is stored only once every change it depends on is (ingest holds the others
pending), so the store's seqno orders every change after its ancestors: walking back
from some heads toward a change, a change stored before it cannot lead to it. A walk
visits only changes stored after its target, in the target's document.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterable

from .sqlite import split_hashes

Stored = tuple[int, bytes]  # (seqno, hash) of a stored change


def change_making(db: sqlite3.Connection, doc_id: str, actor: bytes, counter: int) -> Stored | None:
    """The stored change of `actor` in `doc_id` whose ops include op `counter`, found by
    halving the actor's seqs (its op counters grow with its seq, rules S4 and S5)."""
    top = db.execute("SELECT max(seq) FROM changes WHERE doc = ? AND actor = ?",
                     (doc_id, actor)).fetchone()[0]
    low, high = 1, int(top or 0)
    while low <= high:
        seq = (low + high) // 2
        row = db.execute("SELECT start_op, max_op, seqno, hash FROM changes WHERE doc = ? AND actor = ?"
                         " AND seq = ?", (doc_id, actor, seq)).fetchone()
        if row is None:
            return None  # an actor's seqs are held without gaps (rule S2): none is missing here
        start_op, max_op, seqno, found = row
        if counter < start_op:
            high = seq - 1
        elif counter > max_op:
            low = seq + 1
        else:
            return int(seqno), bytes(found)
    return None


def reaches(db: sqlite3.Connection, doc_id: str, heads: Iterable[bytes], target: Stored) -> bool:
    """Whether `target` is one of `heads` or among their ancestors; heads not held in
    `doc_id` are left out."""
    frontier: list[tuple[int, bytes, bytes]] = []  # (-seqno, hash, deps), the latest stored first
    seen: set[bytes] = set()

    def visit(changes: Iterable[bytes]) -> None:
        for change in changes:
            row = None if change in seen else db.execute(
                "SELECT seqno, deps FROM changes WHERE hash = ? AND doc = ?", (change, doc_id)).fetchone()
            seen.add(change)
            if row is not None and row[0] >= target[0]:  # one stored before cannot lead to it
                heapq.heappush(frontier, (-int(row[0]), change, bytes(row[1])))

    visit(heads)
    while frontier:
        _, change, deps = heapq.heappop(frontier)
        if change == target[1]:
            return True
        visit(split_hashes(deps))
    return False
