"""How many examples a fuzzer draws: its full count, except in test_compiled.py's run of the
decoding tests on the pure source, which sets PNYX_EXAMPLES_SHARE to a fraction. That run
proves the pure source passes the same properties; the full count of each ran on the compiled
modules earlier in the same suite, and the counts' cost is the fuzzers' (Hypothesis drawing
and shrinking inputs), not the code's, so a share gives the same proof for a share of the time."""

from __future__ import annotations

import os

SHARE_VARIABLE = "PNYX_EXAMPLES_SHARE"


def examples(full: int) -> int:
    """`full`, or this run's share of it (at least 50: a funnel asserts on 20 inputs or more)."""
    share = float(os.environ.get(SHARE_VARIABLE, "1"))
    return full if share >= 1 else max(50, round(full * share))
