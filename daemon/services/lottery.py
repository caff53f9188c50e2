"""The organiser's side of a draw: a lottery over panels, chances as equal as the quotas allow.

This is LEXIMIN from Flanigan et al., "Fair algorithms for selecting
citizens' assemblies" (Nature, 2021), by column generation: a linear
program finds the best mix of the panels found so far, and an integer program
(the pricing step) looks for a panel that would raise the smallest chance;
when none can, the candidates holding the floor down are fixed there and
the next stage raises the rest. Candidates whom no panel meeting the quotas can seat
are left at chance 0, rather than dragging everyone else down.

What makes it fast for citizens' assembly pools (2,000 volunteers, 100
seats, five categories) rests on one fact: volunteers who declared the same
value for every quota's attribute (a *profile*) are interchangeable, and the
leximin chances are unique, so all of a profile get the same chance. So

1. the leximin stages run over profiles, not volunteers: a column says how
   many seats each profile gets, the pricing program has one small integer
   per profile, and the symmetric duals that make volunteer-level column
   generation crawl (each round seating other volunteers of the same
   profile) do not arise;
2. each profile-level panel is then turned into panels of volunteers by
   rotating each profile's seats along its volunteers, and one last linear
   program over volunteers (same column generation, one stage) mixes those
   panels so that everyone gets their profile's chance.

Each round the integer program looks for a column that gains (told the
price to beat, it stops at the first), and a local search (swap one seat
between profiles while a swap within the quotas gains) adds, in
milliseconds, the nearby columns that also gain; a stage ends when the
integer program proves none does. Pricing by local search alone until it
found nothing, and only then by the integer program, made thousands of
rounds of weak columns that barely moved the floor (issue 15). Columns a
stage's mix does not use are dropped before the next.
The linear program stays warm in HiGHS between rounds.

The result is published as integer weights (federation/sortition.py), so a
reader never needs this module or its solver: it checks the published
lottery, not how it was found. Solving is floating point and may differ by
machine; what is recorded does not. bench/leximin_reference.py keeps the
plain column generation this replaces, as the baseline of `make bench
lottery` and the oracle of tests/test_lottery.py.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pnyx.federation.sortition import Candidate, DrawError, Portfolio, Post, canonical, check_post

# scipy's own copy of HiGHS, the solver its linprog and milp run, through the bindings that scipy
# vendors from highspy: a model kept between solves needs them, and the public highspy package would
# be a second copy of the same solver that prints a banner on stdout when first used.
from scipy.optimize._highspy import _core as highspy

log = logging.getLogger("pnyx.lottery")  # each stage, as a large pool takes minutes (`pnyx sortition draw`)
RESOLUTION = 2**20  # the published weights' total, about: fine enough that rounding moves a chance < 1e-5
MAX_ROUNDS = 2000
EPSILON = 1e-9
TOLERANCE = 1e-7  # a fixed chance may give this much, so rounding never makes a stage infeasible
STARTS = 3  # panels the local search starts from, each round
TURNS = 16  # at most this many rotations of each profile-level panel


@dataclass(frozen=True)
class Groups:
    """Who the quotas count, in groups whose members are interchangeable.

    A column seats `counts[g]` of group g's `sizes[g]` members. The groups are
    profiles for the leximin stages and single volunteers for the last mix.
    """

    quotas: np.ndarray  # one row per quota (the first: every seat), one column per group
    low: np.ndarray
    high: np.ndarray
    sizes: np.ndarray

    def improve(self, counts: np.ndarray, value: np.ndarray) -> np.ndarray:
        """`counts` with one seat moved from group to group while a move within the quotas gains
        `value`: a column found in milliseconds that is often as good as the best."""
        counts = counts.copy()
        seated = self.quotas @ counts
        for _ in range(int(self.quotas[0] @ counts)):
            givers = np.flatnonzero(counts > 0)
            takers = np.flatnonzero((counts < self.sizes) & (value > value[givers].min() + EPSILON))
            if not len(takers):
                break
            after = (seated[None, :, None] - self.quotas[:, givers].T[:, :, None]
                     + self.quotas[:, takers][None])  # quota counts after each move: giver x quota x taker
            fits = ((after >= self.low[None, :, None]) & (after <= self.high[None, :, None])).all(axis=1)
            gain = np.where(fits, value[takers][None, :] - value[givers][:, None], -np.inf)
            give, take = np.unravel_index(int(np.argmax(gain)), gain.shape)
            if gain[give, take] <= EPSILON:
                break
            counts[givers[give]] -= 1
            counts[takers[take]] += 1
            seated += self.quotas[:, takers[take]] - self.quotas[:, givers[give]]
        return counts


@dataclass(frozen=True)
class Profiles:
    """The pool's volunteers (ids sorted) and their profiles: same value for every quota's attribute."""

    ids: list[str]
    volunteers: Groups
    profiles: Groups
    profile: np.ndarray  # each volunteer's profile number
    members: list[np.ndarray]  # each profile's volunteers, in id order

    @classmethod
    def of(cls, pool: Mapping[str, Candidate], post: Post) -> Profiles:
        ids = sorted(pool)
        rows = [np.ones(len(ids))]
        low, high = [float(post.seats)], [float(post.seats)]
        for quota in post.quotas:
            rows.append(np.array([1.0 if pool[i].attributes.get(quota.attribute) == quota.value else 0.0
                                  for i in ids]))
            low.append(float(quota.min))
            high.append(float(quota.max))
        matrix = np.vstack(rows)
        columns, first, profile = np.unique(matrix.T, axis=0, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # profiles numbered by their first volunteer
        number = np.empty(len(order), dtype=np.int64)
        number[order] = np.arange(len(order))
        profile = number[profile.reshape(-1)]
        members = [np.flatnonzero(profile == p) for p in range(len(order))]
        bounds = np.array(low), np.array(high)
        return cls(ids, Groups(matrix, *bounds, np.ones(len(ids), dtype=np.int64)),
                   Groups(columns[order].T, *bounds, np.array([len(m) for m in members])), profile, members)

    def turns(self, counts: np.ndarray) -> list[np.ndarray]:
        """Panels of volunteers seating `counts` of each profile, rotated along each profile's volunteers.

        Turn r seats, of a profile of n volunteers with c seats, the c
        volunteers from place r*c (mod n) on, so n/gcd(n, c) turns seat every
        one of them equally often; at most TURNS are made, and the last mix
        weighs them.
        """
        used = np.flatnonzero(counts)
        periods = [len(self.members[p]) // np.gcd(len(self.members[p]), counts[p]) for p in used]
        panels = []
        for turn in range(min(TURNS, max(periods, default=1))):
            seats = np.zeros(len(self.ids), dtype=np.int64)
            for p in used:
                group = self.members[p]
                seats[group[(turn * counts[p] + np.arange(counts[p])) % len(group)]] = 1
            panels.append(seats)
        return panels


class Pricer:
    """The pricing program of `groups`, built once: the counts meeting the quotas with the most value.

    Only the objective changes from round to round. Told the price to beat,
    HiGHS prunes every branch that cannot beat it and stops at the first
    count that does, which the local search then improves.
    """

    def __init__(self, groups: Groups) -> None:
        self.groups = groups
        self.highs = quiet_highs()
        self.highs.setOptionValue("mip_rel_gap", 0.0)  # a gap would prune columns just above the price
        self.highs.setOptionValue("mip_abs_gap", EPSILON / 10)
        count = len(groups.sizes)
        self.highs.addVars(count, np.zeros(count), groups.sizes.astype(float))
        self.highs.changeColsIntegrality(count, np.arange(count, dtype=np.int32),
                                         np.full(count, highspy.HighsVarType.kInteger))
        for row, low, high in zip(groups.quotas, groups.low, groups.high, strict=True):
            used = np.flatnonzero(row).astype(np.int32)
            self.highs.addRow(low, high, len(used), used, row[used])

    def best(self, value: np.ndarray, beat: float = -np.inf) -> np.ndarray | None:
        """Counts meeting the quotas worth more than `beat` (the most, when `beat` is not given),
        or None if there are none."""
        count = len(value)
        self.highs.changeColsCost(count, np.arange(count, dtype=np.int32), -value)
        self.highs.setOptionValue("objective_bound", -beat)
        for limit in ((1, 2**31 - 1) if beat > -np.inf else (2**31 - 1,)):
            self.highs.setOptionValue("mip_max_improving_sols", limit)
            self.highs.run()
            if self.highs.getInfo().primal_solution_status != 2:  # nothing within the quotas beats it
                return None
            counts = np.round(np.asarray(self.highs.getSolution().col_value)).astype(np.int64)
            if float(value @ counts) > beat:
                return counts
        return None


def quiet_highs() -> highspy._Highs:
    """A HiGHS instance that prints nothing and solves the same way on every run."""
    highs = highspy._Highs()
    for option, setting in (("output_flag", False), ("threads", 1), ("random_seed", 0)):
        highs.setOptionValue(option, setting)
    return highs


def fair_portfolio(pool: Mapping[str, Candidate], post: Post) -> Portfolio:
    """A leximin lottery over panels that fill `post` from `pool`; DrawError if no panel can.

    Leximin: the smallest chance as large as possible, then the next smallest,
    and so on, each stage fixing the candidates whose chance cannot rise
    without lowering someone's already fixed.
    """
    check_post(pool, post)
    people = Profiles.of(pool, post)
    pricer = Pricer(people.profiles)
    columns = covering(people.profiles, pricer)
    seated = np.flatnonzero(np.sum(columns, axis=0) > 0)
    stages = Master(people.profiles.sizes, seated, np.zeros(len(seated)))
    for counts in columns:
        stages.add(counts)
    start = time.monotonic()
    while stages.free.any():
        duals = raise_floor(stages, people.profiles, pricer)
        tight = stages.free & (duals > EPSILON)
        stages.fix(tight if tight.any() else stages.free)
        log.info("lottery: %d of %d profiles have their chance (this stage's: %.5f), %d panels, %.0f s",
                 len(seated) - int(stages.free.sum()), len(seated), stages.floor, len(stages.columns),
                 time.monotonic() - start)
    chance = stages.chances()[people.profile]
    who = np.flatnonzero(chance > 0)
    last = Master(people.volunteers.sizes, who, chance[who] - TOLERANCE)
    for counts, weight in zip(stages.columns, stages.mix(), strict=True):
        if weight > 0:
            for panel in people.turns(counts):
                last.add(panel)
    raise_floor(last, people.volunteers, Pricer(people.volunteers))
    return canonical((tuple(people.ids[i] for i in np.flatnonzero(panel)), round(p * RESOLUTION))
                     for panel, p in zip(last.columns, last.mix(), strict=True))


def covering(groups: Groups, pricer: Pricer) -> list[np.ndarray]:
    """Columns that seat every group some column can seat; DrawError if no column meets the quotas."""
    uncovered = np.ones(len(groups.sizes), dtype=bool)
    columns: list[np.ndarray] = []
    while uncovered.any():
        counts = pricer.best(uncovered / groups.sizes)
        if counts is None:
            raise DrawError("SR1", "no panel meets the quotas from this pool")
        if not uncovered[counts > 0].any():
            break
        columns.append(counts)
        uncovered[counts > 0] = False
    return columns


def raise_floor(master: Master, groups: Groups, pricer: Pricer) -> np.ndarray:
    """Add columns until none would raise the master's floor; the duals of its last solve.

    The integer program runs every round: its column steers the stage
    towards the optimum, where local-search columns alone tail off (at 1,000
    volunteers the second stage took 1,688 rounds that way, about 160 this
    way), and when it finds none the stage is proven done.
    """
    for _ in range(MAX_ROUNDS):
        duals, price = master.solve()
        value = duals / groups.sizes
        found = [c for c in (groups.improve(c, value) for c in master.best(value, STARTS))
                 if master.gains(c, value, price)]
        best = pricer.best(value, price + EPSILON)
        if best is not None and master.gains(best, value, price):
            found.append(groups.improve(best, value))  # from the first that gains, the best nearby
        if not found:
            return duals
        for counts in found:
            master.add(counts)
    return master.solve()[0]


class Master:
    """The linear program over the columns found so far, kept warm between solves.

    A row per group held (profile or volunteer): the column-weighted share of
    its seats, less the floor z while it is free, is at least its lower bound
    (0, its target chance, or its fixed chance); a last row makes the mix add
    up to 1. Column 0 is z, maximised; then one column per panel. HiGHS keeps
    its basis, so adding panels or fixing groups costs a few pivots, not a solve.
    """

    def __init__(self, sizes: np.ndarray, held: np.ndarray, lower: np.ndarray) -> None:
        self.sizes = sizes
        self.row = np.full(len(sizes), -1)
        self.row[held] = np.arange(len(held))
        self.free = np.zeros(len(sizes), dtype=bool)
        self.free[held] = True
        self.columns: list[np.ndarray] = []
        self.stack = np.zeros((16, len(sizes)))  # the columns as rows, with room to grow
        self.known: set[bytes] = set()
        self.floor = 0.0
        self.highs = quiet_highs()
        self.highs.setOptionValue("presolve", "off")  # so that HiGHS starts from its last basis
        self.highs.setOptionValue("simplex_strategy", 4)  # primal simplex: new columns keep it feasible
        # shares within 1e-7 (HiGHS's default) of a bound fixed TOLERANCE below them could add up, stage
        # after stage, to a model HiGHS finds infeasible
        self.highs.setOptionValue("primal_feasibility_tolerance", TOLERANCE / 100)
        inf = highspy.kHighsInf
        rows = self.convexity = len(held)
        self.highs.addRows(rows + 1, np.append(lower, 1.0), np.append(np.full(rows, inf), 1.0),
                           0, np.zeros(rows + 2, dtype=np.int32), np.zeros(0, dtype=np.int32), np.zeros(0))
        self.highs.addCol(1.0, -inf, inf, rows, np.arange(rows, dtype=np.int32), -np.ones(rows))
        self.highs.changeObjectiveSense(highspy.ObjSense.kMaximize)

    def add(self, counts: np.ndarray) -> None:
        """One more column to mix, unless it is already there."""
        key = counts.tobytes()
        if key in self.known:
            return
        self.known.add(key)
        if len(self.columns) == len(self.stack):
            self.stack = np.vstack([self.stack, np.zeros_like(self.stack)])
        self.stack[len(self.columns)] = counts
        self.columns.append(counts)
        used = np.flatnonzero(counts)
        rows = np.append(self.row[used], self.convexity).astype(np.int32)
        shares = np.append(counts[used] / self.sizes[used], 1.0)
        self.highs.addCol(0.0, 0.0, highspy.kHighsInf, len(rows), rows, shares)

    def solve(self) -> tuple[np.ndarray, float]:
        """Each group's dual value (how much its share holds the floor down), which prices new
        columns, and the price a new column must beat (the dual of "the mix adds up to 1")."""
        self.highs.run()
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            self.highs.clearSolver()  # a warm start gone wrong numerically: once more from scratch,
            self.highs.setOptionValue("simplex_strategy", 1)  # by dual simplex, which HiGHS's primal
            self.highs.run()  # simplex has been seen to give up on as infeasible
            self.highs.setOptionValue("simplex_strategy", 4)
        if self.highs.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            raise DrawError("SR1", f"the lottery could not be solved: {self.highs.getModelStatus()}")
        solution = self.highs.getSolution()
        row_dual = np.asarray(solution.row_dual)
        self.floor = float(solution.col_value[0])
        duals = np.zeros(len(self.row))
        held = self.row >= 0
        duals[held] = -row_dual[self.row[held]]
        return duals, float(row_dual[-1])

    def gains(self, counts: np.ndarray, value: np.ndarray, price: float) -> bool:
        """Whether `counts` is a new column whose `value` beats the `price`."""
        return float(value @ counts) > price + EPSILON and counts.tobytes() not in self.known

    def best(self, value: np.ndarray, count: int) -> list[np.ndarray]:
        """The `count` columns of most `value`."""
        totals = self.stack[:len(self.columns)] @ value
        return [self.columns[i] for i in np.argsort(-totals, kind="stable")[:count]]

    def fix(self, groups: np.ndarray) -> None:
        """Hold `groups` at the floor just found (less TOLERANCE) from now on."""
        self.drop_unused()
        for group in np.flatnonzero(groups):
            row = int(self.row[group])
            self.highs.changeCoeff(row, 0, 0.0)
            self.highs.changeRowBounds(row, self.floor - TOLERANCE, highspy.kHighsInf)
        self.free &= ~groups

    def drop_unused(self) -> None:
        """Forget the columns the last mix does not use: the next stage prices its own, and a linear
        program thousands of columns long made each round slower (1,000 volunteers: 2,500 by stage 5)."""
        unused = np.flatnonzero(self.mix() <= 0)
        if not len(unused):
            return
        self.highs.deleteCols(len(unused), (unused + 1).astype(np.int32))  # column 0 is z
        keep = np.setdiff1d(np.arange(len(self.columns)), unused)
        self.columns = [self.columns[i] for i in keep]
        self.stack = np.vstack([self.stack[keep], np.zeros((max(16, len(keep)), self.stack.shape[1]))])
        self.known = {c.tobytes() for c in self.columns}
        self.solve()  # the same optimum, the unused columns being out of the basis, now with its mix

    def mix(self) -> np.ndarray:
        """Each column's weight in the last solve."""
        weights: np.ndarray = np.maximum(np.asarray(self.highs.getSolution().col_value[1:]), 0.0)
        return weights

    def chances(self) -> np.ndarray:
        """Each group's share of seats in the current mix (0 for groups not held)."""
        share: np.ndarray = self.mix() @ self.stack[:len(self.columns)] / self.sizes
        return share
