"""Evidence for a change refused vouched: the chain that proves it (changes.md, "Equivocation").

A change that came without a signature of its own is proven by its voucher's signature and the
deps between them. An equivocation or a second genesis refused vouched is kept as evidence with
that proof: the voucher (kept once, as any voucher) and the chunks of one dep path from the
voucher down to the refused change, found in the pack group they arrived in. Every receiver
rebuilds the same proof from what the evidence carries, so the bounds below are what a hostile
sender can make a receiver hold and do for one refused change: a path of at most CHAIN_CHANGES
changes between the two, of at most CHAIN_BYTES of chunks, found among at most SEARCH_VISITS
changes of the group.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final, Protocol

CHAIN_CHANGES = 16  # changes strictly between the voucher and the refused change
CHAIN_BYTES = 262_144  # their chunks together (MAX_CHUNK_BYTES: one change's worth)
SEARCH_VISITS = 64  # changes of the group looked at, the voucher included


class Linked(Protocol):
    """A change of a group as vouching links it (changepack.Link)."""

    @property
    def deps(self) -> Sequence[int]: ...


class VouchGroup:
    """One pack group as vouching saw it, the lists unpacking built (not copied): each change's
    canonical chunk first in `built`, its deps in the group (positions, in chunk order) in
    `links`, and each hash's position."""

    def __init__(self, built: Sequence[tuple[bytes, bytes, bytes | None]], links: Sequence[Linked],
                 position: dict[bytes, int]) -> None:
        self.built: Final = built
        self.links: Final = links
        self.position: Final = position  # change hash -> its position in the group

    def chain(self, voucher: int, refused: bytes) -> list[bytes] | None:
        """The chunks strictly between the change at `voucher` and the change hashed `refused`,
        oldest first, on the shortest dep path found breadth first from the voucher (deps in
        chunk order, each change looked at once); None if the refused change is not among
        the first SEARCH_VISITS changes looked at, or the path breaks a bound."""
        target = self.position.get(refused)
        if target is None or target == voucher:
            return None
        parent: dict[int, int] = {voucher: voucher}
        queue = deque([voucher])
        while queue and target not in parent:
            at = queue.popleft()
            for dep in self.links[at].deps:
                if dep not in parent:
                    if len(parent) >= SEARCH_VISITS:
                        return None
                    parent[dep] = at
                    queue.append(dep)
        if target not in parent:
            return None
        between: list[bytes] = []
        at = parent[target]
        while at != voucher:
            between.append(self.built[at][0])
            at = parent[at]
        if len(between) > CHAIN_CHANGES or sum(len(c) for c in between) > CHAIN_BYTES:
            return None
        return between
