"""The peers table: whom this daemon gossips with, how that went, and when to try again.

Peers are added by hand (`pnyx peers add`), learned from other peers' lists,
or learned from the URL a daemon gives when it opens an exchange here. A URL
only proposes an address: whatever arrives from it is verified like anything
else. Failures back off exponentially; a peer that turns out to be this very
daemon (same device key) is never contacted again. Envelopes a peer served
that failed verification are counted against it; its valid ones are still
stored (protocol-spec/sync.md, "Invalid envelopes").
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from urllib.parse import urlsplit

from pnyx.federation.keys import key_text

from .schema import create_schema
from .senders import SenderBook
from .sqlite import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS peers (
    url TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    device BLOB,
    added_at REAL NOT NULL,
    last_attempt REAL,
    last_success REAL,
    last_error TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    sent INTEGER NOT NULL DEFAULT 0,
    received INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    last_rejection TEXT,
    is_self INTEGER NOT NULL DEFAULT 0,
    announced BLOB,
    flag TEXT
);
"""
# columns added after the table was first released, with their declarations
LATER_COLUMNS = {"announced": "BLOB", "flag": "TEXT"}
BACKOFF_BASE = 2.0
BACKOFF_MAX = 600.0
MAX_LEARNED = 200  # learned peers kept at most; added ones are never dropped
MAX_URL_CHARS = 512


def normalize_url(text: str) -> str:
    """A peer's base URL, http(s)://host:port, without path; ValueError says what is wrong."""
    url = text.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"a peer is http://HOST:PORT or https://HOST:PORT, got {text!r}")
    if parts.path or parts.query or parts.fragment or len(url) > MAX_URL_CHARS:
        raise ValueError(f"a peer URL has no path, query or fragment: {text!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    return url


@dataclass(frozen=True)
class Peer:
    url: str
    source: str
    device: str | None
    last_success: float | None
    last_error: str | None
    failures: int
    next_attempt: float
    sent: int
    received: int
    rejected: int
    last_rejection: str | None
    is_self: bool
    announced: str | None  # the device key its mDNS announcement claims
    flag: str | None  # why it is suspect: an announced key it does not prove

    def lag(self, now: float) -> float | None:
        """Seconds since the last successful exchange."""
        return None if self.last_success is None else max(0.0, now - self.last_success)


class PeerBook:
    def __init__(self, store: Store) -> None:
        self.db: sqlite3.Connection = store.db
        self.store = store
        create_schema(self.db, SCHEMA)
        have = {r[1] for r in self.db.execute("PRAGMA table_info(peers)")}
        for column, declaration in LATER_COLUMNS.items():
            if column not in have:
                self.db.execute(f"ALTER TABLE peers ADD COLUMN {column} {declaration}")

    def add(self, url: str, source: str, now: float) -> bool:
        """Add a peer; False if it was known already (an added peer stays `added`)."""
        url = normalize_url(url)
        with self.store.transaction():
            if self.db.execute("SELECT 1 FROM peers WHERE url = ?", (url,)).fetchone():
                if source == "added":
                    self.db.execute("UPDATE peers SET source = 'added', failures = 0, next_attempt = 0"
                                    " WHERE url = ?", (url,))
                return False
            if source != "added" and self._learned_count() >= MAX_LEARNED:
                return False
            self.db.execute("INSERT INTO peers (url, source, added_at) VALUES (?, ?, ?)",
                            (url, source, now))
            return True

    def _learned_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM peers WHERE source != 'added'").fetchone()[0])

    def remove(self, url: str) -> bool:
        with self.store.transaction():
            return self.db.execute("DELETE FROM peers WHERE url = ?", (normalize_url(url),)).rowcount > 0

    def all(self) -> list[Peer]:
        return [Peer(r[0], r[1], key_text(bytes(r[2])) if r[2] else None, r[3], r[4], r[5], r[6],
                     r[7], r[8], r[9], r[10], bool(r[11]), key_text(bytes(r[12])) if r[12] else None, r[13])
                for r in self.db.execute(
                    "SELECT url, source, device, last_success, last_error, failures, next_attempt, sent,"
                    " received, rejected, last_rejection, is_self, announced, flag FROM peers ORDER BY url")]

    def due(self, now: float) -> list[str]:
        """Peers not backing off and not this daemon itself."""
        return [r[0] for r in self.db.execute(
            "SELECT url FROM peers WHERE is_self = 0 AND next_attempt <= ? ORDER BY url", (now,))]

    def good(self, limit: int) -> list[str]:
        """Peers worth telling others about: reached at least once, not this daemon."""
        return [r[0] for r in self.db.execute(
            "SELECT url FROM peers WHERE is_self = 0 AND last_success IS NOT NULL"
            " ORDER BY last_success DESC LIMIT ?", (limit,))]

    def succeeded(self, url: str, device: bytes | None, now: float, sent: int, received: int) -> None:
        with self.store.transaction():
            self.db.execute(
                "UPDATE peers SET device = coalesce(?, device), last_attempt = ?, last_success = ?,"
                " last_error = NULL, failures = 0, next_attempt = 0, sent = sent + ?,"
                " received = received + ? WHERE url = ?", (device, now, now, sent, received, url))

    def count_rejected(self, url: str, rejected: list[tuple[str, str]]) -> None:
        """Count envelopes from `url` that failed verification, keeping the last reason."""
        if not rejected:
            return
        reason, detail = rejected[-1]
        with self.store.transaction():
            self.db.execute("UPDATE peers SET rejected = rejected + ?, last_rejection = ? WHERE url = ?",
                            (len(rejected), f"{reason}: {detail}"[:300], url))

    def failed(self, url: str, error: str, now: float, jitter: float) -> float:
        """Record a failure; returns the delay before the next attempt (`jitter` in [0, 1))."""
        with self.store.transaction():
            row = self.db.execute("SELECT failures FROM peers WHERE url = ?", (url,)).fetchone()
            failures = (row[0] if row else 0) + 1
            delay = min(BACKOFF_MAX, BACKOFF_BASE ** failures) * (0.5 + jitter)
            self.db.execute("UPDATE peers SET last_attempt = ?, last_error = ?, failures = ?,"
                            " next_attempt = ? WHERE url = ?",
                            (now, error[:300], failures, now + delay, url))
        return delay

    def heard(self, url: str, announced: bytes, now: float) -> None:
        """The peer at `url` announced itself on the local network just now, claiming `announced`.

        Being heard shows it is up again: a peer backing off after failed syncs
        becomes due at once (a failure afterwards backs off further still).
        """
        with self.store.transaction():
            self.db.execute("UPDATE peers SET announced = ?, next_attempt = min(next_attempt, ?)"
                            " WHERE url = ?", (announced, now, url))

    def set_flag(self, url: str, flag: str | None) -> None:
        with self.store.transaction():
            self.db.execute("UPDATE peers SET flag = ? WHERE url = ?", (flag, url))

    def device_of(self, url: str) -> bytes | None:
        """The device key the peer at `url` answered with when last reached, if ever."""
        row = self.db.execute("SELECT device FROM peers WHERE url = ?", (url,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def is_device(self, device: bytes) -> bool:
        """Whether `device` proved itself as one of these peers (daemon/net/identity.py)."""
        return self.db.execute("SELECT 1 FROM peers WHERE device = ? LIMIT 1",
                               (device,)).fetchone() is not None

    def mark_self(self, url: str) -> None:
        with self.store.transaction():
            self.db.execute("UPDATE peers SET is_self = 1 WHERE url = ?", (url,))


def peer_rows(book: PeerBook, now: float) -> list[dict[str, object]]:
    """Each peer as `pnyx peers --json` prints it and GET /api/v1/peers returns it; `pushes`
    is what the peer pushed here under its proven key (daemon/store/senders.py)."""
    pushes = {str(r["sender"]): r for r in SenderBook(book.store).rows()}
    return [{"url": p.url, "source": p.source, "device": p.device, "last_success": p.last_success,
             "lag_seconds": p.lag(now), "sent": p.sent, "received": p.received,
             "rejected": p.rejected, "last_rejection": p.last_rejection, "last_error": p.last_error,
             "failures": p.failures, "retry_in_seconds": max(0.0, p.next_attempt - now),
             "self": p.is_self, "announced_device": p.announced, "flag": p.flag,
             "pushes": pushes.get(p.device or "")} for p in book.all()]
