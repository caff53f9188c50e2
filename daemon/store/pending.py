"""The pending set: changes that wait for their dependencies, bounded against floods.

Anyone with a key can sign changes on made-up dependencies that never arrive,
so what waits is bounded by count and bytes, in all, per signer and per peer
that sent it, and expires. Signers are in two classes:
- known: a key that already wrote to the document (its actor range in the
  changes table; the assembly key wrote its ledger's genesis), or a device the
  assembly's ledger held here certifies (daemon/store/ingest.py decides). An
  honest change that arrived before its parent is almost always of this class.
- unknown: any other key. All unknown signers together get a small share, and
  their changes expire within the hour.
When the set is full, a known signer's change pushes out the oldest unknown
one; an unknown signer's change never pushes out anything: junk cannot push
out an honest change waiting for its parent. A change that finds no room is
*deferred*: not stored, and offered again by its sender on a later sync.

Counters live in memory and are read again from the table at most once a
second (`refresh`, asked at the start of every ingest batch) and after a
rolled-back transaction, so other processes writing the same store (the CLI
importing a bundle) are taken into account.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from dataclasses import dataclass

from pnyx.federation.envelope import VerifiedChange, decode_envelope

from .schema import create_schema

MIGRATIONS = (
    ("signer", "BLOB"), ("peer", "TEXT"), ("size", "INTEGER"), ("arrived", "REAL"),
    ("known", "INTEGER"), ("vouch", "BLOB"),
)
INDEXES = """
CREATE INDEX IF NOT EXISTS pending_by_arrival ON pending (known, arrived);
"""


@dataclass(frozen=True)
class Bounds:
    """What may wait at most; counts are changes, sizes are encoded envelope bytes."""

    count: int = 10_000
    size: int = 64 << 20
    per_signer: int = 2_000
    per_signer_size: int = 16 << 20
    per_peer: int = 5_000
    per_peer_size: int = 32 << 20
    unknown: int = 1_000  # all unknown signers together
    unknown_size: int = 4 << 20
    per_unknown_signer: int = 100
    known_ttl: float = 14 * 86_400.0
    unknown_ttl: float = 3_600.0


BOUNDS = Bounds()
REFRESH_SECONDS = 1.0


@dataclass(frozen=True)
class Waiting:
    """One pending change as released for judging again."""

    hash: bytes
    envelope: bytes
    vouch: bytes | None  # the hash of the change that vouched for it, if it has no signature


class PendingSet:
    """The pending tables of one store connection (daemon/store/sqlite.py creates them)."""

    def __init__(self, db: sqlite3.Connection, bounds: Bounds = BOUNDS) -> None:
        self.db = db
        self.bounds = bounds
        columns = {row[1] for row in db.execute("PRAGMA table_info(pending)")}
        for name, kind in MIGRATIONS:
            if name not in columns:
                db.execute(f"ALTER TABLE pending ADD COLUMN {name} {kind}")
        # Changes parked before the bounds existed count as unknown: junk among them expires.
        db.execute("UPDATE pending SET size = length(envelope), arrived = ?, known = 0, peer = ''"
                   " WHERE arrived IS NULL", (time.time(),))
        create_schema(db, INDEXES)
        self._fresh_at: float | None = None
        # Set by the store inside a transaction, where nobody else writes: an empty set
        # answers release and discard without a query (daemon/store/sqlite.py).
        self.empty = False
        self._count = self._size = self._unknown = self._unknown_size = 0
        self._signers: Counter[bytes] = Counter()
        self._signer_sizes: Counter[bytes] = Counter()
        self._peers: Counter[str] = Counter()
        self._peer_sizes: Counter[str] = Counter()

    def stale(self) -> None:
        """The counters may count what a rolled-back transaction added: read them again."""
        self._fresh_at = None

    def refresh(self, now: float) -> None:
        """Drop what expired and read the counters again, at most once per REFRESH_SECONDS
        (each ingest batch asks; between two, this process keeps them itself)."""
        if self._fresh_at is not None and 0 <= now - self._fresh_at < REFRESH_SECONDS:
            return
        b = self.bounds
        expired = [r[0] for r in self.db.execute(
            "SELECT hash FROM pending WHERE (known = 0 AND arrived < ?) OR (known = 1 AND arrived < ?)",
            (now - b.unknown_ttl, now - b.known_ttl))]
        self._delete(expired)
        self._signers.clear()
        self._signer_sizes.clear()
        self._peers.clear()
        self._peer_sizes.clear()
        self._count = self._size = self._unknown = self._unknown_size = 0
        for signer, peer, known, n, size in self.db.execute(
                "SELECT signer, peer, known, count(*), sum(size) FROM pending"
                " GROUP BY signer, peer, known"):
            self._counted(bytes(signer or b""), peer or "", bool(known), int(n), int(size or 0))
        self._fresh_at = now

    def _counted(self, signer: bytes, peer: str, known: bool, n: int, size: int) -> None:
        self._count += n
        self._size += size
        self._signers[signer] += n
        self._signer_sizes[signer] += size
        self._peers[peer] += n
        self._peer_sizes[peer] += size
        if not known:
            self._unknown += n
            self._unknown_size += size

    def add(self, vc: VerifiedChange, missing: tuple[bytes, ...], awaiting_doc: str | None,
            peer: str, known: bool, now: float) -> bool:
        """Park a change until what it needs arrives; False when it finds no room (deferred)."""
        h = vc.change.hash
        if self.db.execute("SELECT 1 FROM pending WHERE hash = ?", (h,)).fetchone():
            self.db.executemany("INSERT OR IGNORE INTO pending_missing (hash, missing) VALUES (?,?)",
                                [(h, m) for m in missing])
            return True
        self.refresh(now)
        encoded = vc.envelope.encode()
        size, signer = len(encoded), vc.envelope.signer
        if not self._room(signer, peer, known, size):
            return False
        self.empty = False
        self.db.execute(
            "INSERT INTO pending (hash, doc, envelope, awaiting_doc, signer, peer, size, arrived, known,"
            " vouch) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (h, vc.envelope.doc_id, encoded, awaiting_doc, signer, peer, size, now, int(known),
             vc.vouch))
        self.db.executemany("INSERT OR IGNORE INTO pending_missing (hash, missing) VALUES (?,?)",
                            [(h, m) for m in missing])
        self._counted(signer, peer, known, 1, size)
        return True

    def _room(self, signer: bytes, peer: str, known: bool, size: int) -> bool:
        b = self.bounds
        if (self._peers[peer] + 1 > b.per_peer or self._peer_sizes[peer] + size > b.per_peer_size
                or self._signer_sizes[signer] + size > b.per_signer_size):
            return False
        if not known:
            return (self._signers[signer] + 1 <= b.per_unknown_signer
                    and self._unknown + 1 <= b.unknown and self._unknown_size + size <= b.unknown_size
                    and self._count + 1 <= b.count and self._size + size <= b.size)
        if self._signers[signer] + 1 > b.per_signer:
            return False
        return self._push_out_unknown(size)

    def _push_out_unknown(self, size: int) -> bool:
        """Make room for a known signer's change by dropping the oldest unknown ones."""
        b = self.bounds
        over_count = self._count + 1 - b.count
        over_size = self._size + size - b.size
        if over_count <= 0 and over_size <= 0:
            return True
        victims: list[bytes] = []
        freed_count = freed_size = 0
        for h, n in self.db.execute("SELECT hash, size FROM pending WHERE known = 0 ORDER BY arrived"):
            if freed_count >= over_count and freed_size >= over_size:
                break
            victims.append(bytes(h))
            freed_count += 1
            freed_size += int(n or 0)
        if freed_count < over_count or freed_size < over_size:
            return False
        self._delete(victims)
        self._fresh_at = None  # the counters of the victims' signers and peers changed
        self.refresh(time.time())
        return True

    def _delete(self, hashes: list[bytes]) -> None:
        self.db.executemany("DELETE FROM pending WHERE hash = ?", [(h,) for h in hashes])
        self.db.executemany("DELETE FROM pending_missing WHERE hash = ?", [(h,) for h in hashes])

    def discard(self, change_hash: bytes) -> None:
        """A change that was judged (stored or rejected) leaves the set, if it was in it."""
        if self.empty:
            return
        row = self.db.execute("SELECT signer, peer, known, size FROM pending WHERE hash = ?",
                              (change_hash,)).fetchone()
        if row is None:
            return
        self._delete([change_hash])
        self._counted(bytes(row[0] or b""), row[1] or "", bool(row[2]), -1, -int(row[3] or 0))

    def discard_descendants(self, change_hash: bytes) -> list[bytes]:
        """A change that can never be held here (refused as a conflict: what it contradicts is
        held for good) would leave what waits on it waiting until it expired: those changes,
        and what waits on them in turn, leave the set. Their hashes."""
        gone: list[bytes] = []
        queue = [change_hash]
        while queue and not self.empty:
            for (waiting,) in self.db.execute("SELECT hash FROM pending_missing WHERE missing = ?",
                                              (queue.pop(),)).fetchall():
                self.discard(bytes(waiting))
                gone.append(bytes(waiting))
                queue.append(bytes(waiting))
        return gone

    def release(self, arrived_hash: bytes, arrived_doc: str) -> list[Waiting]:
        """The changes that `arrived_hash` (of `arrived_doc`) may let in, in arrival order.

        They stay in the set until judged: `discard` once judged, or parked again by `add`.
        Only the changes that named `arrived_hash`, or waited for `arrived_doc`, are looked
        at, through indexes: a full set costs an honest arrival nothing."""
        if self.empty:
            return []
        named = [bytes(r[0]) for r in self.db.execute(
            "SELECT hash FROM pending_missing WHERE missing = ?", (arrived_hash,))]
        self.db.execute("DELETE FROM pending_missing WHERE missing = ?", (arrived_hash,))
        named += [bytes(r[0]) for r in self.db.execute(
            "SELECT hash FROM pending WHERE awaiting_doc = ?", (arrived_doc,))]
        ready = []
        for h in dict.fromkeys(named):
            row = self.db.execute(
                "SELECT rowid, envelope, vouch FROM pending p WHERE hash = ? AND NOT EXISTS"
                " (SELECT 1 FROM pending_missing m WHERE m.hash = p.hash)", (h,)).fetchone()
            if row is not None:
                vouch = None if row[2] is None else bytes(row[2])
                ready.append((int(row[0]), Waiting(h, bytes(row[1]), vouch)))
        return [waiting for _, waiting in sorted(ready, key=lambda r: r[0])]

    def chunk(self, change_hash: bytes, doc_id: str) -> bytes | None:
        """The canonical chunk of a change of `doc_id` waiting here (None: none waits)."""
        row = self.db.execute("SELECT envelope, vouch FROM pending WHERE hash = ? AND doc = ?",
                              (change_hash, doc_id)).fetchone()
        return None if row is None else decode_envelope(bytes(row[0]), row[1] is not None).change

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def by_doc(self) -> dict[str, int]:
        return {doc: int(n) for doc, n in self.db.execute("SELECT doc, count(*) FROM pending GROUP BY doc")}

    def missing(self) -> list[bytes]:
        """Hashes that some pending change still waits for."""
        return [bytes(r[0]) for r in self.db.execute(
            "SELECT DISTINCT missing FROM pending_missing ORDER BY missing")]
