"""The stateless checks of ingest's next batch run on a second thread while a batch commits
(daemon/store/ahead.py): the outcome, and every error path, must be those of an ingest that
checks each batch just before judging it.

BATCH is made small so that a handful of changes spans several batches.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pnyx.daemon.store import ahead, ingest
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.envelope import Envelope

from .ledgerkit import fresh_store, index_rows, store_state
from .test_ingest_batches import SMALL_BATCH, history_across_batches, one_at_a_time


def checks_on_threads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each batch checked, in order: whether on the main thread."""
    on_main: list[bool] = []
    real = ahead.checked

    def recording(batch: list[Envelope]) -> ahead.Checked:
        on_main.append(threading.current_thread() is threading.main_thread())
        return real(batch)

    monkeypatch.setattr(ahead, "checked", recording)
    return on_main


def no_checking_thread_left() -> bool:
    return not any(t.name.startswith("pnyx-checks") for t in threading.enumerate())


@pytest.mark.parametrize("in_callers_transaction", [False, True])
def test_each_later_batch_is_checked_on_a_second_thread_and_ends_as_one_change_at_a_time(
        monkeypatch: pytest.MonkeyPatch, in_callers_transaction: bool) -> None:
    """Inside a caller's transaction no batch commits before it does: nothing is handed
    over, every batch is checked on the main thread."""
    _, envelopes = history_across_batches()
    alone_store, _, alone = one_at_a_time(envelopes)
    monkeypatch.setattr(ingest, "BATCH", SMALL_BATCH)
    on_main = checks_on_threads(monkeypatch)
    store, _, ingestor = fresh_store()
    with store.transaction() if in_callers_transaction else contextlib.nullcontext():
        report = ingestor.ingest(envelopes)
    # 13 changes in batches of 3
    assert on_main == [True] * 5 if in_callers_transaction else [True, False, False, False, False]
    assert (report.accepted, report.rejected, report.pending) == \
        (alone.accepted, alone.rejected, alone.pending)
    assert store_state(store) == store_state(alone_store)
    assert index_rows(store.db) == index_rows(alone_store.db)
    assert no_checking_thread_left()
    assert not any(isinstance(getattr(hook, "__self__", None), ahead.CheckedAhead)
                   for hook in store.commit_hooks)


def test_an_error_reading_the_envelopes_ahead_is_raised_once_the_batch_before_is_stored(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The envelopes fail after the first batch and one more: as when nothing was read
    ahead, the first batch is stored, then the error raised, and the change read before it
    is not judged."""
    _, envelopes = history_across_batches()
    monkeypatch.setattr(ingest, "BATCH", SMALL_BATCH)

    def failing() -> Iterator[Envelope]:
        yield from envelopes[:SMALL_BATCH + 1]
        raise OSError("the bundle could not be read further")

    store, _, ingestor = fresh_store()
    with pytest.raises(OSError, match="could not be read further"):
        ingestor.ingest(failing())
    held_store, _, _ = one_at_a_time(envelopes[:SMALL_BATCH])
    assert store_state(store) == store_state(held_store)
    assert no_checking_thread_left()


class FailingCommit:
    """A store's connection whose COMMIT fails once, the `at`-th (a full disk), after the
    next batch was handed over to be checked."""

    def __init__(self, db: sqlite3.Connection, at: int) -> None:
        self.real = db
        self.commits = 0
        self.at = at

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT":
            self.commits += 1
            if self.commits == self.at:
                raise sqlite3.OperationalError("database or disk is full")
        return self.real.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_commit_failing_while_the_next_batch_is_checked_rolls_back_and_is_raised(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second batch's COMMIT fails while the third is checked on the thread: the second
    is rolled back, the error reaches the caller, the thread is done, and the rest is stored
    once the error is gone."""
    _, envelopes = history_across_batches()
    monkeypatch.setattr(ingest, "BATCH", SMALL_BATCH)
    on_main = checks_on_threads(monkeypatch)
    store = Store(tmp_path / "s.sqlite")
    ingestor = Ingestor(store, DocumentCache(store))
    failing = FailingCommit(store._db, at=2)
    monkeypatch.setattr(store, "_db", failing)
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        ingestor.ingest(envelopes)
    assert on_main == [True, False, False]  # the third batch was being checked
    assert no_checking_thread_left()
    assert not failing.real.in_transaction
    monkeypatch.setattr(store, "_db", failing.real)
    held_store, _, _ = one_at_a_time(envelopes[:SMALL_BATCH])
    assert store_state(store) == store_state(held_store)
    assert index_rows(store.db) == index_rows(held_store.db)
    rest = ingestor.ingest(envelopes[SMALL_BATCH:])
    alone_store, _, alone = one_at_a_time(envelopes)
    assert (rest.accepted + SMALL_BATCH, rest.rejected) == (alone.accepted, alone.rejected)
    assert store_state(store) == store_state(alone_store)
