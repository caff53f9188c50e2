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
from pnyx.federation.confed import ProposalKind
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.ledger import Position, parse_date

from ..services.names import assembly_names, resolve_confederation, resolve_proposal
from ..services.submit import submit
from ..store.node import create_data_dir, new_key
from ..store.viewindex import ViewIndex, scratch_view
from .common import add_decision_args, add_rotation_args, rotation_body, vote_body, with_node

Sub = Any


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    confed = commands.add_parser("confed", help="found or join a confederation")
    sub = confed.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("create", parents=[common], help="write a confederation's founding charter")
    p.add_argument("--name", required=True)
    p.add_argument("--member", action="append", default=[], metavar="ASSEMBLY",
                   help="a founding member assembly, by key or name (repeatable)")
    p.add_argument("--member-confed", action="append", default=[], metavar="CONFED",
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
    p.add_argument("--parity-attribute", default=None, metavar="ATTRIBUTE",
                   help="require parity of each member's delegation over this declared attribute")
    p.add_argument("--parity-min", action="append", default=[], metavar="VALUE=N",
                   help="at least N delegates of each member declare VALUE (repeatable)")
    p.add_argument("--parity-share", default=None, metavar="P/Q",
                   help="each VALUE holds at least this share of each delegation")
    add_rotation_args(p, "this council")
    p.set_defaults(handler=cmd_confed_create)
    p = sub.add_parser("accept", parents=[common],
                       help="the assembly accepts a charter (becomes a member if named or admitted)")
    p.add_argument("confed", metavar="CONFED", help="the confederation's id or name")
    add_decision_args(p, title_required=False)
    p.set_defaults(handler=cmd_confed_accept)

    p = commands.add_parser("propose", parents=[common], help="put a proposal to a confederation")
    p.add_argument("--confed", required=True, metavar="CONFED", help="the confederation's id or name")
    p.add_argument("--kind", default="policy", choices=[k.value for k in ProposalKind])
    p.add_argument("--subject", default=None, metavar="ASSEMBLY_OR_CONFED",
                   help="the assembly or confederation (key, id or name) to admit or suspend, or to join")
    p.add_argument("--ratify", action="store_true",
                   help="the same vote also ratifies the proposal for this assembly (see README)")
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
    p.add_argument("proposal", metavar="PROPOSAL", help="the proposal's id, decision id or title")
    p.add_argument("--supersedes", default=None, metavar="ID", help="an earlier ratification replaced")
    add_decision_args(p, title_required=False)
    p.set_defaults(handler=cmd_ratify)

    p = commands.add_parser("view", parents=[common], help="the confederal view")
    p.add_argument("--confed", default=None, metavar="CONFED", help="one confederation, by id or name")
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
    p = sub.add_parser("withdraw", parents=[common], help="withdraw the standing vote on a proposal")
    p.add_argument("proposal", metavar="PROPOSAL")
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


def cmd_confed_create(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "name": args.name, "members": args.member, "member_confederations": args.member_confed,
        "threshold": args.threshold, "qualified": args.qualified,
        "assembly_quorum": args.assembly_quorum, "deadline_days": args.deadline_days,
        "protected": args.protect}
    if args.date is not None:
        body["date"] = args.date
    if args.parity_attribute is not None:
        body["parity"] = {"attribute": args.parity_attribute,
                          "min": {v: int(n) for v, _, n in (m.partition("=") for m in args.parity_min)}}
        if args.parity_share is not None:
            body["parity"]["share"] = args.parity_share
    rotation = rotation_body(args)
    if rotation:
        body["rotation"] = rotation
    print(submit(args.data, "confed-create", body)["id"])
    return 0


def cmd_confed_accept(args: argparse.Namespace) -> int:
    print(submit(args.data, "confed-accept", vote_body(args), confederation=args.confed)["id"])
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
    body.update(confederation=args.confed, kind=args.kind, subject=args.subject,
                amendment=amendment or None, ratify=args.ratify)
    result = submit(args.data, "propose", body)
    print(result["id"])
    decision = result["decision"]
    print(f"the assembly's vote: {decision['outcome']} ({decision['reason']})", file=sys.stderr)
    if result["ratification"] is not None:
        print(f"ratified by this assembly in the same vote: {result['ratification']['id']}",
              file=sys.stderr)
    return 0


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
    node = with_node(args)
    try:
        confederation = resolve_confederation(node, args.confed) if args.confed else None
        names = assembly_names(node)
        view = ViewIndex(node.store, node.docs).render(as_of, confederation)
        same = view == scratch_view(node.store, as_of, confederation) if args.verify else True
    finally:
        node.close()
    if args.json:
        sys.stdout.write(view.decode("utf-8") + "\n")
    else:
        print_view(json.loads(view), names)
    if args.verify:
        verdict = "verified: identical" if same else "DIFFERS from"
        print(f"view {verdict} when recomputed from scratch", file=sys.stderr)
    return 0 if same else 1


def quorum_text(share: str) -> str:
    """A charter's assembly quorum as people read it."""
    return "none" if share.startswith("0/") else f"{share} of the members must vote"


def print_view(view: dict[str, Any], held: dict[str, str]) -> None:
    """The view for people: names instead of keys wherever this store knows them."""
    print(f"as of {view['as_of']}")
    names = dict(held)
    for c in view["confederations"]:
        names[c["id"]] = c["rules"]["name"]
        names |= {m["member"]: m["name"] for m in c["members"] if m["name"]}

    def name(key: str) -> str:
        return names.get(key, key)

    for c in view["confederations"]:
        rules = c["rules"]
        print(f"\nconfederation {rules['name']}  {c['id']}")
        print(f"  threshold {rules['threshold']}, amendments {rules['qualified']}, assembly quorum "
              f"{quorum_text(rules['assembly_quorum'])}, deadline {rules['deadline_days']} days")
        for principle in rules["protected"]:
            print(f"  protected: {principle}")
        for m in c["members"]:
            print(f"  member {name(m['member'])}  {m['state']}")
        for p in c["proposals"]:
            t = p["tally"]
            print(f"  proposal {p['title']!r}  {p['kind']}  by {name(p['proposer'])}  ({p['id']})")
            print(f"    {p['outcome'].upper()}  {t['for']} for, {t['against']} against, "
                  f"{t['abstain']} abstain  (threshold {p['threshold']}, "
                  f"deadline {p['deadline']}; {p['reason']})")
            rows = [(b["assembly"], f"{b['for']}/{b['against']}/{b['abstain']} ({b['majority']})"
                     + (f" via {', '.join(name(v) for v in b['via'])}" if b["via"] else "")
                     + (f"; dissent: {b['dissent']}" if b["dissent"] else ""))
                    for b in p["breakdown"]]
            rows += [(a, "not voted") for a in p["not_voted"]]
            rows += [(t["assembly"], f"tendency of {t['delegate']}: {t['position']}") for t in p["tendency"]]
            rows += [(i["assembly"], f"ignored: {i['reason']}") for i in p["ignored"]]
            for assembly, line in rows:
                print(f"    {name(assembly)}: {line}")
        for i in c["ignored_proposals"]:
            print(f"  ignored proposal {i['proposal']}: {i['reason']}")
    for m in view["mandates"]:
        delegates = " and ".join([m["delegate"], *(c["delegate"] for c in m["co_delegates"])])
        print(f"\nmandate {m['mandate']} of {name(m['assembly'])}: "
              f"{delegates} to {name(m['council'])}, {m['state']}")
        if m["rotation"]:
            print(f"  BREAKS THE ROTATION: {m['rotation']}")
        for a in m["acts"]:
            print(f"  {a['date']} {a['kind']} by {a['delegate']} {a['proposal'] or a['text']}: "
                  f"{a['class']} ({a['reason']})")


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
    if args.action in ("vote", "withdraw"):
        body["proposal"] = args.proposal  # an id, decision id or title: resolved where written
    if args.action == "vote":
        body.update(position=args.position, indicative=args.indicative)
    elif args.action != "withdraw":
        body["text"] = args.text
    print(submit(args.data, "delegate-act", body)["id"])
    return 0
