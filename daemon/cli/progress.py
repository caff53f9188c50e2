"""How far the one-time indexing of a long ledger has come, shown while a command waits for it.

A store made before the index of records (daemon/store/ledgerindex.py), or indexed in an older
format, has each ledger indexed whole from its document the first time a command reads it:
about a second per 10,000 records. A command that triggers it on a long ledger shows a
progress bar on stderr (gone once done), so the wait is not taken for a hang.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..store.ledgerindex import REBUILDING

if TYPE_CHECKING:
    from rich.progress import TaskID

SHOW_FROM = 5_000  # records: below this the indexing takes well under a second


@contextmanager
def indexing_shown() -> Iterator[None]:
    """Bars made, and rich imported (about 35 ms at every start), only once a long ledger is
    indexed."""
    bars: list[_Bars] = []

    def report(doc_id: str, done: int, total: int) -> None:
        if total < SHOW_FROM:
            return
        if not bars:
            bars.append(_Bars())
        bars[0].update(doc_id, done, total)

    token = REBUILDING.set(report)
    try:
        yield
    finally:
        REBUILDING.reset(token)
        if bars:
            bars[0].bar.stop()  # started when shown (stopping prints a line on a pipe)


class _Bars:
    """One bar per ledger being indexed, on stderr, gone once done."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(stderr=True)
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), console=console, transient=True,
                            disable=not console.is_interactive)
        self.bar.start()
        self.tasks: dict[str, TaskID] = {}

    def update(self, doc_id: str, done: int, total: int) -> None:
        if doc_id not in self.tasks:
            self.tasks[doc_id] = self.bar.add_task(f"indexing the records of {doc_id} (once)", total=total)
        self.bar.update(self.tasks[doc_id], completed=done)
        if done >= total:
            self.bar.remove_task(self.tasks.pop(doc_id))
