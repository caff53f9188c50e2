"""Every error the daemon's HTTP server answers is JSON, and none is a bare 500.

The outermost middleware: HTTP errors raised anywhere (an unknown path, a
wrong method, a bad query) become JSON in the format of the part of the
server that was asked (the local API's `{"error": {"status", "message"}}`,
the peer protocol's `{"error": code, "detail": text}`); a full disk or a
damaged store (daemon/store/faults.py) becomes 507 or 503 saying what to do.
Anything else is a bug: logged with its traceback, answered 500 in JSON.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..store.faults import fault
from .api import PREFIX

log = logging.getLogger("pnyx.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CODES = {400: "bad-request", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
         413: "oversized", 503: "store-unavailable", 507: "insufficient-storage", 500: "internal"}


def json_error(request: web.Request, status: int, message: str,
               headers: dict[str, str] | None = None) -> web.Response:
    if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
        body: dict[str, object] = {"error": {"status": status, "message": message}}
    else:
        body = {"error": CODES.get(status, f"http-{status}"), "detail": message}
    return web.json_response(body, status=status, headers=headers)


@web.middleware
async def json_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return json_error(request, exc.status, (exc.text or exc.reason or "").strip(), allow)
    except Exception as exc:
        found = fault(exc)
        if found is None:
            log.exception("%s %s failed", request.method, request.path)
            return json_error(request, 500, f"the daemon failed: {type(exc).__name__}; see its log")
        log.error("%s %s: %s", request.method, request.path, found)
        return json_error(request, found.status, str(found))
