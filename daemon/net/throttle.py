"""Slowing down a sender that keeps pushing junk: a leaky bucket of debt per sender.

Every refused envelope adds to its sender's debt (one that Automerge refused
adds more: containing it costs more), and so does one deferred for lack of room
to wait, and a large body that is no valid message; the debt drains at a steady rate.
Above `limit`, the sender's pushes are answered 429 before their body is even
decoded, until enough has drained; a push that crosses the limit half-way is
cut there, the rest deferred. An honest peer that relays a few bad records
stays far below the limit. Held in memory: a restart forgives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

APPLY_FAILED_WEIGHT = 20  # a change Automerge refuses costs a rebuild of its document
MALFORMED_BYTES = 1024  # a large body that is no valid message: a refused envelope per KiB read
MAX_SENDERS = 10_000  # senders in debt remembered; drained ones are forgotten first


@dataclass
class Throttle:
    limit: float = 1_000.0  # refused envelopes a sender may owe
    drain_per_second: float = 20.0
    _debt: dict[str, tuple[float, float]] = field(default_factory=dict)  # sender -> (debt, at)
    _refused: dict[str, tuple[int, float]] = field(default_factory=dict)  # (unrecorded, recorded at)

    def debt(self, sender: str, now: float) -> float:
        debt, at = self._debt.get(sender, (0.0, now))
        return max(0.0, debt - (now - at) * self.drain_per_second)

    def charge(self, sender: str, units: float, now: float) -> None:
        debt = self.debt(sender, now) + units
        if len(self._debt) >= MAX_SENDERS:
            self._debt = {s: d for s, d in self._debt.items() if self.debt(s, now) > 0}
        if debt > 0:
            self._debt[sender] = (debt, now)
        else:
            self._debt.pop(sender, None)

    def refused(self, sender: str, now: float) -> int:
        """Count one request refused unread; how many to record now (at most once a second
        per sender, so that answering a flood with 429 writes almost nothing to disk)."""
        waiting, recorded = self._refused.get(sender, (0, 0.0))
        waiting += 1
        if now - recorded < 1.0:
            self._refused[sender] = (waiting, recorded)
            return 0
        self._refused[sender] = (0, now)
        if len(self._refused) > MAX_SENDERS:
            self._refused = {s: r for s, r in self._refused.items() if now - r[1] < 1.0}
        return waiting

    def over(self, sender: str, now: float) -> bool:
        return self.debt(sender, now) > self.limit

    def retry_after(self, sender: str, now: float) -> float:
        """Seconds until `sender` is under the limit again."""
        return max(0.0, (self.debt(sender, now) - self.limit) / self.drain_per_second)


def junk_units(reasons: list[str], deferred: int) -> float:
    """The debt a push adds: its refused envelopes by their reason codes, and those that found
    no room to wait (an honest sender's waiting changes find room: daemon/store/pending.py)."""
    return float(deferred + sum(APPLY_FAILED_WEIGHT if r == "apply-failed" else 1 for r in reasons))


def malformed_units(size: int) -> float:
    """The debt a large body that is no valid message adds, by the bytes it made this daemon
    read and decode: an honest daemon never sends one, and uncharged, a flood of 1.7 MB pushes
    one item over a pack's bound (each read, then refused as it was decoded) kept the daemon's
    status answers at 4x their time, never slowed down (bench hostile, measured)."""
    return size / MALFORMED_BYTES
