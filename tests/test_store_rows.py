"""The rows of the changes a batch stores are written together (daemon/store/sqlite.py, Store):
every use of the connection sees them first, they are numbered as SQLite numbers rows, and a
transaction or savepoint taken back takes them back. Real SQLite files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.faults import StoreFault
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import HASH_BYTES, Store
from pnyx.federation.envelope import VerifiedChange, check_envelope

from bench.corpus import ledger_chain, new_key


def a_store_with_changes_to_come(path: Path) -> tuple[Store, list[VerifiedChange]]:
    """A store holding a ledger's first 10 changes, and its next 20, checked."""
    store = Store(path)
    _, envelopes = ledger_chain(new_key(), 30)
    assert Ingestor(store, DocumentCache(store)).ingest(envelopes[:10]).accepted == 10
    return store, [check_envelope(e) for e in envelopes[10:]]


def inserted(store: Store, vc: VerifiedChange) -> int:
    """Store.insert_change given the parts of the change it is given by ingest."""
    return store.insert_change(vc, vc.envelope.doc_id, vc.change, vc.change.hash, vc.change.deps)


def count(store: Store) -> int:
    return int(store.db.execute("SELECT count(*) FROM changes").fetchone()[0])


def test_the_rows_held_back_are_written_before_the_connection_is_used(tmp_path: Path) -> None:
    store, coming = a_store_with_changes_to_come(tmp_path / "s.sqlite")
    with store.transaction():
        first = [inserted(store, vc) for vc in coming[:5]]
        assert count(store) == 15  # a read of whoever holds the connection sees them
        assert [s for s, _ in store.changes_of(coming[0].envelope.doc_id, 10)] == first
        later = [inserted(store, vc) for vc in coming[5:8]]
    assert first + later == list(range(11, 19))  # one past the greatest, as SQLite numbers
    store.close()
    reopened = Store(tmp_path / "s.sqlite")
    rows = reopened.db.execute("SELECT seqno, hash FROM changes WHERE seqno > 10 ORDER BY seqno")
    hashes = [vc.change.hash for vc in coming[:8]]
    assert [(s, bytes(h)) for s, h in rows] == list(zip(first + later, hashes, strict=True))


def test_a_transaction_or_savepoint_taken_back_takes_back_the_rows_held(tmp_path: Path) -> None:
    store, coming = a_store_with_changes_to_come(tmp_path / "s.sqlite")
    with pytest.raises(RuntimeError), store.transaction():
        inserted(store, coming[0])
        raise RuntimeError("taken back")
    assert count(store) == 10
    with store.transaction():
        assert inserted(store, coming[0]) == 11
        with pytest.raises(RuntimeError), store.savepoint():
            assert inserted(store, coming[1]) == 12
            raise RuntimeError("taken back")
        assert count(store) == 11
        assert inserted(store, coming[1]) == 12  # numbered again from what is held
    assert count(store) == 12
    assert not store.holds(coming[2].change.hash)


# The changes table as stores made before documents were numbered kept it.
OLDER_CHANGES = """CREATE TABLE changes (
    seqno INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    doc TEXT NOT NULL,
    actor BLOB NOT NULL,
    seq INTEGER NOT NULL,
    start_op INTEGER NOT NULL,
    max_op INTEGER NOT NULL,
    deps BLOB NOT NULL,
    signer BLOB NOT NULL,
    signature BLOB NOT NULL,
    change BLOB NOT NULL,
    vouch BLOB,
    UNIQUE (doc, actor, seq)
)"""


def test_a_store_made_by_an_older_pnyx_is_refused_with_what_to_do_and_left_as_it_was(
        tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(OLDER_CHANGES)
        db.execute("INSERT INTO changes VALUES (1, x'00', 'ledger/x', x'00', 1, 1, 1, x'', x'', x'',"
                   " x'', NULL)")
    db.close()
    with pytest.raises(StoreFault, match=r"made by an older pnyx.*move it aside and sync again"):
        Store(path)
    with sqlite3.connect(path) as db:
        assert [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                ] == ["changes"]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert db.execute("SELECT count(*) FROM changes").fetchone()[0] == 1
    db.close()


def test_a_document_numbered_by_a_transaction_taken_back_is_numbered_again(tmp_path: Path) -> None:
    """A change's row names its document by number: the number given by a transaction that
    was taken back is gone with it, and the document's next change is stored under a new one."""
    store = Store(tmp_path / "s.sqlite")
    first = check_envelope(ledger_chain(new_key(), 1)[1][0])
    doc_id = first.envelope.doc_id
    with pytest.raises(RuntimeError), store.transaction():
        inserted(store, first)
        raise RuntimeError("taken back")
    with store.transaction():
        inserted(store, first)
    assert store.holds_document(doc_id) and store.vector(doc_id) == {first.change.actor: 1}
    store.close()


def test_a_hash_sharing_its_first_8_bytes_with_a_held_one_is_not_held(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    a_store_with_changes_to_come(path)[0].close()
    store = Store(path)  # nothing remembered: every answer is read from the file
    held = bytes(store.db.execute("SELECT hash FROM changes WHERE seqno = 5").fetchone()[0])
    twin = held[:8] + bytes(HASH_BYTES - 8)
    assert store.holds(held) and not store.holds(twin)
    assert store.lookup(twin) is None and store.envelope(twin) is None
    assert store.lookup(held) is not None and store.envelope(held) is not None
    with store.transaction():
        store.expect([twin, held])
        assert not store.holds(twin) and store.holds(held)
