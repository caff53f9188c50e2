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


def add_rotation_args(p: argparse.ArgumentParser, council: str) -> None:
    """The rotation limits (protocol-spec/ledger.md "Rotation"), for bylaws or a charter."""
    p.add_argument("--rotation-terms", default=None, type=int, metavar="N",
                   help=f"a person may hold at most N consecutive terms to {council}")
    p.add_argument("--rotation-days", default=None, nargs=2, type=int, metavar=("DAYS", "PERIOD"),
                   help=f"a person may hold a mandate to {council} at most DAYS in any PERIOD days")


def rotation_body(args: argparse.Namespace) -> dict[str, int]:
    """The `rotation` map the rotation arguments give; empty if none was given."""
    rotation: dict[str, int] = {}
    if args.rotation_terms is not None:
        rotation["consecutive_terms"] = args.rotation_terms
    if args.rotation_days is not None:
        rotation.update(days=args.rotation_days[0], period_days=args.rotation_days[1])
    return rotation
