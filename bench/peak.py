"""Peak resident memory of a process, each process's own: `python -m bench.peak ARGS` runs
the pnyx command line with ARGS in this process, then prints its peak (MB) as the last
line of stderr, so that a benchmark measures a command as a user runs it, in a fresh process.

The peak is VmHWM of /proc/PID/status, never ru_maxrss: a child started by fork and exec
inherits its parent's ru_maxrss (measured: `python -c pass` started from a process of
300 MB reports 314 MB), and the processes that run benchmarks hold more than the children
they measure (bench sync's holds its whole corpus as Automerge documents, 117 MB at 50k).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent  # where `-m bench.peak` is found


def peak_mb(pid: int | None = None) -> float:
    """The peak resident size of a live process (this one if None) since it started."""
    with open(f"/proc/{'self' if pid is None else pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e3
    raise OSError("no VmHWM in /proc/PID/status")


def cli_peak_mb(args: list[str], timeout: float = 900) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run `pnyx ARGS` in a fresh process: its peak (MB), and the process as it ended (its
    exit code, stdout, and stderr before the peak's line)."""
    done = subprocess.run([sys.executable, "-m", "bench.peak", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    before, _, peak = done.stderr.rstrip("\n").rpartition("\n")
    done.stderr = before
    return float(peak), done


def main(args: list[str]) -> int:
    from pnyx.daemon.cli.main import main as pnyx

    try:
        return pnyx(args)
    finally:
        print(f"{peak_mb():.1f}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
