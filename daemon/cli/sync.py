"""Commands about other daemons: `pnyx peers [add URL | remove URL]` and `pnyx sync URL`.

Both work on the data directory directly, also while `pnyx run` uses it: a
peer added here is contacted by the running daemon at its next round, and
whatever `pnyx sync` stores is pushed onward by it (daemon/net/gossip.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from pnyx.federation.sync import Progress

from ..services.submit import submit
from ..store.node import Node, open_node
from ..store.peers import PeerBook, normalize_url, peer_rows
from ..store.senders import SenderBook
from .output import print_json

if TYPE_CHECKING:
    from ..net.sync_client import Outcome

PROGRESS_FROM = 200  # show a progress bar for exchanges moving at least this many changes


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    peers = commands.add_parser("peers", parents=[common], help="list, add or remove peers")
    peers.add_argument("--json", action="store_true", help="print JSON")
    peers.set_defaults(handler=cmd_peers)
    sub = peers.add_subparsers(dest="action", metavar="ACTION")
    p = sub.add_parser("add", parents=[common], help="add a peer by URL (http://HOST:PORT)")
    p.add_argument("url", metavar="URL")
    p.set_defaults(handler=cmd_peers_add)
    p = sub.add_parser("remove", parents=[common], help="forget a peer")
    p.add_argument("url", metavar="URL")
    p.set_defaults(handler=cmd_peers_remove)

    p = commands.add_parser("sync", parents=[common], help="sync once with a daemon, now")
    p.add_argument("url", metavar="URL")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=cmd_sync)


SOURCES = {"added": "static", "learned": "learned from a peer", "discovered": "mDNS"}

def cmd_peers_add(args: argparse.Namespace) -> int:
    url = normalize_url(args.url)
    added = submit(args.data, "peers-add", {"url": url})["added"]
    print(f"added {url}" if added else f"{url} was already a peer")
    return 0


def cmd_peers_remove(args: argparse.Namespace) -> int:
    url = normalize_url(args.url)
    submit(args.data, "peers-remove", {"url": url})
    print(f"removed {url}")
    return 0


def cmd_peers(args: argparse.Namespace) -> int:
    node = open_node(args.data)
    try:
        rows: list[dict[str, Any]] = peer_rows(PeerBook(node.store), time.time())
        senders = SenderBook(node.store).rows()
    finally:
        node.close()
    if args.json:
        print_json(rows)
        return 0
    print_peers(rows)
    if senders:
        print("pushes received, by sender (a proven device key, else an address):")
    for r in senders:
        line = (f"  {r['sender']}  pushes {r['pushes']}  accepted {r['accepted']}  "
                f"duplicate {r['duplicate']}  rejected {r['rejected']}  deferred {r['deferred']}")
        if r["refused"]:
            line += f"  slowed down {r['refused']} times"
        if r["last_rejection"]:
            line += f"  ({r['last_rejection']})"
        print(line)
    return 0


def print_peers(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no peers; add one with `pnyx peers add http://HOST:PORT`")
    for r in rows:
        lag = "never synced" if r["lag_seconds"] is None else f"synced {r['lag_seconds']:.0f} s ago"
        source = SOURCES.get(str(r["source"]), r["source"])
        line = (f"{r['url']}  ({source})  {r['device'] or 'device unknown'}  {lag}  "
                f"sent {r['sent']}  received {r['received']}")
        if r["rejected"]:
            line += f"  rejected {r['rejected']} ({r['last_rejection']})"
        if r["last_error"]:
            line += f"  last error: {r['last_error']}"
        if r["self"]:
            line += "  (this daemon itself)"
        if r["flag"]:
            line += f"  FLAGGED: {r['flag']}"
        print(line)


def cmd_sync(args: argparse.Namespace) -> int:
    import asyncio  # here: every other command starts without it (tests/test_cli_startup.py)

    url = normalize_url(args.url)
    node = open_node(args.data)
    node.docs.keep_only_in_use()
    try:
        outcome, failure = asyncio.run(one_sync(node, url, show_progress=not args.json))
    finally:
        node.close()
    summary = {"peer": url, "received": outcome.received.accepted,
               "duplicate": outcome.received.duplicate, "pending": outcome.received.pending,
               "deferred": outcome.received.deferred,
               "rejected": len(outcome.received.rejected), "sent": outcome.progress.pushed,
               "accepted_by_peer": outcome.progress.remote_accepted,
               "round_trips": outcome.progress.round_trips, "bytes_sent": outcome.wire_sent,
               "bytes_received": outcome.wire_received, "error": failure}
    if args.json:
        print_json(summary)
    else:
        print(f"received {summary['received']} new changes ({summary['duplicate']} already held, "
              f"{summary['rejected']} rejected, {summary['pending']} waiting, {summary['deferred']} "
              f"deferred for lack of room to wait); sent {summary['sent']} "
              f"({summary['accepted_by_peer']} accepted by the peer)")
        for reason, detail in outcome.received.rejected[:5]:
            print(f"  rejected: {reason}: {detail}")
    if failure is not None:
        print(f"pnyx: error: sync stopped: {failure} (what was received is kept)", file=sys.stderr)
        return 1
    return 0


async def one_sync(node: Node, url: str, show_progress: bool) -> tuple[Outcome, str | None]:
    from rich.console import Console
    from rich.progress import Progress as Bar

    # aiohttp with them: imported by `pnyx sync` itself, not by every command
    from ..net.sync_client import SyncFailed, new_session, sync_with
    from ..net.sync_endpoint import SyncContext

    ctx = SyncContext.open(node)
    with Bar(console=Console(stderr=True), transient=True, disable=not show_progress) as bar:
        task = bar.add_task("sync", total=None, visible=False)

        def on_progress(p: Progress) -> None:
            total = p.to_pull + p.to_push
            if total >= PROGRESS_FROM:
                bar.update(task, total=total, completed=p.pulled + p.pushed, visible=True,
                           description=f"received {p.pulled}/{p.to_pull}, sent {p.pushed}/{p.to_push}")

        async with new_session() as session:
            try:
                outcome = await sync_with(session, node, ctx.holdings, url, None, on_progress)
            except SyncFailed as exc:
                assert exc.outcome is not None
                ctx.peers.count_rejected(url, exc.outcome.received.rejected)
                return exc.outcome, str(exc)
    ctx.peers.succeeded(url, outcome.peer_key, time.time(), outcome.progress.pushed,
                        outcome.received.accepted)
    ctx.peers.count_rejected(url, outcome.received.rejected)
    return outcome, None
