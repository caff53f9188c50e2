"""`pnyx discover`: the daemons announcing themselves on the local network right now.

zeroconf is imported by the command itself, not by every command that lists its arguments.
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

from .common import add_interface_arg
from .output import print_json


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("discover", parents=[common],
                            help="list the pnyx daemons visible on the local network, then exit")
    p.add_argument("--timeout", type=float, default=3.0, metavar="SECONDS",
                   help="how long to listen (default 3)")
    add_interface_arg(p, "every interface")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_discover)


def cmd_discover(args: argparse.Namespace) -> int:
    import asyncio

    from ..net.discovery import browse, resolve_interfaces

    if not 0 < args.timeout <= 600:
        raise ValueError("--timeout takes between 0 and 600 seconds")
    interfaces = resolve_interfaces(args.mdns_interface) if args.mdns_interface else None
    logging.basicConfig(level=logging.WARNING, format="pnyx: %(message)s")
    found = [n.describe() for n in asyncio.run(browse(interfaces, args.timeout))]
    if args.json:
        print_json(found)
        return 0
    if not found:
        print(f"no pnyx daemon answered within {args.timeout:g} s")
    for n in found:
        confeds = ", ".join(n["confederations"]) or "none"
        print(f"{n['url']}  device {n['device']}\n    assembly {n['assembly']}  "
              f"protocol v{n['version']}  confederations: {confeds}")
    return 0
