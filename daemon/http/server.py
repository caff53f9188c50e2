"""The daemon's HTTP server (aiohttp): the peer protocol under /pnyx/v1/,
the local API under /api/v1/ (daemon/http/api.py) and the web page at / (daemon/http/page.py).

Runs until SIGINT or SIGTERM, with the gossip scheduler beside it, then
stops accepting, finishes what is in flight and closes the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from pnyx.federation.syncmsg import MAX_BODY_BYTES

from ..net.discovery import Discovery, DiscoverySettings, announcer
from ..net.gossip import Gossip, GossipConfig
from ..net.identity import IDENTITY_PATH, identity_handler
from ..net.sync_endpoint import SYNC_KEY, SyncContext, handle_sync
from ..services.presence import announced, local_url
from ..services.status import node_status
from ..store.node import Node, ensure_api_token, open_node
from ..store.viewindex import ViewIndex
from ..store.watch import WATCH_INTERVAL, StoreWatch
from .access import Access
from .api import PREFIX, api_app
from .exchange import add_exchange
from .faults import json_faults
from .page import add_page

NODE_KEY = web.AppKey("node", Node)
DISCOVERY_KEY = web.AppKey("discovery", Discovery)
GOSSIP_KEY = web.AppKey("gossip", Gossip)
VIEW_KEY = web.AppKey("view", ViewIndex)
WATCH_KEY = web.AppKey("watch", StoreWatch)
log = logging.getLogger("pnyx.daemon")


async def status(request: web.Request) -> web.Response:
    report = node_status(request.app[NODE_KEY])
    discovery = request.app.get(DISCOVERY_KEY)
    report["discovery"] = discovery.describe() if discovery else None
    report["sync_digest"] = request.app[SYNC_KEY].holdings.trees().whole.root().hex()
    gossip = request.app.get(GOSSIP_KEY)
    if gossip is not None:
        report["sync_sessions"] = gossip.sessions
    return web.json_response(report)


async def view(request: web.Request) -> web.Response:
    """The confederal view as canonical JSON; `as_of` (default today, UTC) and `confed` in the query."""
    try:
        as_of = dt.date.fromisoformat(request.query.get("as_of") or
                                      dt.datetime.now(dt.timezone.utc).date().isoformat())
        confederation = request.query.get("confed")
        if confederation is not None and (len(confederation) != 64 or
                                          confederation.strip("0123456789abcdef")):
            raise ValueError("confed is a confederation id (64 hex digits)")
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"{exc}\n") from None
    body = request.app[VIEW_KEY].render(as_of, confederation)
    return web.Response(body=body, content_type="application/json")


async def watching(app: web.Application) -> AsyncIterator[None]:
    """The store watch (daemon/store/watch.py) polls while the app runs: the one mechanism by which
    the event stream and gossip's push learn that records arrived, whoever wrote them."""
    watch = app[WATCH_KEY]
    task = asyncio.create_task(watch.run())
    yield
    watch.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def closing(watch: StoreWatch) -> None:
    """Event streams end as the daemon stops, instead of holding the shutdown up."""
    watch.close()


def make_app(node: Node, sync: SyncContext | None = None, access: Access | None = None,
             watch_interval: float = WATCH_INTERVAL) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES + 1024, middlewares=[json_faults])
    app[NODE_KEY] = node
    app[SYNC_KEY] = sync or SyncContext.open(node)
    app[VIEW_KEY] = ViewIndex(node.store, node.docs)
    app.router.add_get("/pnyx/v1/status", status)
    app.router.add_get("/pnyx/v1/view", view)
    app.router.add_get(IDENTITY_PATH, identity_handler(node.device_key))
    app.router.add_post("/pnyx/v1/sync", handle_sync)
    watch = app[WATCH_KEY] = StoreWatch(node.store, watch_interval, on_idle=node.docs.tend)
    api = api_app(node, ensure_api_token(node.data), access or Access.of(None), app[VIEW_KEY], watch)
    add_exchange(api)
    app.add_subapp(PREFIX, api)
    add_page(app, api)
    app.cleanup_ctx.append(watching)
    app.on_shutdown.append(lambda app: closing(app[WATCH_KEY]))
    return app


async def start_discovery(app: web.Application, settings: DiscoverySettings, port: int,
                          gossip: Gossip) -> Discovery:
    """Announce this daemon and browse for neighbours until the app is cleaned up; every
    neighbour heard is proposed to the gossip as a peer."""
    node = app[NODE_KEY]
    discovery = Discovery(settings.interfaces, lambda url, device, _: gossip.discovered(url, device),
                          lambda *_: None,  # a goodbye changes nothing: failed syncs retire peers
                          announcer(node.device_key.public, node.assembly, port, node.store,
                                    settings.confederations),
                          settings.reannounce_seconds)
    app[DISCOVERY_KEY] = discovery
    await discovery.start()
    return discovery


async def run_until_stopped(data: Path, host: str, port: int,
                            discovery_settings: DiscoverySettings | None = None,
                            config: GossipConfig | None = None, advertise: str | None = None,
                            api_remote: list[str] | None = None) -> None:
    node = open_node(data)
    if advertise is None and host not in ("0.0.0.0", "::"):
        advertise = f"http://{host}:{port}"
    config = config or GossipConfig()
    sync = SyncContext.open(node, advertise, config.learn, config.follow)
    access = Access.of(api_remote, (host, urlsplit(advertise).hostname if advertise else None))
    app = make_app(node, sync, access, config.watch_interval)
    gossip = Gossip(sync, config, random.Random(), app[WATCH_KEY])
    app[GOSSIP_KEY] = gossip
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    discovery: Discovery | None = None
    gossiping: asyncio.Task[None] | None = None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        log.info("pnyx serving %s on http://%s:%d", node.ledger_id, host, port)
        print(f"pnyx: serving on http://{host}:{port} (Ctrl-C to stop)", flush=True)
        with announced(data, local_url(host, port), node.device_key.public):
            if discovery_settings is not None:
                discovery = await start_discovery(app, discovery_settings, port, gossip)
            gossiping = asyncio.create_task(gossip.run())
            await stop.wait()
    finally:
        if gossiping is not None:
            gossiping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await gossiping
        if discovery is not None:
            await discovery.close()
        await runner.cleanup()
        node.close()
        print("pnyx: stopped", flush=True)


def serve(data: Path, host: str, port: int, discovery: DiscoverySettings | None = None,
          config: GossipConfig | None = None, advertise: str | None = None,
          api_remote: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    asyncio.run(run_until_stopped(data, host, port, discovery, config, advertise, api_remote))
