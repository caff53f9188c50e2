"""`pnyx sortition`: draw by lot (declare), commit, reveal, show and verify; and `pnyx parity`.

`draw` is an assembly vote declaring a draw: the pool (a JSON file
`{"candidate id": {"attribute": "value"}}`), the seats, the quotas, the
participant assemblies and the commit and reveal dates; the fair lottery and
every candidate's chance are computed and published with it. Each participant
then runs `commit` and, after the commit date and once every commitment is
held, `reveal`. `show` and `verify` recompute every draw from the records held
here; `verify` exits 1 unless the draw was drawn.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from pnyx.federation.keys import key_text

from ..services.draws import draw_row, draw_rows
from ..services.names import resolve_assembly
from ..services.parity import parity_rows
from ..services.submit import submit
from ..store.viewindex import ViewIndex
from .common import add_decision_args, vote_body, with_node
from .confed import _date
from .output import print_json

Sub = Any


def quota_arg(text: str) -> dict[str, Any]:
    """ATTRIBUTE=VALUE:MIN:MAX, e.g. gender=woman:2:3."""
    attribute, _, rest = text.partition("=")
    value, _, bounds = rest.partition(":")
    low, _, high = bounds.partition(":")
    try:
        if not attribute or not value:
            raise ValueError
        return {"attribute": attribute, "value": value, "min": int(low), "max": int(high)}
    except ValueError:
        raise argparse.ArgumentTypeError(f"not ATTRIBUTE=VALUE:MIN:MAX: {text!r}") from None


def register(commands: Sub, common: argparse.ArgumentParser) -> None:
    register_parity(commands, common)
    group = commands.add_parser("sortition", help="fill a post by a verifiable draw by lot")
    sub = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("draw", parents=[common],
                       help="declare a draw (an assembly decision) with its fair lottery")
    p.add_argument("--pool", required=True, type=Path, metavar="FILE",
                   help='JSON: {"candidate id": {"attribute": "value", ...}, ...}')
    p.add_argument("--seats", required=True, type=int, metavar="N")
    p.add_argument("--quota", action="append", default=[], type=quota_arg,
                   metavar="ATTRIBUTE=VALUE:MIN:MAX", help="repeatable")
    p.add_argument("--participant", action="append", required=True, metavar="KEY_OR_NAME",
                   help="an assembly that commits and reveals (two or more)")
    p.add_argument("--commit-by", required=True, metavar="YYYY-MM-DD")
    p.add_argument("--reveal-by", required=True, metavar="YYYY-MM-DD")
    add_decision_args(p, title_required=False)
    p.set_defaults(handler=cmd_draw)
    for action, what in (("commit", "record this assembly's commitment to a draw"),
                         ("reveal", "reveal this assembly's secret, once every commitment is held")):
        p = sub.add_parser(action, parents=[common], help=what)
        p.add_argument("draw", metavar="ASSEMBLY_KEY/DECISION_ID")
        p.add_argument("--date", default=None, metavar="YYYY-MM-DD", help="default today")
        p.set_defaults(handler=cmd_step, step=action)
    for action, what in (("show", "every draw held here: chances, participants, result"),
                         ("verify", "recompute one draw from the records held; exit 1 unless drawn")):
        p = sub.add_parser(action, parents=[common], help=what)
        p.add_argument("draw", nargs="?" if action == "show" else None, metavar="ASSEMBLY_KEY/DECISION_ID")
        p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="default today")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(handler=cmd_show, verify=action == "verify")


def register_parity(commands: Sub, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("parity", parents=[common],
                            help="per council and member: whether each delegation meets the charter's parity")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="default today")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_parity)


def cmd_parity(args: argparse.Namespace) -> int:
    as_of = _date(args.as_of)
    node = with_node(args)
    try:
        rows = parity_rows(ViewIndex(node.store, node.docs), as_of)
    finally:
        node.close()
    if args.json:
        print_json(rows)
        return 0
    for council in rows:
        rule = ", ".join(f"{n} {v}" for v, n in council["parity"]["min"].items())
        print(f"{council['name']}  {council['confederation']}: parity over {council['parity']['attribute']} "
              f"({rule}) as of {council['as_of']}: {'met' if council['met'] else 'NOT MET'}")
        for m in council["members"]:
            who = ", ".join(d["delegate"] for d in m["delegates"]) or "-"
            print(f"  {m['name'] or m['assembly']}: {'met' if m['met'] else 'not met: ' + m['reason']}"
                  f"  [{who}]")
    if not rows:
        print(f"as of {as_of}: no confederation held here requires parity")
    return 0


def cmd_draw(args: argparse.Namespace) -> int:
    try:
        pool = json.loads(args.pool.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, ValueError) as exc:
        raise ValueError(f"--pool: cannot read {args.pool}: {exc}") from None
    progress = logging.StreamHandler(sys.stderr)  # the lottery's stages, as a large pool takes minutes
    progress.setFormatter(logging.Formatter("pnyx: %(message)s"))
    lottery = logging.getLogger("pnyx.lottery")
    lottery.addHandler(progress)
    lottery.setLevel(logging.INFO)
    lottery.propagate = False
    body = vote_body(args) | {"pool": pool, "seats": args.seats, "quotas": args.quota,
                              "participants": args.participant, "commit_by": args.commit_by,
                              "reveal_by": args.reveal_by}
    print(submit(args.data, "sortition-draw", body)["draw"])
    return 0


def _draw_params(args: argparse.Namespace) -> dict[str, str]:
    assembly, slash, decision = args.draw.partition("/")
    if not slash:
        raise ValueError(f"not a draw: {args.draw} (ASSEMBLY_KEY/DECISION_ID)")
    return {"assembly": assembly, "decision": decision}


def cmd_step(args: argparse.Namespace) -> int:
    body = {} if args.date is None else {"date": args.date}
    result = submit(args.data, f"sortition-{args.step}", body, **_draw_params(args))
    print(result["id"])
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    as_of = _date(args.as_of)
    node = with_node(args)
    try:
        if args.draw:
            params = _draw_params(args)
            assembly = resolve_assembly(node, params["assembly"])
            rows = [draw_row(ViewIndex(node.store, node.docs), f"{key_text(assembly)}/{params['decision']}",
                             as_of)]
        else:
            rows = draw_rows(ViewIndex(node.store, node.docs), as_of)
    finally:
        node.close()
    if args.json:
        print_json(rows if not args.draw else rows[0])
    else:
        for row in rows:
            print_draw(row)
        if not rows:
            print(f"as of {as_of}: no draw held here")
    if args.verify:
        drawn = rows[0]["status"] == "drawn"
        print(f"draw {'verified: ' + ' '.join(rows[0]['panel']) if drawn else rows[0]['status']}"
              f" ({rows[0].get('reason', '')})", file=sys.stderr)
        return 0 if drawn else 1
    return 0


def print_draw(row: dict[str, Any]) -> None:
    print(f"draw {row['draw']}  {row.get('title', '')}  declared {row['declared']}: {row['status']}"
          f" ({row.get('reason', '')})")
    if "seats" in row:
        print(f"  {row['seats']} seats from {len(row['pool'])} candidates; commit by {row['commit_by']}, "
              f"reveal by {row['reveal_by']}")
        for quota in row["quotas"]:
            print(f"  quota {quota['attribute']}={quota['value']}: {quota['min']}..{quota['max']}")
        for cid, chance in row["chances"].items():
            n, d = (int(x) for x in chance.split("/"))
            print(f"  chance {cid}: {chance} ({100 * n / d:.1f}%)")
    for p in row.get("participants", []):
        print(f"  participant {p['assembly']}: committed {p['committed'] or '-'}, "
              f"revealed {p['revealed'] or '-'}" + ("" if p["held"] else " (ledger not held here)"))
    if row["status"] == "drawn":
        print(f"  seed {row['seed']}")
        print(f"  drawn: {', '.join(row['panel'])}")
