"""The pending set's bounds (daemon/store/pending.py) on a real SQLite store: per signer, per
sender and in all, unknown signers last and first to go, expiry; an honest waiting change
is never pushed out by junk."""

from __future__ import annotations

from pathlib import Path

import pytest
from pnyx.daemon.store.pending import Bounds, PendingSet
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.envelope import VerifiedChange, check_envelope

from bench.attacks import waiting_junk
from bench.corpus import new_key

NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "pnyx.sqlite")


def waiting(n: int) -> list[VerifiedChange]:
    return [check_envelope(e) for e in waiting_junk(new_key(), n)]


def park(store: Store, changes: list[VerifiedChange], known: bool, peer: str = "peer",
         now: float = NOW) -> list[bool]:
    with store.transaction():
        return [store.pending.add(vc, vc.change.deps, None, peer, known, now) for vc in changes]


def bounded(store: Store, **bounds: float) -> PendingSet:
    store.pending = PendingSet(store.db, Bounds(**bounds))  # type: ignore[arg-type]
    return store.pending


def test_unknown_signers_share_a_small_part_and_never_push_out_a_known_one(store: Store) -> None:
    pending = bounded(store, count=6, unknown=4, per_unknown_signer=3)
    honest = waiting(2)
    assert park(store, honest, known=True) == [True, True]
    junk_a, junk_b = waiting(4), waiting(4)
    assert park(store, junk_a, known=False) == [True, True, True, False]  # 3 per signer
    assert park(store, junk_b, known=False) == [True, False, False, False]  # 4 unknown in all
    assert pending.count() == 6
    # The set is full: a known signer's change pushes out the oldest unknown one ...
    later = waiting(1)
    assert park(store, later, known=True) == [True]
    held = {bytes(r[0]) for r in store.db.execute("SELECT hash FROM pending")}
    assert junk_a[0].change.hash not in held and later[0].change.hash in held
    assert {vc.change.hash for vc in honest} <= held
    # ... while junk pushes out nothing.
    assert park(store, waiting(1), known=False) == [False]
    assert {vc.change.hash for vc in honest + later} <= {
        bytes(r[0]) for r in store.db.execute("SELECT hash FROM pending")}


def test_per_signer_and_per_sender_bounds(store: Store) -> None:
    bounded(store, per_signer=2, per_peer=3)
    one_signer = waiting(3)
    assert park(store, one_signer, known=True, peer="a") == [True, True, False]
    assert park(store, waiting(2), known=True, peer="a") == [True, False]  # "a" has 3
    assert park(store, waiting(2), known=True, peer="b") == [True, True]


def test_unknown_signers_expire_within_the_hour_known_ones_later(store: Store) -> None:
    pending = bounded(store, unknown_ttl=3_600.0, known_ttl=86_400.0)
    park(store, waiting(2), known=False, now=NOW)
    park(store, waiting(3), known=True, now=NOW)
    with store.transaction():
        pending.refresh(NOW + 3_601)
    assert pending.count() == 3
    with store.transaction():
        pending.refresh(NOW + 86_401)
    assert pending.count() == 0
    assert store.db.execute("SELECT count(*) FROM pending_missing").fetchone()[0] == 0


def test_a_change_parked_again_keeps_its_place(store: Store) -> None:
    pending = bounded(store, count=3)
    changes = waiting(3)
    park(store, changes, known=True)
    assert park(store, changes[:1], known=True) == [True]  # already there: not a new entry
    assert pending.count() == 3
