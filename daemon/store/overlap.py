"""Two pieces of work on two cores: one in a worker thread, one in the calling thread.

Automerge releases the GIL while it applies changes (and Python's sqlite3 while a statement
runs), so while a batch's staged changes are applied to its documents, work that reads no
document (the next batch's stateless checks) can run beside it on the other core. The
worker's work is bounded to the one call: the calling thread waits for it before anything
else touches what it works on, so no document is ever read while it is being applied to.

The two share no mutable state, and must not: federation's decoding keeps module-level
caches (columns._DECODED, bounded.make_room) that are not safe across threads (measured:
checking the next batch in a thread while this one was judged failed with a KeyError in
make_room). So only Automerge runs in the worker, and all of federation in this thread.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
# Whether this process may run on a second core: on one core (a small board in a village)
# a worker thread only adds its switches, and the work runs in the calling thread.
SECOND_CORE = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) > 1
# One worker for the process, started at its first use and reused by every batch after.
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pnyx-apply")


def beside(work: Callable[[], T], meanwhile: Callable[[], object] | None) -> T:
    """Run `work` in a worker thread while `meanwhile` runs in this one, and return what
    `work` returned or raise what it raised (a Rust panic too), once both are done. Without
    `meanwhile` there is nothing to run beside it, and without a second core nothing to run
    it on: then `work` runs here first, and `meanwhile` after it."""
    if meanwhile is None or not SECOND_CORE:
        value = work()
        if meanwhile is not None:
            meanwhile()
        return value
    future = _WORKER.submit(work)
    try:
        meanwhile()
    finally:
        # Even if `meanwhile` raised: nothing may touch `work`'s objects before it is done.
        done = future.exception()
    if done is not None:
        raise done
    return future.result()
