"""The stateless checks of ingest's next batch, run on a second thread while a batch commits.

SQLite lets go of the GIL while it runs a statement, and a batch's COMMIT is one long
statement (about 2 ms for 500 changes, measured); check_envelope holds the GIL (compiled
Python). So the checks of batch N+1 are handed to a thread just before batch N commits
(a commit hook, the last to run) and run on the second core while SQLite writes. Only
then: handed over any earlier, they would take turns with the judging of batch N, which
holds the GIL as well (Automerge does too), and gain nothing.

The next batch is read from the envelopes before batch N is judged. An error reading
them is raised once batch N is stored, as it was when nothing was read ahead; an error
in the checks themselves is raised before the batch they check is judged, as before.
Whatever happens, the thread has finished when `checked_batches` ends.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

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
    """One ingest call's batches, checked; used once, as a context manager."""

    def __init__(self, store: Store, size: int) -> None:
        self.store = store
        self.size = size
        self._pool: ThreadPoolExecutor | None = None  # made when a second batch is read
        self._next: list[Envelope] | None = None  # read, to be handed over at the commit
        self._future: Future[Checked] | None = None

    def __enter__(self) -> CheckedAhead:
        self.store.commit_hooks.append(self._hand_over)
        return self

    def __exit__(self, *exc: object) -> None:
        self.store.commit_hooks.remove(self._hand_over)
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _hand_over(self) -> None:
        """The commit hook: the batch read ahead goes to the thread."""
        if self._next is not None:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="pnyx-checks")
            self._future = self._pool.submit(checked, self._next)
            self._next = None

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
            self._next = after or None
            yield outcomes
            future, self._future, self._next = self._future, None, None
            if not after:
                return
            # Not handed over when no commit ran (an ingest inside a caller's transaction).
            outcomes = checked(after) if future is None else future.result()
