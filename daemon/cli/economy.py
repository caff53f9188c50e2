"""Commands of the economy of solidarity: need, offer, pledge, delivery, commons, and plan.

Each record kind is one command group with the same four actions: `add`,
`revise ID` (a new record superseding ID; what is not given is kept),
`withdraw ID` (a new record withdrawing it) and `list`. The fields of each
kind are one table below, so the groups cannot drift apart. `pnyx plan`
prints the confederal plan as of a date, saying how recent the records held
from each member assembly are.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pnyx.federation.economy import Priority
from pnyx.federation.valueflows import plan_jsonld

from ..services.economy import SINGULAR, listed_records
from ..services.names import resolve_assembly, resolve_confederation
from ..services.submit import submit
from ..store.viewindex import ViewIndex, scratch_plan
from .common import with_node
from .confed import _date
from .output import print_json

Sub = Any


# field -> (option, argparse keywords); required for `add` unless "default" is given
OPTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "confederation": ("--confed", {"metavar": "CONFED", "help": "the confederation, by id or name"}),
    "item": ("--item", {"metavar": "ITEM", "help": "what is needed or offered, e.g. grain"}),
    "quantity": ("--quantity", {"type": int, "metavar": "N", "help": "in whole units"}),
    "unit": ("--unit", {"metavar": "UNIT", "help": "e.g. kg, litre, day of work"}),
    "by": ("--by", {"metavar": "YYYY-MM-DD", "help": "needed by this day"}),
    "priority": ("--priority", {"choices": [p.value for p in Priority], "default": "normal"}),
    "from": ("--from", {"metavar": "YYYY-MM-DD", "help": "available from"}),
    "until": ("--until", {"metavar": "YYYY-MM-DD", "help": "available until"}),
    "conditions": ("--conditions", {"default": "", "metavar": "TEXT"}),
    "cooperative": ("--cooperative", {"default": "", "metavar": "NAME",
                                      "help": "the cooperative of the assembly it is for or from"}),
    "note": ("--note", {"default": "", "metavar": "TEXT"}),
    "need": ("--need", {"metavar": "ASSEMBLY_KEY/ID"}),
    "offer": ("--offer", {"metavar": "ASSEMBLY_KEY/ID"}),
    "good": ("--good", {"metavar": "GOOD", "help": "the shared good: a tool, a field, a well"}),
    "rules": ("--rules", {"default": "", "metavar": "TEXT", "help": "its rules of use"}),
}
KINDS: dict[str, tuple[str, tuple[str, ...], str]] = {  # group -> (collection, fields, help)
    "need": ("needs", ("confederation", "item", "quantity", "unit", "by", "priority", "cooperative",
                       "note"), "what the assembly needs, by when"),
    "offer": ("offers", ("confederation", "item", "quantity", "unit", "from", "until", "conditions",
                         "cooperative"), "what the assembly can give, from when until when"),
    "pledge": ("pledges", ("need", "offer", "quantity"),
               "a pledge matching a need and an offer (both sides record one)"),
    "delivery": ("deliveries", ("need", "offer", "quantity", "note"), "a delivery, when it happens"),
    "commons": ("commons", ("confederation", "good", "rules"),
                "a shared good this assembly keeps; adopt its rules with propose --kind commons"),
}


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    for group, (collection, fields, help_text) in KINDS.items():
        parser = commands.add_parser(group, help=help_text)
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        p = sub.add_parser("add", parents=[common], help=f"record a {group}")
        _fields(p, fields, revising=False)
        p.set_defaults(handler=cmd_add, collection=collection, fields=fields)
        p = sub.add_parser("revise", parents=[common], help=f"revise a {group} by a new record")
        p.add_argument("id", metavar="ID")
        _fields(p, fields, revising=True)
        p.set_defaults(handler=cmd_add, collection=collection, fields=fields)
        p = sub.add_parser("withdraw", parents=[common], help=f"withdraw a {group} by a new record")
        p.add_argument("id", metavar="ID")
        p.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="default today")
        p.set_defaults(handler=cmd_withdraw, collection=collection)
        p = sub.add_parser("list", parents=[common], help=f"every {group} record of a ledger")
        p.add_argument("--assembly", default=None, metavar="KEY_OR_NAME",
                       help="another assembly held here (default: this one)")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(handler=cmd_list, collection=collection)

    p = commands.add_parser("plan", parents=[common],
                            help="the confederal plan: needs against offers, what is uncovered")
    p.add_argument("--confed", default=None, metavar="CONFED", help="one confederation, by id or name")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="default today")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the canonical JSON")
    out.add_argument("--jsonld", action="store_true", help="print it in Valueflows terms (JSON-LD)")
    p.add_argument("--verify", action="store_true",
                   help="also recompute from scratch and fail unless identical")
    p.set_defaults(handler=cmd_plan)


def _fields(p: argparse.ArgumentParser, fields: tuple[str, ...], revising: bool) -> None:
    for name in fields:
        option, keywords = OPTIONS[name]
        keywords = dict(keywords)
        if revising:
            keywords["default"] = None
        keywords["required"] = "default" not in keywords
        p.add_argument(option, dest=f"field_{name}", **keywords)
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="the day recorded (default today)")


def cmd_add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {name: getattr(args, f"field_{name}") for name in args.fields}
    body = {k: v for k, v in body.items() if v is not None}
    if args.date is not None:
        body["date"] = args.date
    if getattr(args, "id", None) is not None:
        body["supersedes"] = args.id
    print(submit(args.data, f"{SINGULAR[args.collection]}-add", body)["id"])
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    body = {} if args.date is None else {"date": args.date}
    print(submit(args.data, f"{SINGULAR[args.collection]}-withdraw", body, record=args.id)["id"])
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    node = with_node(args)
    try:
        assembly = resolve_assembly(node, args.assembly) if args.assembly else node.assembly
        records = listed_records(node, assembly, args.collection)
    finally:
        node.close()
    if args.json:
        print_json(records)
        return 0
    for r in records:
        what = r.get("good") or f"{r.get('quantity')} {r.get('unit')} {r.get('item')}"
        when = {"needs": f"by {r.get('by')}", "offers": f"{r.get('from')}..{r.get('until')}"}.get(
            args.collection, r.get("need", "") + " <- " + r.get("offer", "") if "need" in r else "")
        marks = [m for m, on in (("withdrawn", r["withdrawn"]), ("superseded", r["superseded"])) if on]
        print(f"{r['id']}  {r['date']}  {what}  {when}" + (f"  ({', '.join(marks)})" if marks else ""))
    if not records:
        print(f"no {args.collection}")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    as_of = _date(args.as_of)
    node = with_node(args)
    try:
        confederation = resolve_confederation(node, args.confed) if args.confed else None
        plan = ViewIndex(node.store, node.docs).render_plan(as_of, confederation)
        same = plan == scratch_plan(node.store, as_of, confederation) if args.verify else True
    finally:
        node.close()
    if args.json:
        sys.stdout.write(plan.decode("utf-8") + "\n")
    elif args.jsonld:
        print(json.dumps(plan_jsonld(json.loads(plan)), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        print_plan(json.loads(plan))
    if args.verify:
        print(f"plan {'verified: identical' if same else 'DIFFERS from'} when recomputed from scratch",
              file=sys.stderr)
    return 0 if same else 1


def print_plan(plan: dict[str, Any]) -> None:
    for c in plan["confederations"]:
        names = {m["assembly"]: m["name"] or m["assembly"][:12] for m in c["members"]}
        print(f"confederation {c['name']}  {c['id']}")
        print(f"  plan as of {plan['as_of']}, from the records held here:")
        for m in c["members"]:
            news = (f"newest record {m['newest']} ({m['records']} held)" if m["newest"]
                    else "no economy records held" if m["held"] else "its ledger is not held here")
            print(f"    {names[m['assembly']]}: {news}")
        for line in c["items"]:
            totals = ", ".join(f"{k} {line[k]}" for k in ("needed", "offered", "pledged", "delivered",
                                                           "proposed", "uncovered", "surplus"))
            print(f"  {line['item']} ({line['unit']}): {totals}")
            for n in line["needs"]:
                if n["uncovered"]:
                    print(f"    UNCOVERED {n['uncovered']} {line['unit']} for "
                          f"{names.get(n['assembly'], n['assembly'])} by {n['by']} ({n['priority']})")
            for m in line["proposal"]:
                print(f"    proposed: {m['quantity']} {line['unit']} from "
                      f"{names.get(m['offer'].partition('/')[0], m['offer'])} to "
                      f"{names.get(m['need'].partition('/')[0], m['need'])}")
        for good in c["commons"]:
            print(f"  commons: {good['good']}, kept by {names.get(good['custodian'], good['custodian'])}"
                  f" since {good['effective']}: {good['rules']}")
    if not plan["confederations"]:
        print(f"as of {plan['as_of']}: no confederation held here")
