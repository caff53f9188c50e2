"""Verifiable sortition: a post filled by lot that anyone holding the records can recompute offline.

A draw is published in two steps, and the order is what makes it fair
(protocol-spec/sortition.md is normative):

1. The **portfolio**, before any randomness exists: the pool (candidates
   with the attributes they declared), the post's seats and quotas, and a
   lottery over panels that meet the quotas, each with an integer weight.
   Each candidate's chance of being drawn is the share of the weight of the
   panels they sit on; it is exact (a fraction), published, and checked by
   every reader, so "as equal a chance as the quotas allow" is a claim anyone
   can audit rather than a property of one organiser's computer.
2. The **seed**, from a commit-and-reveal among several assemblies: each
   commits to a secret by its hash, and reveals it only once it holds every
   commitment. While one participant keeps its secret until then, nobody,
   the organiser included, can choose or foresee the seed. The seed picks one
   panel of the portfolio by its weight.

Everything here is pure and integer or exact-fraction arithmetic, so every
machine draws the same panel and shows the same chances. How a portfolio is
made fair (the maximin lottery of daemon/services/lottery.py) is the
organiser's business; what a reader checks is only that it is well-formed,
meets the quotas, and was published before the seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "MAX_PANELS",
    "MAX_POOL",
    "MAX_SEATS",
    "Candidate",
    "DrawError",
    "Panel",
    "Portfolio",
    "Post",
    "Quota",
    "canonical",
    "chances",
    "check_portfolio",
    "check_post",
    "commitment",
    "meets_quotas",
    "pick",
    "seed",
]

MAX_POOL = 1000
MAX_SEATS = 100
MAX_PANELS = 2000
MAX_ID_CHARS = 64
MAX_WEIGHT_TOTAL = 2**53
SECRET_BYTES = 32
MIN_PARTICIPANTS = 2
COMMIT_DOMAIN = b"pnyx/sortition/commit/v1"
SEED_DOMAIN = b"pnyx/sortition/seed/v1"
PICK_DOMAIN = b"pnyx/sortition/pick/v1"


class DrawError(ValueError):
    """A pool, post, portfolio or reveal that breaks a numbered rule of protocol-spec/sortition.md."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(f"{rule}: {detail}")
        self.rule = rule
        self.detail = detail

    def __reduce__(self) -> tuple[type[DrawError], tuple[str, str]]:
        """Pickled as its rule and detail (an exception pickles as its class called on its
        args, here the one message): a lottery solved in a child process (bench lottery)
        reports its refusal to the parent, where unpickling it killed the pool's result thread."""
        return DrawError, (self.rule, self.detail)


@dataclass(frozen=True)
class Candidate:
    """A volunteer in the pool; `attributes` are what the quotas count (area, gender, age band...)."""

    id: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class Quota:
    """Between `min` and `max` seats (inclusive) go to candidates whose `attribute` is `value`."""

    attribute: str
    value: str
    min: int
    max: int


@dataclass(frozen=True)
class Post:
    seats: int
    quotas: tuple[Quota, ...]


Panel = tuple[str, ...]  # candidate ids, sorted
Portfolio = tuple[tuple[Panel, int], ...]  # (panel, weight), panels sorted and distinct


def meets_quotas(panel: Iterable[str], pool: Mapping[str, Candidate], post: Post) -> str | None:
    """Why `panel` cannot fill `post` from `pool`, or None when it can."""
    members = list(panel)
    if len(members) != post.seats:
        return f"a panel has {len(members)} seats, the post {post.seats}"
    if len(set(members)) != len(members):
        return "a panel names a candidate twice"
    unknown = [m for m in members if m not in pool]
    if unknown:
        return f"a panel names {unknown[0]}, who is not in the pool"
    for quota in post.quotas:
        held = sum(1 for m in members if pool[m].attributes.get(quota.attribute) == quota.value)
        if not quota.min <= held <= quota.max:
            return (f"a panel gives {held} seats to {quota.attribute}={quota.value}, "
                    f"the quota {quota.min}..{quota.max}")
    return None


def check_post(pool: Mapping[str, Candidate], post: Post) -> None:
    """The bounds every reader enforces before looking at a portfolio."""
    if not 1 <= len(pool) <= MAX_POOL:
        raise DrawError("SP1", f"the pool has {len(pool)} candidates; between 1 and {MAX_POOL} are allowed")
    if any(cid != c.id or not 1 <= len(cid) <= MAX_ID_CHARS for cid, c in pool.items()):
        raise DrawError("SP1", f"a candidate id is empty, longer than {MAX_ID_CHARS} or not its key")
    if not 1 <= post.seats <= min(MAX_SEATS, len(pool)):
        raise DrawError("SP2", f"{post.seats} seats for a pool of {len(pool)}")
    for quota in post.quotas:
        if not 0 <= quota.min <= quota.max <= post.seats:
            raise DrawError("SP3", f"the quota {quota.attribute}={quota.value} {quota.min}..{quota.max} "
                            f"does not fit {post.seats} seats")


def check_portfolio(pool: Mapping[str, Candidate], post: Post, portfolio: Portfolio) -> None:
    """Raise DrawError unless `portfolio` is a canonical lottery over panels that fill `post`."""
    check_post(pool, post)
    if not 1 <= len(portfolio) <= MAX_PANELS:
        raise DrawError("SR4", f"a portfolio of {len(portfolio)} panels; "
                               f"between 1 and {MAX_PANELS} are allowed")
    previous: Panel | None = None
    total = 0
    for panel, weight in portfolio:
        if list(panel) != sorted(panel):
            raise DrawError("SR1", "a panel's candidates are not in sorted order")
        if previous is not None and panel <= previous:
            raise DrawError("SR2", "the panels are not sorted and distinct")
        if weight < 1:
            raise DrawError("SR3", "a panel's weight is not a positive integer")
        reason = meets_quotas(panel, pool, post)
        if reason is not None:
            raise DrawError("SR1", reason)
        previous = panel
        total += weight
    if total > MAX_WEIGHT_TOTAL:
        raise DrawError("SR3", "the weights add up to more than 2^53")


def chances(pool: Mapping[str, Candidate], portfolio: Portfolio) -> dict[str, Fraction]:
    """Each candidate's exact chance of a seat: the weight of the panels they sit on over the total."""
    total = sum(weight for _, weight in portfolio)
    share = {cid: 0 for cid in pool}
    for panel, weight in portfolio:
        for cid in panel:
            share[cid] += weight
    return {cid: Fraction(w, total) for cid, w in sorted(share.items())}


def commitment(draw: str, assembly: bytes, secret: bytes) -> bytes:
    """What a participant publishes first: the hash that binds it to its secret for this draw."""
    if len(secret) != SECRET_BYTES:
        raise DrawError("SD1", f"a secret is {SECRET_BYTES} bytes")
    return hashlib.sha256(COMMIT_DOMAIN + draw.encode() + assembly + secret).digest()


def seed(draw: str, committed: Mapping[bytes, bytes], revealed: Mapping[bytes, bytes]) -> bytes:
    """The draw's seed from every participant's revealed secret, checked against its commitment.

    `committed` and `revealed` map participant assembly keys to commitment and
    secret. A missing or wrong reveal leaves the draw without a seed: the
    draw is void, never drawn from the reveals that came.
    """
    if len(committed) < MIN_PARTICIPANTS:
        raise DrawError("SD1", f"a draw needs at least {MIN_PARTICIPANTS} participants, so that no one "
                               "of them can foresee the seed")
    parts = []
    for assembly in sorted(committed):
        secret = revealed.get(assembly)
        if secret is None:
            raise DrawError("SD2", "a participant has not revealed its secret")
        if commitment(draw, assembly, secret) != committed[assembly]:
            raise DrawError("SD2", "a revealed secret does not match its commitment")
        parts.append(assembly + secret)
    return hashlib.sha256(SEED_DOMAIN + draw.encode() + b"".join(parts)).digest()


def pick(portfolio: Portfolio, draw_seed: bytes) -> Panel:
    """The panel the seed falls on, walking the portfolio's weights in its canonical order."""
    total = sum(weight for _, weight in portfolio)
    point = int.from_bytes(hashlib.sha256(PICK_DOMAIN + draw_seed).digest(), "big") % total
    for panel, weight in portfolio:
        if point < weight:
            return panel
        point -= weight
    raise AssertionError("unreachable: point < total")


def canonical(weighted: Iterable[tuple[Sequence[str], int]]) -> Portfolio:
    """Panels sorted and merged, zero weights dropped: the one form a portfolio is published in."""
    merged: dict[Panel, int] = {}
    for panel, weight in weighted:
        if weight > 0:
            key = tuple(sorted(panel))
            merged[key] = merged.get(key, 0) + weight
    return tuple(sorted(merged.items()))
