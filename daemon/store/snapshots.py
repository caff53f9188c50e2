"""Snapshots of the documents that the cache lets go while changes arrive, saved on a thread.

When the document cache passes its bound during a long ingest (a catch-up of many
ledgers), it lets go of the documents unused lately, and their snapshots are often
due then. Saving a document and loading the bytes back to check them costs in
proportion to the whole document (about 80 ms for 5,000 changes, six such documents
in a 50k catch-up: 0.47 s on the thread that ingests). A worker thread does both (on a
second core: with one, the save is made at once, as before), and the thread that owns the
store's connection stores each result in its next write transaction, or when the cache
saves its snapshots (idle, close). Measured since: Automerge 1.0.0rc1 holds the GIL in
save and load (a spinning thread gets 7-10% of its rate meanwhile), so the thread defers
the save but overlaps almost none of its cost with ingest. At most MAX_UNDER_WAY saves run or wait
to run: handing over one more first waits for the oldest, so that the documents held
beside the cache stay few (measured receiving 50k changes: peak 141-142 MB, against
138 MB when they were saved on the hot path; the goal is under 150 MB).

A document let go in a transaction (or a batch's savepoint) that is then taken back may
hold changes that were never stored: `drop` forgets every save under way, and the cache
calls it whenever it forgets what it read.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from automerge.core import Document

MAX_UNDER_WAY = 1
# Whether this process may run on a second core: on one core (a small board in a village)
# a worker thread only adds its switches, and the save is made at once.
SECOND_CORE = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) > 1


@dataclass(frozen=True)
class Saved:
    """A document's snapshot as of arrival number `upto`; `data` None: it did not load back."""

    doc_id: str
    upto: int
    data: bytes | None


class BackgroundSaves:
    """Documents handed over to be saved on one worker thread, in the order handed over."""

    def __init__(self, save: Callable[[Document], bytes | None]) -> None:
        self._save = save  # the document's bytes if they load back, else None
        self._pool: ThreadPoolExecutor | None = None  # started at the first hand-over
        self._under_way: list[tuple[str, int, Future[bytes | None]]] = []

    def hand_over(self, doc_id: str, upto: int, doc: Document) -> None:
        """Save `doc` (nobody else holds it) on the worker thread, once fewer than
        MAX_UNDER_WAY saves are still running (waiting for the oldest if need be)."""
        running = [future for _, _, future in self._under_way if not future.done()]
        if len(running) >= MAX_UNDER_WAY:
            wait(running[:len(running) - MAX_UNDER_WAY + 1])
        if not SECOND_CORE:  # nothing to run it beside: saved here
            future: Future[bytes | None] = Future()
            future.set_result(self._save(doc))
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pnyx-snapshots")
            future = self._pool.submit(self._save, doc)
        self._under_way.append((doc_id, upto, future))

    def finished(self, everything: bool = False) -> list[Saved]:
        """The saves done, in the order handed over (up to the first still running); with
        `everything`, each one, waiting for those still running."""
        if everything:
            wait([future for _, _, future in self._under_way])
        done: list[Saved] = []
        while self._under_way and self._under_way[0][2].done():
            doc_id, upto, future = self._under_way.pop(0)
            done.append(Saved(doc_id, upto, future.result()))
        return done

    def drop(self) -> None:
        """Forget every save under way: what they hold may no longer be stored. A save the
        thread is running finishes there, and its bytes are let go."""
        self._under_way.clear()
