"""The web page the daemon serves at `/`: plain HTML, CSS and JS shipped in the package.

Nothing is loaded from elsewhere (no CDN): the page works with no internet.
It reads the local API and listens to its event stream; writes use the API
token, which the page takes from the `#token=` part of its address (never
sent to the server; `pnyx page` prints that address) or from a field on the
page, and keeps in the browser's local storage. Like the API, it answers
loopback clients only unless `pnyx run --api-remote`, and only requests
addressed to this daemon's own names (daemon/http/access.py).
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from .api import API_KEY

FILES = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css",
         "economy.js": "text/javascript", "accountability.js": "text/javascript"}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def page_file(name: str) -> web.Response:
    body = (resources.files("pnyx.daemon.http") / "web" / name).read_bytes()
    return web.Response(body=body, content_type=FILES[name], charset="utf-8", headers=HEADERS)


def add_page(app: web.Application, api: web.Application) -> None:
    """Serve the page on `app`, answering whom the API `api` answers."""

    async def index(request: web.Request) -> web.Response:
        return api[API_KEY].access.refuse(request) or page_file("index.html")

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in FILES:
            raise web.HTTPNotFound()
        return api[API_KEY].access.refuse(request) or page_file(name)

    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
