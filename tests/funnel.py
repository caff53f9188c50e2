"""How far a fuzzer's inputs get: a fuzz test that never gets past the first check proves
nothing about the checks behind it, so each fuzzer counts its inputs at each stage
and asserts, in the test, that a meaningful share reached the stage it aims at."""

from __future__ import annotations

from collections import Counter


class Funnel:
    """Counts fuzz inputs by the furthest stage they reached."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def saw(self, stage: str) -> None:
        self.counts[stage] += 1

    def share(self, stage: str) -> float:
        return self.counts[stage] / max(1, self.counts["input"])

    def assert_share(self, stage: str, at_least: float) -> None:
        """Fail unless at least `at_least` of the inputs reached `stage`."""
        total = self.counts["input"]
        print(f"{self.counts[stage]} of {total} inputs reached {stage!r}: {dict(self.counts)}")
        assert total >= 20, f"only {total} inputs ran"
        assert self.share(stage) >= at_least, (
            f"only {self.counts[stage]} of {total} inputs reached {stage!r} (want {at_least:.0%}): "
            f"{dict(self.counts)}")
