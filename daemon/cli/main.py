"""The `pnyx` command line: parses arguments and hands each command to its module.

Each command module exposes `register(subparsers)`; a command's handler takes
the parsed arguments and returns an exit code. Errors a user can correct are
printed as one line on stderr with a non-zero exit, and nothing is written.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path

from pnyx.federation.errors import Rejected

from ..services.bodies import BadRequest
from ..services.once import check_request_id
from ..services.records import RecordError
from ..services.submit import REQUEST_ID
from ..store.faults import StoreFault, fault
from ..store.node import SetupError, default_data_dir
from . import bundle, confed, discovery, economy, ledger, run, sortition, sync
from .progress import indexing_shown

COMMAND_MODULES = [ledger, confed, economy, sortition, run, sync, discovery, bundle]


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a subcommand's copy of --data must not reset one given before the subcommand
    common.add_argument("--data", type=Path, default=argparse.SUPPRESS, metavar="DIR",
                        help="data directory (default: $PNYX_DATA, else the user data directory)")
    common.add_argument("--request-id", default=argparse.SUPPRESS, metavar="ID",
                        help="name a write, so that running it again records it at most once "
                             "(default: a new id per command)")
    parser = argparse.ArgumentParser(
        prog="pnyx", parents=[common],
        description="Offline-first federated sync daemon for popular assemblies.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMAND_MODULES:
        module.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data", None) is None:
        args.data = default_data_dir()
    if getattr(args, "request_id", None) is not None:
        try:
            REQUEST_ID.set(check_request_id(args.request_id))
        except BadRequest as exc:
            parser.error(str(exc))
    try:
        with indexing_shown():
            code: int = args.handler(args)
        return code
    except (SetupError, RecordError, Rejected, StoreFault) as exc:
        print(f"pnyx: error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"pnyx: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as exc:
        found = fault(exc)
        if found is None:
            raise
        print(f"pnyx: error: {found}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
