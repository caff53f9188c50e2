"""The leximin lottery for citizens' assembly pools: the profile method against plain column generation.

Pools are drawn the way citizens' assemblies recruit: volunteers answer an
invitation, so the pool over-represents the old, the educated and the
concerned, and the post's quotas follow the population (for each of five
categories of 2 to 6 values, the seats a value's population share gives,
rounded down and up). Two sizes: 300 volunteers for 20 seats, and 1,000 (the most a
pool may hold, sortition.md SP1) for 50. The baseline, in the same run, is the plain column
generation the lottery used before (bench/leximin_reference.py), run in a
child process stopped after BUDGET seconds; so is the new method, whose
largest pools do not finish yet (issue 15), so the bench says so and goes on. Where both finish,
every volunteer's chance is compared: the largest difference, and the
smallest chance of each, are printed.
"""

from __future__ import annotations

import math
import multiprocessing
import random
import time
from collections.abc import Callable
from fractions import Fraction

from pnyx.daemon.services.lottery import fair_portfolio
from pnyx.federation.sortition import Candidate, DrawError, Portfolio, Post, Quota, chances, check_portfolio

from .leximin_reference import fair_portfolio as reference_portfolio

SIZES = ((300, 20), (1_000, 50))
BUDGET = 300.0
CATEGORIES: dict[str, dict[str, tuple[float, float]]] = {  # value: (population share, volunteer share)
    "gender": {"woman": (0.51, 0.44), "man": (0.49, 0.56)},
    "age": {"16-29": (0.20, 0.12), "30-44": (0.25, 0.20), "45-59": (0.25, 0.27), "60-74": (0.20, 0.28),
            "75+": (0.10, 0.13)},
    "area": {"north": (0.22, 0.25), "south": (0.18, 0.14), "east": (0.15, 0.17), "west": (0.20, 0.22),
             "centre": (0.15, 0.16), "islands": (0.10, 0.06)},
    "education": {"primary": (0.35, 0.14), "secondary": (0.40, 0.36), "degree": (0.25, 0.50)},
    "climate": {"very": (0.30, 0.46), "fairly": (0.35, 0.31), "little": (0.20, 0.14), "none": (0.15, 0.09)},
}


def citizens_pool(volunteers: int, seats: int, seed: int = 1) -> tuple[dict[str, Candidate], Post]:
    """A volunteer pool skewed as recruitment skews it, and population quotas rounded down and up."""
    rng = random.Random(seed)
    pool = {}
    for n in range(volunteers):
        attributes = {attribute: rng.choices(list(values), [v[1] for v in values.values()])[0]
                      for attribute, values in CATEGORIES.items()}
        pool[f"v{n:04d}"] = Candidate(f"v{n:04d}", attributes)
    quotas = tuple(Quota(attribute, value, math.floor(share * seats), math.ceil(share * seats))
                   for attribute, values in CATEGORIES.items() for value, (share, _) in values.items())
    return pool, Post(seats, quotas)


def timed(make: Callable[[dict[str, Candidate], Post], Portfolio], volunteers: int, seats: int,
          ) -> tuple[float, Portfolio]:
    pool, post = citizens_pool(volunteers, seats)
    start = time.perf_counter()
    portfolio = make(pool, post)
    return time.perf_counter() - start, portfolio


def within_budget(make: Callable[[dict[str, Candidate], Post], Portfolio], volunteers: int, seats: int,
                  ) -> tuple[float, Portfolio] | str:
    """A method's time and lottery, else why there is none: still solving after the budget,
    or refused (DrawError: the solver gave up)."""
    with multiprocessing.get_context("fork").Pool(1) as child:
        pending = child.apply_async(timed, (make, volunteers, seats))
        try:
            return pending.get(BUDGET)
        except multiprocessing.TimeoutError:
            child.terminate()
            return f"not finished within {BUDGET:.0f} s"
        except DrawError as refused:
            return f"refused: {refused}"


def run() -> None:
    print(f"{'pool/seats':>12} {'profiles':>8} {'panels':>6} {'new s':>7} {'baseline s':>11} {'speed-up':>8} "
          f"{'max |diff|':>10} {'min new':>8} {'min old':>8}")
    for volunteers, seats in SIZES:
        pool, post = citizens_pool(volunteers, seats)
        profiles = len({tuple(sorted(c.attributes.items())) for c in pool.values()})
        done = within_budget(fair_portfolio, volunteers, seats)
        if isinstance(done, str):
            print(f"{volunteers:>6}/{seats:<5} {profiles:>8} {done}", flush=True)
            continue
        took, portfolio = done
        check_portfolio(pool, post, portfolio)
        new = chances(pool, portfolio)
        old = within_budget(reference_portfolio, volunteers, seats)
        low = float(min(new.values()))
        if isinstance(old, str):  # the baseline did not finish (or gave up) within the budget
            budget, ratio = f">{BUDGET:.0f}", f">{BUDGET / took:.1f}"
            print(f"{volunteers:>6}/{seats:<5} {profiles:>8} {len(portfolio):>6} {took:>7.1f} {budget:>11} "
                  f"{ratio:>8} {'-':>10} {low:>8.5f} {'-':>8}", flush=True)
            continue
        was = chances(pool, old[1])
        diff = max(abs(new[c] - was[c]) for c in pool)
        print(f"{volunteers:>6}/{seats:<5} {profiles:>8} {len(portfolio):>6} {took:>7.1f} {old[0]:>11.1f} "
              f"{old[0] / took:>8.1f} {float(diff):>10.2e} {low:>8.5f} {float(min(was.values())):>8.5f}",
              flush=True)
        assert diff < Fraction(1, 10_000), "the two methods disagree on someone's chance"
