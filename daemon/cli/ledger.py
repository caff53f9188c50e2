"""Commands on the local assembly's ledger: init, decide, mandate, device, show, verify, status."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TypeVar

from pnyx.federation.docids import ledger_id
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.ledger import Profile

from ..services.listing import Listing, decision_listing, device_rows, indexed_bylaws_row, mandate_listing
from ..services.names import resolve_assembly
from ..services.records import Recorder, utc_today
from ..services.status import node_status
from ..services.submit import submit
from ..store.audit import reverify
from ..store.node import create_data_dir, new_key, open_node
from .common import add_decision_args, add_rotation_args, rotation_body, vote_body, with_node
from .output import print_json

T = TypeVar("T")
SHOWN = 50  # decisions or mandates `show` lists by default: the newest
Sub = Any  # argparse's private _SubParsersAction


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("init", parents=[common], help="create an assembly and this device")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--assembly", metavar="NAME", help="found a new assembly with this name")
    who.add_argument("--join", metavar="ASSEMBLY_KEY",
                     help="make this a further device of an existing assembly")
    p.add_argument("--place", default="", help="where the assembly meets")
    p.add_argument("--members", type=int, default=None, metavar="N", help="number of members")
    p.set_defaults(handler=cmd_init)

    p = commands.add_parser("bylaws", parents=[common],
                            help="adopt or amend the bylaws (an assembly decision): keys not given are kept")
    p.add_argument("--rule", default=None, metavar="RULE",
                   help="decision rule: simple (more for than against) or a share such as 2/3")
    p.add_argument("--quorum-required", default=None, metavar="N|none",
                   help="the least number of members present for a decision to count")
    p.add_argument("--members", default=None, metavar="N|none", help="the number of members")
    p.add_argument("--reopen-share", default=None, metavar="P/Q",
                   help="a minority of this share of the members may reopen a decision")
    p.add_argument("--reopen-dissent-days", default=None, type=int, metavar="DAYS",
                   help="the dissenting side may reopen a decision within this many days")
    add_rotation_args(p, "one council")
    add_decision_args(p, title_required=False)
    p.set_defaults(handler=cmd_bylaws)

    p = commands.add_parser("reopen", parents=[common],
                            help="a minority reopens a decision, as the bylaws allow")
    p.add_argument("decision", metavar="DECISION_ID")
    p.add_argument("--by", required=True, choices=["share", "dissent"],
                   help="share: a share of the members asks; dissent: the dissenting side, in time")
    p.add_argument("--members", required=True, type=int, metavar="N", help="how many members ask")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="default today")
    p.add_argument("--text", default="", help="why they ask")
    p.set_defaults(handler=cmd_reopen)

    p = commands.add_parser("decide", parents=[common], help="record a decision of the assembly")
    add_decision_args(p, title_required=True)
    p.add_argument("--supersedes", default=None, metavar="ID", help="decision this one replaces")
    p.add_argument("--revote-of", default=None, metavar="REOPENING_ID",
                   help="the new vote on a reopened decision (supersedes it)")
    p.set_defaults(handler=cmd_decide)

    mandate = commands.add_parser("mandate", help="issue or recall a delegate's mandate")
    sub = mandate.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("issue", parents=[common], help="issue a mandate (an assembly decision)")
    p.add_argument("--delegate", required=True, metavar="NAME")
    p.add_argument("--delegate-key", default=None, metavar="KEY",
                   help="the delegate's own key, so they can record acts from their device")
    p.add_argument("--council", required=True, help="council or confederation id")
    p.add_argument("--from", dest="term_from", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--until", dest="term_until", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--instruction", nargs=3, action="append", default=[],
                   metavar=("QUESTION", "POSITION", "BINDING"),
                   help="repeatable; POSITION for|against|abstain, BINDING imperative|indicative")
    p.add_argument("--attribute", action="append", default=[], metavar="NAME=VALUE",
                   help="what the assembly declares of the delegate, for parity (repeatable)")
    p.add_argument("--co-delegate", nargs=3, action="append", default=[],
                   metavar=("NAME", "KEY|-", "NAME=VALUE,..."),
                   help="a further delegate acting together with the first (repeatable)")
    add_decision_args(p, title_required=False)
    p.set_defaults(handler=cmd_mandate_issue)
    p = sub.add_parser("recall", parents=[common], help="recall a mandate (an assembly decision)")
    p.add_argument("mandate", metavar="ID")
    add_decision_args(p, title_required=False)
    p.set_defaults(handler=cmd_mandate_recall)

    device = commands.add_parser("device", help="certify or revoke a device of this assembly")
    sub = device.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("add", parents=[common], help="certify a device key (needs the assembly key)")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--label", default="", help="a name for the device")
    p.set_defaults(handler=cmd_device_add)
    p = sub.add_parser("revoke", parents=[common], help="revoke a device (needs the assembly key)")
    p.add_argument("key", metavar="KEY")
    p.set_defaults(handler=cmd_device_revoke)

    p = commands.add_parser("show", parents=[common],
                            help="list decisions or mandates (by date, with outcome), devices, or the bylaws")
    p.add_argument("what", choices=["decisions", "mandates", "devices", "bylaws"])
    p.add_argument("--assembly", default=None, metavar="KEY_OR_NAME",
                   help="another assembly held here (default: this one)")
    count = p.add_mutually_exclusive_group()
    count.add_argument("--limit", type=int, default=SHOWN, metavar="N",
                       help=f"decisions or mandates: the newest N (default {SHOWN}), and how many there are")
    count.add_argument("--all", action="store_true", help="decisions or mandates: every one")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_show)

    p = commands.add_parser("verify", parents=[common], help="re-verify every stored change and evidence")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_verify)

    p = commands.add_parser("status", parents=[common], help="what this store holds")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--completeness", action="store_true",
                   help="per assembly: newest record held, what is known to be missing, last news")
    p.set_defaults(handler=cmd_status)


def cmd_init(args: argparse.Namespace) -> int:
    if args.members is not None and args.members < 0:
        raise ValueError("--members cannot be negative")
    device_key = new_key()
    if args.join is not None:
        create_data_dir(args.data, parse_key(args.join), device_key, None)
        print(f"device: {key_text(device_key.public)}")
        print(f"certify it where the assembly key is: pnyx device add {key_text(device_key.public)}")
        return 0
    assembly_key = new_key()
    create_data_dir(args.data, assembly_key.public, device_key, assembly_key)
    node = open_node(args.data)
    try:
        Recorder(node).found(Profile(key_text(assembly_key.public), args.assembly, args.place,
                                     args.members))
    finally:
        node.close()
    print(f"assembly {args.assembly}: {key_text(assembly_key.public)}")
    print(f"device: {key_text(device_key.public)}")
    print(f"data directory: {args.data}")
    return 0


def _count_or_none(text: str | None, option: str) -> int | None:
    if text is None or text.strip().lower() == "none":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{option}: a whole number or none, not {text!r}") from None


def cmd_bylaws(args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.rule is not None:
        changes["rule"] = args.rule.strip()
    if args.quorum_required is not None:
        changes["quorum"] = _count_or_none(args.quorum_required, "--quorum-required")
    if args.members is not None:
        changes["members"] = _count_or_none(args.members, "--members")
    reopening = {k: v for k, v in (("share", args.reopen_share),
                                   ("dissent_days", args.reopen_dissent_days)) if v is not None}
    if reopening:
        changes["reopening"] = reopening
    rotation = rotation_body(args)
    if rotation:
        changes["rotation"] = rotation
    if not changes:
        raise ValueError("say what the bylaws set: --rule, --quorum-required, --members, "
                         "--reopen-share, --reopen-dissent-days, --rotation-terms or --rotation-days")
    body = vote_body(args)
    body["bylaws"] = changes
    result = submit(args.data, "bylaws", body)
    print(result["id"])
    print(f"{result['outcome']}: {result['reason']}", file=sys.stderr)
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    body = vote_body(args)
    if args.supersedes is not None:
        body["supersedes"] = args.supersedes
    if args.revote_of is not None:
        body["revote_of"] = args.revote_of
    print(submit(args.data, "decide", body)["id"])
    return 0


def cmd_reopen(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"by": args.by, "members": args.members, "text": args.text}
    if args.date is not None:
        body["date"] = args.date
    print(submit(args.data, "reopen", body, decision=args.decision)["id"])
    return 0


def cmd_mandate_issue(args: argparse.Namespace) -> int:
    body = vote_body(args)
    body.update(delegate=args.delegate, delegate_key=args.delegate_key, council=args.council,
                term_from=args.term_from, term_until=args.term_until,
                instructions=[{"question": q, "position": p, "binding": b}
                              for q, p, b in args.instruction],
                attributes=_pairs(args.attribute),
                co_delegates=[{"delegate": name, "delegate_key": None if key == "-" else key,
                               "attributes": _pairs([a for a in attrs.split(",") if a])}
                              for name, key, attrs in args.co_delegate])
    print(submit(args.data, "mandate-issue", body)["id"])
    return 0


def _pairs(items: list[str]) -> dict[str, str]:
    """NAME=VALUE items as a map; ValueError (one line) for an item without `=`."""
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name:
            raise ValueError(f"not NAME=VALUE: {item!r}")
        out[name] = value
    return out


def cmd_mandate_recall(args: argparse.Namespace) -> int:
    print(submit(args.data, "mandate-recall", vote_body(args), mandate=args.mandate)["id"])
    return 0


def cmd_device_add(args: argparse.Namespace) -> int:
    submit(args.data, "device-add", {"key": args.key, "label": args.label})
    print(f"certified {args.key}")
    return 0


def cmd_device_revoke(args: argparse.Namespace) -> int:
    kept = submit(args.data, "device-revoke", {}, device=args.key)["changes_kept"]
    print(f"revoked {args.key}; its {kept} changes held so far stay valid")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ValueError("--limit: at least 1")
    node = with_node(args)
    try:
        assembly = resolve_assembly(node, args.assembly) if args.assembly else node.assembly
        doc_id = ledger_id(assembly)
        index, profile = node.ingestor.ledgers, node.docs.profile(doc_id)
        if args.what == "devices":
            listing = Listing(device_rows(index, doc_id), 0, {})
        elif args.what == "bylaws":
            row = indexed_bylaws_row(index, doc_id, profile, utc_today())
        else:
            lister = decision_listing if args.what == "decisions" else mandate_listing
            listing = lister(index, doc_id, profile, None if args.all else args.limit)
    finally:
        node.close()
    if args.what == "bylaws":
        if args.json:
            print_json(row)
        else:
            print_bylaws(row)
        return 0
    rows = listing.rows
    more = (f"the newest {len(rows)} of {listing.total} {args.what}; --limit N or --all for more"
            if args.what != "devices" and len(rows) < listing.total else None)
    if args.json:
        print_json(rows)
        if more:
            print(more, file=sys.stderr)
        return 0
    for row in rows:
        print(describe(args.what, row))
    if not rows:
        print(f"no {args.what}")
    if more:
        print(more)
    for record_id, reason in sorted(listing.void.items()):
        print(f"void: {record_id}  {reason}")
    return 0


def describe(what: str, row: dict[str, Any]) -> str:
    """One line (two with a dissent) per record, for people."""
    if what == "decisions":
        t = row["tally"]
        line = (f"{row['date']}  {row['title']}  {row['outcome'].upper()}  "
                f"[{t['for']} for, {t['against']} against, {t['abstain']} abstain"
                + (f", {row['quorum']} present" if row["quorum"] is not None else "") + "]"
                + (" (superseded)" if row["superseded"] else "")
                + (f" (reopened by {row['reopened_by']}" + (f", new vote {row['revote']})" if row["revote"]
                                                           else ")") if row["reopened_by"] else "")
                + (f" (ignored: {row['ignored']})" if row.get("ignored") else "") + f"  {row['id']}")
        return line + (f"\n    dissent: {row['dissent']}" if row["dissent"] else "")
    if what == "mandates":
        state = ("not adopted" if row["outcome"] != "adopted" else
                 f"recalled by {row['recalled_by']}" if row["recalled_by"] else "issued")
        return (f"{row['issued']}  {row['delegate']} to {row['council']}  "
                f"{row['term_from']}..{row['term_until']}  {state}  {row['id']}"
                + (f"\n    BREAKS THE ROTATION: {row['rotation']}" if row.get("rotation") else ""))
    state = "revoked" if row["revoked_cut"] is not None else "certified"
    return f"{row['key']}  {row['label'] or '-'}  {state}"


def print_bylaws(row: dict[str, Any]) -> None:
    law = row["in_force"]
    rule = "simple majority (more for than against)" if law["rule"] == "simple" else \
        f"for at least {law['rule']} of for and against"
    print(f"bylaws in force on {row['as_of']}" + (f" (decision {row['decision']})" if row["decision"]
                                                  else " (the defaults: none adopted yet)"))
    print(f"  decision rule: {rule}")
    print(f"  quorum: {'none' if law['quorum'] is None else str(law['quorum']) + ' members present'}")
    print(f"  members: {'not stated' if law['members'] is None else law['members']}")
    for key in sorted(set(law) - {"rule", "quorum", "members"}):
        print(f"  {key}: {law[key]}")
    for change in row["history"]:
        print(f"  adopted by {change['decision']}, in force after {change['after']}")
    for decision, why in row["ill_formed"].items():
        print(f"  ill-formed, not in force: {decision}: {why}")


def cmd_verify(args: argparse.Namespace) -> int:
    node = open_node(args.data, expect_records=False)
    try:
        report = reverify(node.store, node.data)
    finally:
        node.close()
    if args.json:
        print_json(report)
    else:
        print(f"{report.verified} of {report.changes} changes verified in {report.documents} "
              f"documents; {report.failed} failed; {report.pending} pending; "
              f"{report.evidence} pieces of evidence")
        for problem in report.problems:
            print(f"  {problem}")
    return 0 if report.ok else 1


def cmd_status(args: argparse.Namespace) -> int:
    if args.completeness:
        from .bundle import completeness

        return completeness(args)
    node = with_node(args)
    try:
        status = node_status(node)
    finally:
        node.close()
    if args.json:
        print_json(status)
    else:
        for key, value in status.items():
            if key != "equivocations":
                print(f"{key}: {value}")
        for flag in status["equivocations"]:
            print(f"EQUIVOCATION: key {flag['key']} signed {len(flag['changes'])} contradicting "
                  f"changes in {flag['doc']} ({flag['reason']}): {', '.join(flag['changes'])}")
    return 0


