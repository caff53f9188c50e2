"""The store mark: what this data directory is known to have held, kept beside the store.

An emptied, truncated or replaced `pnyx.sqlite` is a valid, smaller SQLite
file: SQLite itself cannot tell that records are gone. So every clean close
of a data directory writes `store.mark` (JSON: the highest arrival number
stored, and how many changes), and opening it compares: a store whose
highest arrival number is below the mark lost records. The mark is a lower
bound (a crash skips the write, never raises it), so it never accuses a
store that lost nothing.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .faults import StoreFault
from .sqlite import Store

MARK_FILE = "store.mark"


@dataclass(frozen=True)
class Mark:
    seqno: int
    changes: int


def read_mark(data: Path) -> Mark | None:
    try:
        value = json.loads((data / MARK_FILE).read_text())
        return Mark(int(value["seqno"]), int(value["changes"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no mark (a new or older data directory) or an unreadable one: no claim


def write_mark(data: Path, store: Store) -> None:
    """Record what the store holds now; best effort (a full disk must not stop a close).
    Commits made unsynced are synced first: the mark never claims what a power cut could
    still take back (Store.unsynced)."""
    try:
        store.sync()
        mark = {"seqno": store.last_seqno(), "changes": store.count_changes()}
    except (sqlite3.Error, OSError):
        return  # a damaged store: the mark keeps what was known before
    known = read_mark(data)
    if known is not None and known.seqno > mark["seqno"]:
        return  # never lower the mark: a store that lost records stays accused
    tmp = data / (MARK_FILE + ".tmp")
    try:
        tmp.write_text(json.dumps(mark) + "\n")
        os.replace(tmp, data / MARK_FILE)
    except OSError:
        tmp.unlink(missing_ok=True)


def lost_records(data: Path, store: Store) -> str | None:
    """What the store lost against the mark, as one sentence; None if nothing is known lost."""
    mark = read_mark(data)
    if mark is None or store.last_seqno() >= mark.seqno:
        return None
    return (f"the store holds {store.count_changes()} changes up to arrival {store.last_seqno()}, "
            f"but this data directory held {mark.changes} up to arrival {mark.seqno}: "
            f"pnyx.sqlite was emptied or replaced")


def check_mark(data: Path, store: Store) -> None:
    lost = lost_records(data, store)
    if lost is not None:
        raise StoreFault(f"{lost}; restore it from a backup, or run `pnyx verify` to see what "
                         f"is held and delete {data / MARK_FILE} to go on with it", 503)
