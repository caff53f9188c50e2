"""Creating tables and indexes inside or outside a transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


def create_schema(db: sqlite3.Connection, script: str) -> None:
    """Run CREATE ... IF NOT EXISTS statements one by one: unlike `executescript`, this does
    not commit a transaction in progress (a write recorded with its request id,
    daemon/services/once.py, may open a table's owner for the first time inside it)."""
    with schema_transaction(db):
        for statement in script.split(";"):
            if statement.strip():
                db.execute(statement)


@contextmanager
def schema_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """The statements that make or migrate a schema, committed together unless a transaction
    is already open: alone, each committed and synced the file on its own (a new store's
    schema cost some forty syncs, measured)."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
