"""The lottery as pnyx drew it before profiles (daemon/services/lottery.py at 1057ec7): LEXIMIN by
plain column generation over volunteers, kept as the bench's baseline and the tests' oracle."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pnyx.federation.sortition import Candidate, DrawError, Panel, Portfolio, Post, canonical, check_post
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

RESOLUTION = 2**20  # the published weights' total, about: fine enough that rounding moves a chance < 1e-5
MAX_ROUNDS = 500
EPSILON = 1e-9
TOLERANCE = 1e-7  # a fixed chance may give this much, so rounding never makes a stage infeasible


def fair_portfolio(pool: Mapping[str, Candidate], post: Post) -> Portfolio:
    """A leximin lottery over panels that fill `post` from `pool`; DrawError if no panel can.

    Leximin: the smallest chance as large as possible, then the next smallest,
    and so on, each stage fixing the candidates whose chance cannot rise
    without lowering someone's already fixed.
    """
    check_post(pool, post)
    ids = sorted(pool)
    quotas = quota_constraint(ids, pool, post)
    panels: list[Panel] = []
    uncovered = set(ids)
    while uncovered:  # seat everyone who can be seated at least once
        panel = best_panel(ids, quotas, np.array([1.0 if i in uncovered else 0.0 for i in ids]))
        if panel is None:
            raise DrawError("SR1", "no panel meets the quotas from this pool")
        if not uncovered & set(panel):
            break
        panels.append(panel)
        uncovered -= set(panel)
    fixed: dict[str, float] = {}
    free = [i for i in ids if i not in uncovered]
    mix: list[float] = []
    while free:
        for _ in range(MAX_ROUNDS):
            mix, floor, duals = master(panels, free, fixed)
            candidate = best_panel(ids, quotas, np.array([duals.get(i, 0.0) for i in ids]))
            bound = max(sum(duals.get(i, 0.0) for i in panel) for panel in panels)
            if candidate is None or candidate in panels or \
                    sum(duals.get(i, 0.0) for i in candidate) <= bound + EPSILON:
                break
            panels.append(candidate)
        else:  # out of rounds with a panel just added: the mix must cover it
            mix, floor, duals = master(panels, free, fixed)
        tight = [i for i in free if duals.get(i, 0.0) > EPSILON] or free
        for person in tight:
            fixed[person] = floor
        free = [i for i in free if i not in fixed]
    return canonical((panel, round(p * RESOLUTION)) for panel, p in zip(panels, mix, strict=True))


def quota_constraint(ids: list[str], pool: Mapping[str, Candidate], post: Post) -> LinearConstraint:
    """Seats add up to the post's, and each quota's count lies within its bounds."""
    rows = [np.ones(len(ids))]
    low, high = [post.seats], [post.seats]
    for quota in post.quotas:
        rows.append(np.array([1.0 if pool[i].attributes.get(quota.attribute) == quota.value else 0.0
                              for i in ids]))
        low.append(quota.min)
        high.append(quota.max)
    return LinearConstraint(np.vstack(rows), low, high)


def best_panel(ids: list[str], quotas: LinearConstraint, value: np.ndarray) -> Panel | None:
    """The panel meeting the quotas with the largest total `value`, or None if none meets them."""
    result = milp(-value, constraints=[quotas], integrality=np.ones(len(ids)), bounds=Bounds(0, 1))
    if result.x is None:
        return None
    return tuple(sorted(i for i, x in zip(ids, result.x, strict=True) if x > 0.5))


def master(panels: list[Panel], free: list[str], fixed: Mapping[str, float]
           ) -> tuple[list[float], float, dict[str, float]]:
    """The mix of `panels` that keeps every `fixed` chance and maximises the smallest `free` one.

    Returns the mix, that smallest chance, and each constraint's dual value
    (how much a person's chance holds the floor down), which prices new panels.
    """
    people = free + sorted(fixed)
    k = len(panels)
    cost = np.zeros(k + 1)  # one probability per panel, then the floor z; maximise z
    cost[-1] = -1.0
    a_ub = np.zeros((len(people), k + 1))
    b_ub = np.zeros(len(people))
    for row, person in enumerate(people):
        for col, panel in enumerate(panels):
            if person in panel:
                a_ub[row, col] = -1.0
        if person in fixed:
            b_ub[row] = -(fixed[person] - TOLERANCE)
        else:
            a_ub[row, -1] = 1.0
    a_eq = np.zeros((1, k + 1))
    a_eq[0, :k] = 1.0
    result = linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0],
                     bounds=[(0, None)] * k + [(None, None)], method="highs")
    if result.status != 0:
        raise DrawError("SR1", f"the lottery could not be solved: {result.message}")
    duals = {person: -float(m) for person, m in zip(people, result.ineqlin.marginals, strict=True)}
    return [max(0.0, float(p)) for p in result.x[:k]], float(result.x[-1]), duals
