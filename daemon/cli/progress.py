"""How far the one-time indexing of a long ledger has come, shown while a command waits for it.

A store made before the index of records (daemon/store/ledgerindex.py), or indexed in an older
format, has each ledger indexed whole from its document the first time a command reads it:
about a second per 10,000 records. A command that triggers it on a long ledger shows a
progress bar on stderr (gone once done), so the wait is not taken for a hang.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..store.ledgerindex import REBUILDING

SHOW_FROM = 5_000  # records: below this the indexing takes well under a second


@contextmanager
def indexing_shown() -> Iterator[None]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=console, transient=True, disable=not console.is_interactive)
    tasks: dict[str, TaskID] = {}
    shown: list[str] = []

    def report(doc_id: str, done: int, total: int) -> None:
        if total < SHOW_FROM:
            return
        if doc_id not in tasks:
            bar.start()  # once shown, stopped on the way out (stopping prints a line on a pipe)
            shown.append(doc_id)
            tasks[doc_id] = bar.add_task(f"indexing the records of {doc_id} (once)", total=total)
        bar.update(tasks[doc_id], completed=done)
        if done >= total:
            bar.remove_task(tasks.pop(doc_id))

    token = REBUILDING.set(report)
    try:
        yield
    finally:
        REBUILDING.reset(token)
        if shown:
            bar.stop()
