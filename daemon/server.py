"""The daemon's HTTP server (aiohttp): the peer protocol under /pnyx/v1/,
the local API under /api/v1/ (daemon/api.py) and the web page at / (daemon/page.py).

Runs until SIGINT or SIGTERM, then stops accepting, finishes what is in
flight and closes the store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
from pathlib import Path

from aiohttp import web

from .api import PREFIX, api_app
from .commands_ledger import node_status
from .discovery import Discovery, DiscoverySettings, announcer
from .identity import IDENTITY_PATH, identity_handler
from .node import Node, ensure_api_token, open_node
from .page import add_page
from .presence import announced, local_url
from .viewindex import ViewIndex

DEFAULT_PORT = 7464
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"
NODE_KEY = web.AppKey("node", Node)
DISCOVERY_KEY = web.AppKey("discovery", Discovery)
VIEW_KEY = web.AppKey("view", ViewIndex)
log = logging.getLogger("pnyx.daemon")


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--listen takes HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


async def status(request: web.Request) -> web.Response:
    discovery = request.app.get(DISCOVERY_KEY)
    return web.json_response({**node_status(request.app[NODE_KEY]),
                              "discovery": discovery.describe() if discovery else None})


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


def make_app(node: Node, api_remote: bool = False) -> web.Application:
    app = web.Application()
    app[NODE_KEY] = node
    app[VIEW_KEY] = ViewIndex(node.store, node.docs)
    app.router.add_get("/pnyx/v1/status", status)
    app.router.add_get("/pnyx/v1/view", view)
    app.router.add_get(IDENTITY_PATH, identity_handler(node.device_key))
    api = api_app(node, ensure_api_token(node.data), api_remote, app[VIEW_KEY])
    app.add_subapp(PREFIX, api)
    add_page(app, api)
    return app


async def start_discovery(app: web.Application, settings: DiscoverySettings, port: int) -> Discovery:
    """Announce this daemon and browse for neighbours until the app is cleaned up."""
    node = app[NODE_KEY]
    discovery = Discovery(settings.interfaces, lambda *_: None, lambda *_: None,
                          announcer(node.device_key.public, node.assembly, port, node.store,
                                    settings.confederations),
                          settings.reannounce_seconds)
    app[DISCOVERY_KEY] = discovery
    await discovery.start()
    return discovery


async def run_until_stopped(data: Path, host: str, port: int,
                            discovery_settings: DiscoverySettings | None = None,
                            api_remote: bool = False) -> None:
    node = open_node(data)
    app = make_app(node, api_remote)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=5.0)
    await runner.setup()
    discovery: Discovery | None = None
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
                discovery = await start_discovery(app, discovery_settings, port)
            await stop.wait()
    finally:
        if discovery is not None:
            await discovery.close()
        await runner.cleanup()
        node.close()
        print("pnyx: stopped", flush=True)


def serve(data: Path, host: str, port: int, discovery: DiscoverySettings | None = None,
          api_remote: bool = False) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run_until_stopped(data, host, port, discovery, api_remote))
