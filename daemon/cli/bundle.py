"""Carrying records by hand: `pnyx state export`, `pnyx bundle export|import`, and
`pnyx status --completeness` (what is known to exist but is missing here).

The usual round: the village writes `pnyx state export -o village.state`; a
neighbour answers with `pnyx bundle export --for village.state -o carry.pnyx`;
the village runs `pnyx bundle import carry.pnyx` (and the same the other way).
All of it works on the data directory, also while `pnyx run` uses it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from pnyx.federation.bundle import BundleError, HeldState, decode_state

from ..store.bundles import export_selected, export_state, import_summary, read_import
from ..store.completeness import Completeness
from ..store.node import open_node
from .output import print_json

PROGRESS_FROM = 1 << 20  # show a progress bar for bundles of at least this many bytes


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    state = commands.add_parser("state", help="what this daemon holds, as a small file")
    sub = state.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("export", parents=[common], help="write this daemon's state to a file")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    p.set_defaults(handler=cmd_state_export)

    bundle = commands.add_parser("bundle", help="signed records in a file carried by hand")
    sub = bundle.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("export", parents=[common], help="write records to a bundle file")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE")
    p.add_argument("--for", dest="for_state", type=Path, metavar="STATE",
                   help="only what the daemon that wrote this state file lacks")
    p.add_argument("--since", metavar="DATE",
                   help="only changes this daemon stored on or after DATE (YYYY-MM-DD, UTC)")
    p.add_argument("--confed", metavar="CONFED_ID",
                   help="only the records of this confederation and its members")
    p.add_argument("--all", action="store_true", help="every record held (the default)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_bundle_export)
    p = sub.add_parser("import", parents=[common], help="verify and store the records of a bundle")
    p.add_argument("bundle", type=Path, metavar="FILE")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_bundle_import)


def cmd_state_export(args: argparse.Namespace) -> int:
    node = open_node(args.data)
    try:
        state = export_state(node, args.output)
    finally:
        node.close()
    changes = sum(seq for _, vector in state.vectors for _, seq in vector)
    print(f"wrote {args.output}: {len(state.vectors)} documents, {changes} changes held")
    return 0


def _read_state(path: Path) -> HeldState:
    try:
        return decode_state(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except BundleError as exc:
        raise ValueError(f"{path} is not a usable state file: {exc}") from None


def _since(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since takes a date YYYY-MM-DD, got {text!r}") from None


def cmd_bundle_export(args: argparse.Namespace) -> int:
    if args.all and (args.for_state or args.since or args.confed):
        raise ValueError("--all cannot be combined with --for, --since or --confed")
    theirs = _read_state(args.for_state) if args.for_state else None
    since = _since(args.since) if args.since else None
    node = open_node(args.data)
    try:
        trailer = export_selected(node, args.output, since, args.confed, theirs)
    finally:
        node.close()
    size = args.output.stat().st_size
    if args.json:
        print_json({"file": str(args.output), "records": trailer.changes, "bytes": size,
                    "sha256": trailer.sha256.hex()})
    else:
        print(f"wrote {args.output}: {trailer.changes} records, {size} bytes")
    return 0


def cmd_bundle_import(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    try:
        size = args.bundle.stat().st_size
    except OSError as exc:
        raise ValueError(f"cannot read {args.bundle}: {exc.strerror}") from None
    node = open_node(args.data)
    node.docs.keep_only_in_use()
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=Console(stderr=True), transient=True,
                      disable=args.json or size < PROGRESS_FROM) as bar:
            task = bar.add_task("importing", total=size)

            def on_progress(done: int, records: int) -> None:
                bar.update(task, completed=done, description=f"{records} records")
            result = read_import(node, args.bundle, on_progress)
    finally:
        node.close()
    summary = import_summary(str(args.bundle), result)
    if args.json:
        print_json(summary)
    else:
        print_import(summary)
    if result.error is not None:
        print(f"pnyx: error: {args.bundle} is damaged: {result.error} ({summary['records']} records"
              " before the damage were verified and what was valid is kept)", file=sys.stderr)
        return 1
    return 0


def print_import(s: dict[str, Any]) -> None:
    print(f"{s['records']} records: {s['new']} new, {s['already_held']} already held, "
          f"{s['pending']} pending (waiting for what they depend on), {s['rejected']} rejected"
          + (f", {s['deferred']} deferred (no room to wait: import the bundle again later)"
             if s["deferred"] else ""))
    for r in s["reasons"][:10]:
        print(f"  rejected: {r['reason']}: {r['detail']}")


def completeness(args: argparse.Namespace) -> int:
    node = open_node(args.data)
    try:
        report = Completeness(node.store).report(node)
    finally:
        node.close()
    if args.json:
        print_json(report)
        return 0
    print("nothing known to be missing" if report["complete"] else "some records are known to be missing")
    for row in report["assemblies"]:
        name = row.get("name") or row.get("assembly") or f"charter {row.get('charter')}"
        newest = row.get("newest_decision")
        line = f"{name}: {row['changes']} changes"
        if newest:
            line += f", newest decision {newest['date']} {newest['title']!r}"
        if not row["complete"]:
            line += f"; MISSING {row['missing_changes']} changes, {row['pending']} pending"
        news = row["last_news"]
        if news:
            line += f"; last news {news['at']} from {news['from']}"
        print(line)
    return 0
