"""GET /api/v1/events: server-sent events when records arrive.

The stream opens with `hello` (the store's arrival number now, the digest of
today's confederal view), then sends `records` each time the store gains
changes, naming the documents that changed, with the arrival number as the
event id: a client that reconnects with `Last-Event-ID` hears at once about
whatever arrived while it was away. `view` follows whenever today's
confederal view differs from what the stream last announced (new records,
or a new day that passes a deadline).
A comment every KEEPALIVE seconds keeps proxies and clients from timing out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..store.sqlite import Store
from ..store.watch import StoreWatch

KEEPALIVE = 15.0
MAX_DOCUMENTS = 200  # named per event; `more` says the list was cut


async def send(response: web.StreamResponse, kind: str, event_id: int, data: dict[str, Any]) -> None:
    await response.write(f"event: {kind}\nid: {event_id}\ndata: {json.dumps(data)}\n\n".encode())


def records_event(store: Store, since: int, seqno: int) -> dict[str, Any]:
    documents = store.documents_since(since)
    return {"seqno": seqno, "since": since, "documents": documents[:MAX_DOCUMENTS],
            "more": len(documents) > MAX_DOCUMENTS}


def resume_from(request: web.Request, now: int) -> int:
    """Where a reconnecting client left off (Last-Event-ID), else now."""
    text = request.headers.get("Last-Event-ID", "")
    if text.isdigit() and len(text) < 20:
        return min(int(text), now)
    return now


async def stream(request: web.Request, watch: StoreWatch,
                 view_digest: Callable[[], str]) -> web.StreamResponse:
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await response.prepare(request)
    seen = resume_from(request, watch.seqno)
    try:
        digest = view_digest()
        await send(response, "hello", seen, {"seqno": watch.seqno, "view": digest})
        while not watch.closed:
            seqno = await watch.wait_beyond(seen, KEEPALIVE)
            if watch.closed:
                break
            if seqno is None:
                await response.write(b": keep-alive\n\n")
            else:
                await send(response, "records", seqno, records_event(watch.store, seen, seqno))
                seen = seqno
            if view_digest() != digest:
                digest = view_digest()
                await send(response, "view", seen, {"view": digest})
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away
    return response
