"""A secretary that never stops: records decisions on a data directory in a loop and prints
each id only once the Recorder has returned, that is after its transaction committed.
Run by tests/test_crash.py as `python -m tests.crash_writer DATA`, then killed."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from pnyx.daemon.services.records import DecisionInput, Recorder
from pnyx.daemon.store.node import open_node
from pnyx.federation.ledger import Tally


def main(data: Path) -> None:
    node = open_node(data)
    recorder = Recorder(node)
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        decision = recorder.decide(DecisionInput(f"Decision {n}", "text " * n, dt.date(2026, 11, 20),
                                                 Tally(n, 1, 0)))
        print(decision, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
