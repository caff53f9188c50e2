"""The rows of the changes a batch stores are written together (daemon/store/sqlite.py, Store):
every use of the connection sees them first, they are numbered as SQLite numbers rows, and a
transaction or savepoint taken back takes them back. Real SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.envelope import VerifiedChange, check_envelope

from bench.corpus import ledger_chain, new_key


def a_store_with_changes_to_come(path: Path) -> tuple[Store, list[VerifiedChange]]:
    """A store holding a ledger's first 10 changes, and its next 20, checked."""
    store = Store(path)
    _, envelopes = ledger_chain(new_key(), 30)
    assert Ingestor(store, DocumentCache(store)).ingest(envelopes[:10]).accepted == 10
    return store, [check_envelope(e) for e in envelopes[10:]]


def count(store: Store) -> int:
    return int(store.db.execute("SELECT count(*) FROM changes").fetchone()[0])


def test_the_rows_held_back_are_written_before_the_connection_is_used(tmp_path: Path) -> None:
    store, coming = a_store_with_changes_to_come(tmp_path / "s.sqlite")
    with store.transaction():
        first = [store.insert_change(vc) for vc in coming[:5]]
        assert count(store) == 15  # a read of whoever holds the connection sees them
        assert [s for s, _ in store.changes_of(coming[0].envelope.doc_id, 10)] == first
        later = [store.insert_change(vc) for vc in coming[5:8]]
    assert first + later == list(range(11, 19))  # one past the greatest, as SQLite numbers
    store.close()
    reopened = Store(tmp_path / "s.sqlite")
    rows = reopened.db.execute("SELECT seqno, hash FROM changes WHERE seqno > 10 ORDER BY seqno")
    hashes = [vc.change.hash for vc in coming[:8]]
    assert [(s, bytes(h)) for s, h in rows] == list(zip(first + later, hashes, strict=True))


def test_a_transaction_or_savepoint_taken_back_takes_back_the_rows_held(tmp_path: Path) -> None:
    store, coming = a_store_with_changes_to_come(tmp_path / "s.sqlite")
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_change(coming[0])
        raise RuntimeError("taken back")
    assert count(store) == 10
    with store.transaction():
        assert store.insert_change(coming[0]) == 11
        with pytest.raises(RuntimeError), store.savepoint():
            assert store.insert_change(coming[1]) == 12
            raise RuntimeError("taken back")
        assert count(store) == 11
        assert store.insert_change(coming[1]) == 12  # numbered again from what is held
    assert count(store) == 12
    assert not store.holds(coming[2].change.hash)
