"""What a `pnyx` command costs to start, in CPU (user + system) of its process.

Commands that open no socket (`status`, `show decisions`, `decide` with no daemon running)
run on a small store; the baselines of the same run are Python starting and exiting
(`python -c pass`), and Python importing aiohttp and zeroconf, which only `pnyx run`, `sync`
and `discover` import (tests/test_cli_startup.py). Each is the median of RUNS, run in turn.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RUNS = int(os.environ.get("PNYX_BENCH_STARTUP_RUNS", "7"))
PNYX = [sys.executable, "-m", "pnyx.daemon.cli.main"]


def cpu_of(args: list[str]) -> float:
    """Seconds of CPU a child process ran `args` for."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(args, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "data")
        subprocess.run([*PNYX, "--data", data, "init", "--assembly", "Bench"], check=True,
                       capture_output=True)
        cases = {
            "python -c pass (baseline)": [sys.executable, "-c", "pass"],
            "python importing aiohttp, zeroconf": [sys.executable, "-c", "import aiohttp, zeroconf"],
            "pnyx status": [*PNYX, "--data", data, "status"],
            "pnyx show decisions": [*PNYX, "--data", data, "show", "decisions"],
            "pnyx decide": [*PNYX, "--data", data, "decide", "--title", "Bench", "--date", "2026-01-01",
                            "--for", "3", "--against", "1", "--abstain", "0"],
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(RUNS):
            for name, args in cases.items():
                times[name].append(cpu_of(args))
    base = statistics.median(times["python -c pass (baseline)"])
    for name, spent in times.items():
        median = statistics.median(spent)
        print(f"{name:36s} {median * 1000:7.1f} ms CPU  {median / base:5.1f}x python's own start")
