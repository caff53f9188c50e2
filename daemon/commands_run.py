"""`pnyx run`: the daemon in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
from typing import Any

from pnyx.federation.sync import BATCH_ENVELOPES

from .gossip import GossipConfig
from .peers import normalize_url
from .server import DEFAULT_LISTEN, parse_listen, serve


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("run", parents=[common], help="run the daemon")
    p.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                   help=f"address to serve peers and clients on (default {DEFAULT_LISTEN})")
    p.add_argument("--advertise", default=None, metavar="URL",
                   help="the URL peers should use to reach this daemon (default http://LISTEN)")
    g = p.add_argument_group("gossip")
    g.add_argument("--gossip-interval", type=float, default=30.0, metavar="SECONDS",
                   help="mean time between pull-push rounds with random peers (default 30)")
    g.add_argument("--fanout", type=int, default=3, metavar="N",
                   help="peers contacted each round (default 3)")
    g.add_argument("--watch-interval", type=float, default=0.2, metavar="SECONDS",
                   help="how often the store is checked for new changes to push (default 0.2)")
    g.add_argument("--batch", type=int, default=BATCH_ENVELOPES, metavar="N",
                   help=f"changes per request when catching up (1..{BATCH_ENVELOPES})")
    g.add_argument("--no-push", dest="push", action="store_false",
                   help="do not push new changes at once; only the periodic rounds")
    g.add_argument("--no-learn", dest="learn", action="store_false",
                   help="keep to the peers added by hand; learn none from other peers")
    p.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    host, port = parse_listen(args.listen)
    if args.gossip_interval <= 0 or args.watch_interval <= 0 or args.fanout < 1:
        raise ValueError("--gossip-interval and --watch-interval must be positive, --fanout at least 1")
    if not 1 <= args.batch <= BATCH_ENVELOPES:
        raise ValueError(f"--batch takes 1..{BATCH_ENVELOPES}")
    advertise = normalize_url(args.advertise) if args.advertise else None
    serve(args.data, host, port,
          GossipConfig(args.gossip_interval, args.fanout, args.watch_interval, args.push,
                       args.batch), advertise, args.learn)
    return 0
