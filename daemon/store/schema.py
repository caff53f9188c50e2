"""Creating tables and indexes inside or outside a transaction."""

from __future__ import annotations

import sqlite3


def create_schema(db: sqlite3.Connection, script: str) -> None:
    """Run CREATE ... IF NOT EXISTS statements one by one: unlike `executescript`, this does
    not commit a transaction in progress (a write recorded with its request id,
    daemon/services/once.py, may open a table's owner for the first time inside it)."""
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)
