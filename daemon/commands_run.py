"""`pnyx run`: the daemon in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
from typing import Any

from .server import DEFAULT_LISTEN, parse_listen, serve


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("run", parents=[common], help="run the daemon")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to serve peers and clients on (default {DEFAULT_LISTEN})")
    p.add_argument("--api-remote", action="store_true",
                   help="answer the local API and web page from other machines too "
                        "(default: this machine only; writes always need the API token)")
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    host, port = parse_listen(args.listen)
    serve(args.data, host, port, args.api_remote)
    return 0
