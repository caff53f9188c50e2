"""What a store's writes cost the disk (daemon/store/sqlite.py, schema.py): the WAL is copied
into the file when the daemon is idle, not by SQLite's default every 1,000 pages in a batch's
commit; a schema is made in one transaction; bytes and None bind as they are. Real SQLite files."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.schema import create_schema
from pnyx.daemon.store.sqlite import Store

PAGE = 4096


def write_pages(store: Store, pages: int) -> dict[str, bytes]:
    """About `pages` pages of the WAL, written by 40 transactions; what was written."""
    written = {f"doc/{n}": os.urandom(pages * PAGE // 40) for n in range(40)}
    for n, (doc, data) in enumerate(written.items()):
        with store.transaction():
            store.save_snapshot(doc, n, data)
    return written


def test_a_wal_past_sqlite_s_default_is_copied_into_the_file_once_the_daemon_is_idle(
        tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = Store(path)
    written = write_pages(store, 1_500)
    assert os.path.getsize(f"{path}-wal") > 1_500 * PAGE
    assert os.path.getsize(path) < 100 * PAGE  # nothing copied by the batches' commits
    DocumentCache(store).tend()
    assert os.path.getsize(path) > 1_500 * PAGE
    busy, frames, copied = store.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert (busy, copied) == (0, frames)
    store.close()
    reopened = Store(path)
    assert {doc: reopened.snapshot(doc) for doc in written} == {
        doc: (n, data) for n, (doc, data) in enumerate(written.items())}


def test_a_schema_is_made_in_one_transaction_and_taken_back_whole(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "s.sqlite", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        create_schema(db, "CREATE TABLE IF NOT EXISTS a (x); CREATE TABLE IF NOT EXISTS b (")
    assert not db.in_transaction
    assert db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
    create_schema(db, "CREATE TABLE IF NOT EXISTS a (x); CREATE INDEX IF NOT EXISTS a_x ON a (x)")
    assert {r[0] for r in db.execute("SELECT name FROM sqlite_master")} == {"a", "a_x"}
    db.execute("BEGIN")
    create_schema(db, "CREATE TABLE IF NOT EXISTS c (x)")
    assert db.in_transaction  # inside a transaction, whoever opened it commits
    db.execute("ROLLBACK")
    assert {r[0] for r in db.execute("SELECT name FROM sqlite_master")} == {"a", "a_x"}


def test_bytes_and_none_bind_as_a_blob_and_null(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    row = store.db.execute("SELECT typeof(?), typeof(?), ?, ?", (b"\x00\xff", None, b"", None)).fetchone()
    assert row == ("blob", "null", b"", None)
