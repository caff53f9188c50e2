"""The stateless checks of ingest's next batch, run on a second thread while a batch commits.

SQLite lets go of the GIL while it runs a statement, and a batch's COMMIT is one long
statement (2-3 ms of CPU for 500 changes, and longer waiting on the disk, measured); the
checks hold the GIL (compiled Python). So the checks of batch N+1 are handed to a thread
just before batch N commits (a commit hook, the last to run) and run on the second core
while SQLite writes. Only then: handed over any earlier, they would take turns with the
judging of batch N, which holds the GIL as well (Automerge does too), and gain nothing.

The next batch is read from the envelopes before batch N is judged. An error reading
them is raised once batch N is stored, as it was when nothing was read ahead; an error
in the checks themselves is raised before the batch they check is judged, as before.
Whatever happens, the thread has finished when the `with` block ends. An ingest of one
batch (a slice pushed or pulled) starts no thread.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterable, Iterator

from pnyx.federation.envelope import Envelope, VerifiedChange, check_envelope
from pnyx.federation.errors import Rejected

from .sqlite import Store

Checked = list[VerifiedChange | Rejected]


def checked(batch: list[Envelope]) -> Checked:
    """The stateless checks of a batch, each envelope's outcome in order."""
    outcomes: Checked = []
    for envelope in batch:
        try:
            outcomes.append(check_envelope(envelope))
        except Rejected as exc:
            outcomes.append(exc)
    return outcomes


class CheckedAhead:
    """One ingest call's batches, checked; used once, as a context manager.

    The thread takes batches from a queue, not from a pool: handing a batch to a pool's
    thread let it run before the COMMIT (its submit lets go of the GIL), where a queue's
    put does not, so the thread starts once SQLite lets go of the GIL (measured)."""

    def __init__(self, store: Store, size: int) -> None:
        self.store = store
        self.size = size
        self._thread: threading.Thread | None = None  # started when a second batch is read
        self._todo: queue.SimpleQueue[list[Envelope] | None] = queue.SimpleQueue()
        self._done: queue.SimpleQueue[Checked | BaseException] = queue.SimpleQueue()
        self._next: list[Envelope] | None = None  # read, to be handed over at the commit
        self._handed = False

    def __enter__(self) -> CheckedAhead:
        self.store.commit_hooks.append(self._hand_over)
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.commit_hooks.remove(self._hand_over)
        if self._thread is not None:
            self._todo.put(None)
            self._thread.join()

    def _hand_over(self) -> None:
        """The commit hook: the batch read ahead goes to the thread."""
        if self._next is not None:
            self._todo.put(self._next)
            self._next, self._handed = None, True

    def _work(self) -> None:
        """The thread: each batch handed over, checked, until None."""
        while (batch := self._todo.get()) is not None:
            try:
                self._done.put(checked(batch))
            except BaseException as exc:  # raised on the main thread, as if checked there
                self._done.put(exc)

    def checked_batches(self, envelopes: Iterable[Envelope]) -> Iterator[Checked]:
        """The envelopes in batches of `size`, checked, each yielded to be judged and
        committed before the next is asked for."""
        source = iter(envelopes)
        outcomes = checked(list(itertools.islice(source, self.size)))
        while outcomes:
            try:
                after = list(itertools.islice(source, self.size))
            except BaseException:
                yield outcomes
                raise
            if after and self._thread is None:
                self._thread = threading.Thread(target=self._work, name="pnyx-checks")
                self._thread.start()
            self._next = after or None
            yield outcomes
            handed, self._handed, self._next = self._handed, False, None
            if not after:
                return
            # Not handed over when no commit ran (an ingest inside a caller's transaction).
            outcomes = self._outcomes() if handed else checked(after)

    def _outcomes(self) -> Checked:
        done = self._done.get()
        if isinstance(done, BaseException):
            raise done
        return done
