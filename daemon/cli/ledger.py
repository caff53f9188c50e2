"""Commands on the local assembly's ledger: init, decide, mandate, device, show, verify, status."""

from __future__ import annotations

import argparse
from typing import Any, TypeVar

from pnyx.federation.docids import ledger_id
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.ledger import Profile

from ..services.names import resolve_assembly
from ..services.records import Recorder
from ..services.status import node_status
from ..services.submit import submit
from ..store.audit import reverify
from ..store.node import create_data_dir, new_key, open_node
from .common import add_decision_args, vote_body, with_node
from .output import print_json

T = TypeVar("T")
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

    p = commands.add_parser("decide", parents=[common], help="record a decision of the assembly")
    add_decision_args(p, title_required=True)
    p.add_argument("--supersedes", default=None, metavar="ID", help="decision this one replaces")
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

    p = commands.add_parser("show", parents=[common], help="list decisions, mandates or devices")
    p.add_argument("what", choices=["decisions", "mandates", "devices"])
    p.add_argument("--assembly", default=None, metavar="KEY_OR_NAME",
                   help="another assembly held here (default: this one)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_show)

    p = commands.add_parser("verify", parents=[common], help="re-verify every stored change")
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


def cmd_decide(args: argparse.Namespace) -> int:
    body = vote_body(args)
    if args.supersedes is not None:
        body["supersedes"] = args.supersedes
    print(submit(args.data, "decide", body)["id"])
    return 0


def cmd_mandate_issue(args: argparse.Namespace) -> int:
    body = vote_body(args)
    body.update(delegate=args.delegate, delegate_key=args.delegate_key, council=args.council,
                term_from=args.term_from, term_until=args.term_until,
                instructions=[{"question": q, "position": p, "binding": b}
                              for q, p, b in args.instruction])
    print(submit(args.data, "mandate-issue", body)["id"])
    return 0


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
    from pnyx.federation.ledger import read_ledger

    node = with_node(args)
    try:
        assembly = resolve_assembly(node, args.assembly) if args.assembly else node.assembly
        ledger = read_ledger(node.docs.get(ledger_id(assembly)))
    finally:
        node.close()
    records: dict[str, Any] = {"decisions": ledger.decisions, "mandates": ledger.mandates,
                               "devices": ledger.devices}
    chosen = records[args.what]
    if args.json:
        print_json(list(chosen.values()))
        return 0
    superseded = ledger.superseded()
    for record in chosen.values():
        print(describe(record, superseded))
    if not chosen:
        print(f"no {args.what}")
    if args.what != "devices":
        for record_id, reason in sorted(ledger.void.items()):
            print(f"void: {record_id}  {reason}")
    return 0


def describe(record: Any, superseded: set[str]) -> str:
    from pnyx.federation.ledger import Decision, Device, Mandate

    if isinstance(record, Decision):
        t = record.tally
        mark = " (superseded)" if record.id in superseded else ""
        return (f"{record.id}  {record.date}  {record.title}  "
                f"[{t.votes_for} for, {t.against} against, {t.abstain} abstain]{mark}")
    if isinstance(record, Mandate):
        state = f"recalled by {record.recalled_by}" if record.recalled_by else "issued"
        return (f"{record.id}  {record.delegate} to {record.council}  "
                f"{record.term_from}..{record.term_until}  {state}")
    assert isinstance(record, Device)
    state = "revoked" if record.revoked_cut is not None else "certified"
    return f"{record.key}  {record.label or '-'}  {state}"


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


