"""The fast leximin lottery (daemon/services/lottery.py) against the plain column generation it replaced.

Leximin chances are unique, so two correct methods must agree on every
volunteer's chance, up to the published weights' rounding (sortition.md:
weights adding up to about 2^20). The reference (bench/leximin_reference.py)
is slow, so the pools here are small; `make bench lottery` compares them at
citizens' assembly sizes.
"""

from __future__ import annotations

from fractions import Fraction

import pytest
from pnyx.daemon.services.lottery import fair_portfolio
from pnyx.federation.sortition import Candidate, Post, Quota, chances, check_portfolio

from bench.leximin_reference import fair_portfolio as reference_portfolio
from bench.lottery import citizens_pool

PRECISION = Fraction(1, 50_000)  # two roundings to 2^-20 steps, summed over a volunteer's panels


def skewed_areas() -> tuple[dict[str, Candidate], Post]:
    """Two areas and two age bands, one volunteer the quotas cannot seat (an age band with 0 seats)."""
    pool = {f"p{i:02d}": Candidate(f"p{i:02d}", {"area": "hills" if i % 4 == 0 else "river",
                                                   "age": "young" if i % 3 == 0 else "old"})
            for i in range(30)}
    pool["p99"] = Candidate("p99", {"area": "river", "age": "child"})
    post = Post(5, (Quota("area", "hills", 2, 3), Quota("age", "young", 2, 2), Quota("age", "child", 0, 0)))
    return pool, post


CASES = {
    "citizens-40/6": citizens_pool(40, 6, seed=3),
    "citizens-70/8": citizens_pool(70, 8, seed=5),
    "skewed-areas": skewed_areas(),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_fast_lottery_gives_every_volunteer_the_reference_chance(name: str) -> None:
    pool, post = CASES[name]
    fast, slow = fair_portfolio(pool, post), reference_portfolio(pool, post)
    check_portfolio(pool, post, fast)
    new, old = chances(pool, fast), chances(pool, slow)
    for cid in pool:
        assert abs(new[cid] - old[cid]) <= PRECISION, (cid, float(new[cid]), float(old[cid]))
    seated = [c for c in new.values() if c > 0]
    assert min(seated) >= min(c for c in old.values() if c > 0) - PRECISION


def test_volunteers_with_the_same_profile_get_the_same_chance() -> None:
    pool, post = citizens_pool(120, 12, seed=7)
    given = chances(pool, fair_portfolio(pool, post))
    by_profile: dict[tuple[tuple[str, str], ...], list[Fraction]] = {}
    for cid, candidate in pool.items():
        by_profile.setdefault(tuple(sorted(candidate.attributes.items())), []).append(given[cid])
    assert any(len(c) > 1 for c in by_profile.values())
    for shares in by_profile.values():
        assert max(shares) - min(shares) <= PRECISION, shares


def test_a_volunteer_the_quotas_cannot_seat_gets_zero_and_nobody_else_does() -> None:
    pool, post = skewed_areas()
    given = chances(pool, fair_portfolio(pool, post))
    assert given["p99"] == 0
    assert all(c > 0 for cid, c in given.items() if cid != "p99")


def test_the_same_pool_gives_the_same_lottery_every_time() -> None:
    pool, post = citizens_pool(150, 15, seed=11)
    assert fair_portfolio(pool, post) == fair_portfolio(pool, post)
