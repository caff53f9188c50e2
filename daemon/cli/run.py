"""`pnyx run`: the daemon in the foreground until SIGINT or SIGTERM; `pnyx page`: its web page's address.

The server, gossip and discovery (aiohttp, zeroconf: about a quarter of a second of
CPU to import) are imported by `pnyx run` itself, not by every command that loads this
module to list its arguments.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pnyx.federation.discovery_txt import DEFAULT_REANNOUNCE_SECONDS, MAX_CONFEDERATIONS
from pnyx.federation.sync import PULL_ENVELOPES
from pnyx.federation.wirelimits import LIMITS

from ..services.presence import DEFAULT_LISTEN, parse_listen, running_daemon
from ..store.node import SetupError, read_api_token
from ..store.peers import normalize_url
from .common import add_interface_arg

if TYPE_CHECKING:
    from ..net.discovery import DiscoverySettings


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
    g.add_argument("--batch", type=int, default=PULL_ENVELOPES, metavar="N",
                   help=f"changes per request when catching up (1..{PULL_ENVELOPES})")
    g.add_argument("--no-push", dest="push", action="store_false",
                   help="do not push new changes at once; only the periodic rounds")
    g.add_argument("--no-learn", dest="learn", action="store_false",
                   help="keep to the peers added by hand; learn none from other peers")
    g.add_argument("--follow", action="append", default=[], metavar="CHARTER",
                   help="reconcile only these confederations' documents (charter hash; repeatable; "
                        "default: every document this daemon holds)")
    p.add_argument("--no-discovery", action="store_true",
                   help="neither announce this daemon nor look for neighbours with mDNS")
    add_interface_arg(p, "the --listen address, or every interface when it is 0.0.0.0")
    p.add_argument("--announce-confed", action="append", default=[], metavar="CHARTER",
                   help="announce only these confederations (charter hash; repeatable; "
                        "default: every confederation whose charter this daemon holds)")
    p.add_argument("--mdns-reannounce", type=float, default=DEFAULT_REANNOUNCE_SECONDS, metavar="SECONDS",
                   help=f"re-announce this often, so neighbours that appeared during a partition find "
                        f"us (default {DEFAULT_REANNOUNCE_SECONDS:g})")
    p.add_argument("--api-remote", action="append", nargs="?", const="", default=None,
                   metavar="NAME",
                   help="answer the local API and web page from other machines too, and requests "
                        "addressed to NAME besides this machine's own names and addresses "
                        "(repeatable; '*' for any name; default: this machine only; writes "
                        "always need the API token)")
    p.set_defaults(handler=cmd_run)

    p = commands.add_parser("page", parents=[common],
                            help="print the address of the running daemon's web page, with the API token")
    p.set_defaults(handler=cmd_page)


def discovery_settings(args: argparse.Namespace, host: str,
                       follow: tuple[bytes, ...] | None = None) -> DiscoverySettings | None:
    """Discovery announces --announce-confed, else the confederations followed, else every
    confederation whose charter the daemon holds."""
    from ..net.discovery import DiscoverySettings, discovery_interfaces, parse_charter

    if args.no_discovery:
        if args.mdns_interface or args.announce_confed:
            raise ValueError("--no-discovery cannot be combined with --mdns-interface or --announce-confed")
        return None
    if not args.mdns_reannounce >= 1:
        raise ValueError("--mdns-reannounce takes at least 1 second")
    confederations = tuple(dict.fromkeys(parse_charter(c) for c in args.announce_confed))
    if len(confederations) > MAX_CONFEDERATIONS:
        raise ValueError(f"at most {MAX_CONFEDERATIONS} confederations can be announced")
    return DiscoverySettings(discovery_interfaces(host, args.mdns_interface),
                             confederations or follow, args.mdns_reannounce)


def cmd_run(args: argparse.Namespace) -> int:
    from ..http.server import serve
    from ..net.discovery import parse_charter
    from ..net.gossip import GossipConfig

    host, port = parse_listen(args.listen)
    if args.gossip_interval <= 0 or args.watch_interval <= 0 or args.fanout < 1:
        raise ValueError("--gossip-interval and --watch-interval must be positive, --fanout at least 1")
    if not 1 <= args.batch <= PULL_ENVELOPES:
        raise ValueError(f"--batch takes 1..{PULL_ENVELOPES}")
    advertise = normalize_url(args.advertise) if args.advertise else None
    follow = tuple(dict.fromkeys(parse_charter(c, "--follow") for c in args.follow)) or None
    if follow is not None and len(follow) > LIMITS.scopes:
        raise ValueError(f"at most {LIMITS.scopes} confederations can be followed")
    serve(args.data, host, port, discovery_settings(args, host, follow),
          GossipConfig(args.gossip_interval, args.fanout, args.watch_interval, args.push,
                       args.batch, args.learn, follow), advertise, args.api_remote)
    return 0


def cmd_page(args: argparse.Namespace) -> int:
    url = running_daemon(args.data)
    if url is None:
        raise SetupError(f"no daemon is serving {args.data}: start `pnyx run` first")
    # the token travels in the fragment, which the browser never sends to the server
    print(f"{url}/#token={quote(read_api_token(args.data), safe='')}")
    return 0
