"""Arguments and helpers that several command groups share."""

from __future__ import annotations

import argparse
from typing import Any

from ..store.node import Node, open_node


def add_interface_arg(p: argparse.ArgumentParser, default_help: str) -> None:
    p.add_argument("--mdns-interface", action="append", default=[], metavar="ADDR_OR_NAME",
                   help=f"announce and browse on this IPv4 address or interface (repeatable; "
                        f"default: {default_help})")


def add_decision_args(p: argparse.ArgumentParser, title_required: bool) -> None:
    g = p.add_argument_group("the assembly's vote")
    g.add_argument("--title", required=title_required, default=None)
    g.add_argument("--text", default="", help="the text adopted")
    g.add_argument("--date", required=True, metavar="YYYY-MM-DD", help="when the assembly met")
    g.add_argument("--for", dest="votes_for", type=int, required=True, metavar="N")
    g.add_argument("--against", type=int, required=True, metavar="N")
    g.add_argument("--abstain", type=int, required=True, metavar="N")
    g.add_argument("--quorum", type=int, default=None, metavar="N", help="members present")
    g.add_argument("--dissent", default="", metavar="TEXT", help="the minority's dissent")


def vote_body(args: argparse.Namespace) -> dict[str, Any]:
    """The assembly's vote as the JSON body of a write (daemon/writes.py)."""
    body: dict[str, Any] = {
        "text": args.text, "date": args.date, "quorum": args.quorum, "dissent": args.dissent,
        "tally": {"for": args.votes_for, "against": args.against, "abstain": args.abstain}}
    if args.title is not None:
        body["title"] = args.title
    return body


def with_node(args: argparse.Namespace) -> Node:
    return open_node(args.data)
