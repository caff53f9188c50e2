"""Who pushed what: every push this daemon answered, charged to its sender.

A sender is the device key a push proves (protocol-spec/sync.md, "Push
senders"), or `address:IP` for a push that proves none or proves a key this
daemon has no good record of (a throwaway key is free, an address is not).
`pnyx peers` lists the senders beside the peers, so the one sending junk is
named.
"""

from __future__ import annotations

from dataclasses import dataclass

from .schema import create_schema
from .sqlite import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS push_senders (
    sender TEXT PRIMARY KEY,
    pushes INTEGER NOT NULL DEFAULT 0,
    accepted INTEGER NOT NULL DEFAULT 0,
    duplicate INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    deferred INTEGER NOT NULL DEFAULT 0,
    refused INTEGER NOT NULL DEFAULT 0,
    last_rejection TEXT,
    last_at REAL NOT NULL
);
"""
ADDRESS_PREFIX = "address:"


@dataclass(frozen=True)
class PushCounts:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    deferred: int = 0
    last_rejection: str | None = None


class SenderBook:
    def __init__(self, store: Store) -> None:
        self.store = store
        create_schema(store.db, SCHEMA)

    def has_good_record(self, sender: str) -> bool:
        """Whether `sender` ever pushed a change that was stored here."""
        row = self.store.db.execute("SELECT accepted FROM push_senders WHERE sender = ?",
                                    (sender,)).fetchone()
        return row is not None and int(row[0]) > 0

    def record(self, sender: str, counts: PushCounts, now: float) -> None:
        with self.store.transaction():
            self.store.db.execute(
                "INSERT INTO push_senders (sender, pushes, accepted, duplicate, rejected, deferred,"
                " last_rejection, last_at) VALUES (?, 1, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (sender) DO UPDATE SET pushes = pushes + 1,"
                " accepted = accepted + excluded.accepted, duplicate = duplicate + excluded.duplicate,"
                " rejected = rejected + excluded.rejected, deferred = deferred + excluded.deferred,"
                " last_rejection = coalesce(excluded.last_rejection, last_rejection),"
                " last_at = excluded.last_at",
                (sender, counts.accepted, counts.duplicate, counts.rejected, counts.deferred,
                 counts.last_rejection, now))

    def refused(self, sender: str, requests: int, now: float) -> None:
        """Requests not even read: the sender was told to slow down (HTTP 429)."""
        with self.store.transaction():
            self.store.db.execute(
                "INSERT INTO push_senders (sender, refused, last_at) VALUES (?, ?, ?)"
                " ON CONFLICT (sender) DO UPDATE SET refused = refused + excluded.refused,"
                " last_at = excluded.last_at", (sender, requests, now))

    def rows(self) -> list[dict[str, object]]:
        """Every sender, the most rejected first, as `pnyx peers --json` prints them."""
        return [{"sender": r[0], "pushes": r[1], "accepted": r[2], "duplicate": r[3],
                 "rejected": r[4], "deferred": r[5], "refused": r[6], "last_rejection": r[7],
                 "last_at": r[8]}
                for r in self.store.db.execute(
                    "SELECT sender, pushes, accepted, duplicate, rejected, deferred, refused,"
                    " last_rejection, last_at FROM push_senders ORDER BY rejected + refused DESC,"
                    " sender")]
