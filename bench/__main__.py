"""Run every benchmark, or those named on the command line: `python -m bench [NAME ...]`."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: list[str] = ["ingest", "record", "show", "view", "plan", "sync", "simulate", "bundles", "hostile",
                         "lottery", "startup"]


def main(names: list[str]) -> int:
    for name in names or BENCHMARKS:
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        print(f"== {name}", flush=True)
        importlib.import_module(f"bench.{name}").run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
