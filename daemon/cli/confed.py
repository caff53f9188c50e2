"""Commands of confederations: confed create/accept, propose, ratify, view, and a delegate's acts."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from pnyx.federation.charter import (
    DEFAULT_QUALIFIED,
)
from pnyx.federation.confed import PROPOSAL, PROPOSAL_ID_RE, ProposalKind
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.ledger import Position, parse_date

from ..services.names import held_ledgers, the_one
from ..services.submit import submit
from ..store.node import Node, create_data_dir, new_key
from ..store.viewindex import ViewIndex, scratch_view
from .common import add_decision_args, vote_body, with_node

Sub = Any


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    confed = commands.add_parser("confed", help="found or join a confederation")
    sub = confed.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("create", parents=[common], help="write a confederation's founding charter")
    p.add_argument("--name", required=True)
    p.add_argument("--member", action="append", default=[], metavar="ASSEMBLY_KEY",
                   help="a founding member assembly (repeatable)")
    p.add_argument("--member-confed", action="append", default=[], metavar="CONFED_ID",
                   help="a founding member confederation, for nested councils (repeatable)")
    p.add_argument("--threshold", default="simple", help="simple, or a share such as 2/3")
    p.add_argument("--qualified", default=DEFAULT_QUALIFIED,
                   help=f"majority to amend the charter and its principles (default {DEFAULT_QUALIFIED})")
    p.add_argument("--assembly-quorum", default="0", metavar="SHARE",
                   help="minimum share of members that must have voted, e.g. 0.5")
    p.add_argument("--deadline-days", type=int, required=True, metavar="N")
    p.add_argument("--protect", action="append", default=[], metavar="PRINCIPLE",
                   help="a protected principle (repeatable)")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="founding date (default today)")
    p.set_defaults(handler=cmd_confed_create)
    p = sub.add_parser("accept", parents=[common],
                       help="the assembly accepts a charter (becomes a member if named or admitted)")
    p.add_argument("confed", metavar="CONFED_ID")
    add_decision_args(p, title_required=False)
    p.set_defaults(handler=cmd_confed_accept)

    p = commands.add_parser("propose", parents=[common], help="put a proposal to a confederation")
    p.add_argument("--confed", required=True, metavar="CONFED_ID")
    p.add_argument("--kind", default="policy", choices=[k.value for k in ProposalKind])
    p.add_argument("--subject", default=None, metavar="KEY_OR_CONFED_ID",
                   help="the assembly or confederation to admit or suspend, or to join")
    g = p.add_argument_group("an amendment (kind amend)")
    g.add_argument("--set-name", default=None)
    g.add_argument("--set-threshold", default=None)
    g.add_argument("--set-qualified", default=None)
    g.add_argument("--set-assembly-quorum", default=None)
    g.add_argument("--set-deadline-days", type=int, default=None)
    g.add_argument("--set-protect", action="append", default=None, metavar="PRINCIPLE",
                   help="the new list of protected principles (repeatable)")
    add_decision_args(p, title_required=True)
    p.set_defaults(handler=cmd_propose)

    p = commands.add_parser("ratify", parents=[common],
                            help="the assembly's own vote on a confederal proposal")
    p.add_argument("proposal", metavar="PROPOSAL")
    p.add_argument("--supersedes", default=None, metavar="ID", help="an earlier ratification replaced")
    add_decision_args(p, title_required=False)
    p.set_defaults(handler=cmd_ratify)

    p = commands.add_parser("view", parents=[common], help="the confederal view")
    p.add_argument("--confed", default=None, metavar="CONFED_ID")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="judge as of this day (default today)")
    p.add_argument("--json", action="store_true", help="print the canonical JSON")
    p.add_argument("--verify", action="store_true",
                   help="also recompute from scratch and fail unless identical")
    p.set_defaults(handler=cmd_view)

    delegate = commands.add_parser("delegate", help="a delegate's acts, from the delegate's own device")
    sub = delegate.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("init", parents=[common], help="create the delegate's data directory and key")
    p.add_argument("--assembly", required=True, metavar="ASSEMBLY_KEY",
                   help="the assembly whose mandates this delegate carries")
    p.set_defaults(handler=cmd_delegate_init)
    p = sub.add_parser("vote", parents=[common], help="vote on a confederal proposal")
    p.add_argument("proposal", metavar="PROPOSAL")
    p.add_argument("--position", required=True, choices=[x.value for x in Position])
    p.add_argument("--indicative", action="store_true",
                   help="what the delegate expects the assembly to decide; it goes back for ratification")
    add_act_args(p)
    p = sub.add_parser("sign", parents=[common], help="co-sign a common text")
    p.add_argument("text", metavar="TEXT_ID")
    add_act_args(p)
    p = sub.add_parser("report", parents=[common], help="report back to the assembly")
    p.add_argument("text", metavar="TEXT")
    add_act_args(p)


def add_act_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mandate", default=None, metavar="ID",
                   help="the mandate acted under (default: the one held naming this key)")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="the council's date (default today)")
    p.set_defaults(handler=cmd_delegate_act)


def _date(text: str | None) -> dt.date:
    return parse_date(text) if text else dt.datetime.now(dt.timezone.utc).date()


def _confed_id(text: str) -> str:
    cleaned = text.strip().removeprefix("charter/")
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        raise ValueError(f"not a confederation id (64 hex digits): {text!r}")
    return cleaned


def cmd_confed_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "name": args.name, "members": args.member,
        "member_confederations": [_confed_id(c) for c in args.member_confed],
        "threshold": args.threshold, "qualified": args.qualified,
        "assembly_quorum": args.assembly_quorum, "deadline_days": args.deadline_days,
        "protected": args.protect}
    if args.date is not None:
        body["date"] = args.date
    print(submit(args.data, "confed-create", body)["id"])
    return 0


def cmd_confed_accept(args: argparse.Namespace) -> int:
    print(submit(args.data, "confed-accept", vote_body(args), confederation=_confed_id(args.confed))["id"])
    return 0


def cmd_propose(args: argparse.Namespace) -> int:
    amendment: dict[str, Any] = {}
    for field in ("name", "threshold", "qualified", "assembly_quorum", "deadline_days"):
        value = getattr(args, f"set_{field}")
        if value is not None:
            amendment[field] = value
    if args.set_protect is not None:
        amendment["protected"] = args.set_protect
    body = vote_body(args)
    body.update(confederation=_confed_id(args.confed), kind=args.kind,
                subject=args.subject.removeprefix("charter/") if args.subject else None,
                amendment=amendment or None)
    print(submit(args.data, "propose", body)["id"])
    return 0


def resolve_proposal(node: Node, text: str) -> str:
    """A proposal by its full id, or by its decision id if one held proposal has it."""
    if PROPOSAL_ID_RE.match(text):
        return text
    found = [f"{key}/{text}" for key, ledger in held_ledgers(node)
             if (decision := ledger.decisions.get(text)) is not None and decision.kind == PROPOSAL]
    return the_one(found, f"proposal {text!r} held here")


def cmd_ratify(args: argparse.Namespace) -> int:
    node = with_node(args)
    try:
        pid = resolve_proposal(node, args.proposal)
    finally:
        node.close()
    body = vote_body(args)
    if args.supersedes is not None:
        body["supersedes"] = args.supersedes
    assembly, _, decision = pid.partition("/")
    print(submit(args.data, "ratify", body, assembly=assembly, decision=decision)["id"])
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    as_of = _date(args.as_of)
    confederation = _confed_id(args.confed) if args.confed else None
    node = with_node(args)
    try:
        view = ViewIndex(node.store, node.docs).render(as_of, confederation)
        same = view == scratch_view(node.store, as_of, confederation) if args.verify else True
    finally:
        node.close()
    if args.json:
        sys.stdout.write(view.decode("utf-8") + "\n")
    else:
        print_view(json.loads(view))
    if args.verify:
        verdict = "verified: identical" if same else "DIFFERS from"
        print(f"view {verdict} when recomputed from scratch", file=sys.stderr)
    return 0 if same else 1


def print_view(view: dict[str, Any]) -> None:
    print(f"as of {view['as_of']}")
    names: dict[str, str] = {}
    for c in view["confederations"]:
        names |= {m["member"]: m["name"] for m in c["members"] if m["name"]}
    for c in view["confederations"]:
        rules = c["rules"]
        print(f"\nconfederation {rules['name']}  {c['id']}")
        print(f"  threshold {rules['threshold']}, amendments {rules['qualified']}, assembly quorum "
              f"{rules['assembly_quorum']}, deadline {rules['deadline_days']} days")
        for m in c["members"]:
            print(f"  member {m['name'] or m['member']}  {m['state']}")
        for p in c["proposals"]:
            t = p["tally"]
            print(f"  proposal {p['id']}  {p['kind']}  {p['title']!r}")
            print(f"    {p['outcome'].upper()}  {t['for']} for, {t['against']} against, "
                  f"{t['abstain']} abstain  (threshold {p['threshold']}, "
                  f"deadline {p['deadline']}; {p['reason']})")
            rows = [(b["assembly"], f"{b['for']}/{b['against']}/{b['abstain']} ({b['majority']})")
                    for b in p["breakdown"]]
            rows += [(a, "not voted") for a in p["not_voted"]]
            rows += [(t["assembly"], f"tendency of {t['delegate']}: {t['position']}") for t in p["tendency"]]
            rows += [(i["assembly"], f"ignored: {i['reason']}") for i in p["ignored"]]
            for assembly, line in rows:
                print(f"    {names.get(assembly, assembly)}: {line}")
        for i in c["ignored_proposals"]:
            print(f"  ignored proposal {i['proposal']}: {i['reason']}")
    for m in view["mandates"]:
        print(f"\nmandate {m['mandate']} of {names.get(m['assembly'], m['assembly'])}: "
              f"{m['delegate']} to {m['council']}, {m['state']}")
        for a in m["acts"]:
            print(f"  {a['date']} {a['kind']} {a['proposal'] or a['text']}: {a['class']} ({a['reason']})")


def cmd_delegate_init(args: argparse.Namespace) -> int:
    key = new_key()
    create_data_dir(args.data, parse_key(args.assembly), key, None)
    print(f"delegate key: {key_text(key.public)}")
    print("ask the assembly to name it in the mandate: pnyx mandate issue ... --delegate-key "
          f"{key_text(key.public)}; then bring the assembly's ledger here (sync or import)")
    return 0


def cmd_delegate_act(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"kind": args.action, "mandate": args.mandate}
    if args.date is not None:
        body["date"] = args.date
    if args.action == "vote":
        node = with_node(args)
        try:
            body["proposal"] = resolve_proposal(node, args.proposal)
        finally:
            node.close()
        body.update(position=args.position, indicative=args.indicative)
    else:
        body["text"] = args.text
    print(submit(args.data, "delegate-act", body)["id"])
    return 0
