"""Whom to sync with and when: the gossip policy, on a clock and randomness passed in.

The daemon (daemon/net/gossip.py) and the simulator (bench/simulate.py) both
ask this policy, so rounds, fanout and eager push behave the same whether
time is the wall clock or a simulated round counter.
- Eager push: when the store gains changes, exchange at once with `fanout`
  peers chosen at random among those due (not every peer: with N nodes of
  degree k that would cost N·k exchanges per change instead of about N·fanout).
- Periodic pull-push: every `interval` times a random factor in [0.5, 1.5),
  an exchange with `fanout` random due peers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

Peer = TypeVar("Peer")  # a URL in the daemon, a node index in the simulator


class Randomness(Protocol):
    """What the policy draws from (random.Random fits): passed in, so runs can be replayed."""

    def uniform(self, a: float, b: float) -> float: ...

    def sample(self, population: Sequence[Peer], k: int) -> list[Peer]: ...


@dataclass(frozen=True)
class GossipPolicy:
    interval: float = 30.0
    fanout: int = 3
    push: bool = True

    def next_round_in(self, rng: Randomness) -> float:
        """Seconds (or rounds) until the next periodic exchange."""
        return self.interval * rng.uniform(0.5, 1.5)

    def round_peers(self, due: Sequence[Peer], rng: Randomness) -> list[Peer]:
        """The peers of one periodic round."""
        return rng.sample(list(due), min(self.fanout, len(due)))

    def push_peers(self, due: Sequence[Peer], rng: Randomness) -> list[Peer]:
        """The peers told at once of new changes (none when eager push is off)."""
        return self.round_peers(due, rng) if self.push else []
