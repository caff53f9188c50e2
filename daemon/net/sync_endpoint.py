"""The responder's side of POST /pnyx/v1/sync: bytes in, federation.sync.answer, bytes out.

Bad requests get a 4xx with a JSON body {"error": code, "detail": text} and
change nothing: 415 without `Content-Type: application/msgpack`, 413 over
MAX_BODY_BYTES, 400 for malformed msgpack, wrong types or an unknown protocol
version. Pushed envelopes go through the ingest pipeline like any others.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web
from pnyx.federation.envelope import Envelope
from pnyx.federation.syncmsg import (
    MAX_BODY_BYTES,
    Hello,
    ProtocolError,
    Reply,
    Request,
    decode_request,
    encode,
)
from pnyx.federation.syncpeer import Responder

from ..store.completeness import Completeness
from ..store.holdings import StoreHoldings
from ..store.ingest import IngestReport
from ..store.node import Node
from ..store.peers import PeerBook
from .sync_client import MSGPACK

PEERS_SHARED = 50
log = logging.getLogger("pnyx.sync")


@dataclass
class SyncContext:
    """What both sides of the exchange need in a running daemon."""

    node: Node
    holdings: StoreHoldings
    peers: PeerBook
    advertise: str | None = None
    learn: bool = True  # add the peers that others name; False keeps a fixed topology

    @classmethod
    def open(cls, node: Node, advertise: str | None = None, learn: bool = True) -> SyncContext:
        return cls(node, StoreHoldings(node.store), PeerBook(node.store), advertise, learn)


SYNC_KEY = web.AppKey("sync", SyncContext)


def http_status(exc: ProtocolError) -> int:
    return 413 if exc.code == "oversized" else 400


def error(status: int, code: str, detail: str) -> web.Response:
    return web.json_response({"error": code, "detail": detail}, status=status)


async def handle_sync(request: web.Request) -> web.Response:
    ctx = request.app[SYNC_KEY]
    if request.content_type != MSGPACK:
        return error(415, "unsupported-media-type", f"send Content-Type: {MSGPACK}")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        return error(413, "oversized", f"at most {MAX_BODY_BYTES} bytes")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, "oversized", f"at most {MAX_BODY_BYTES} bytes")
    try:
        message = decode_request(body)
    except ProtocolError as exc:
        return error(http_status(exc), exc.code, exc.detail)
    reply = respond(ctx, message)
    return web.Response(body=encode(reply), content_type=MSGPACK)


def respond(ctx: SyncContext, message: Request) -> Reply:
    if isinstance(message, Hello) and message.key != ctx.node.device_key.public:
        learn(ctx, message.url)
    return Responder(ctx.holdings, ctx.node.device_key.public, lambda envelopes: ingest_push(ctx, envelopes),
                     lambda url: peer_list(ctx, url)).respond(message)


def ingest_push(ctx: SyncContext, envelopes: Sequence[Envelope]) -> IngestReport:
    """Store what a peer pushed, like any envelope; pushes are anonymous, so refusals are
    logged and counted in the reply, not charged to a peer."""
    report = ctx.node.ingestor.ingest(envelopes)
    if report.accepted_docs:
        Completeness(ctx.node.store).received("a peer's push", report.accepted_docs, time.time())
    if report.rejected:
        log.warning("a push carried %d invalid envelopes: %s", len(report.rejected),
                    "; ".join(f"{r}: {d}" for r, d in report.rejected[:3]))
    return report


def peer_list(ctx: SyncContext, url: str | None) -> list[str]:
    learn(ctx, url)
    return [u for u in ctx.peers.good(PEERS_SHARED) if u != url]


def learn(ctx: SyncContext, url: str | None) -> None:
    """Remember the address a daemon gave for itself; only a proposal, checked by syncing."""
    if url is None or url == ctx.advertise or not ctx.learn:
        return
    try:
        if ctx.peers.add(url, "learned", time.time()):
            log.info("learned peer %s", url)
    except ValueError:
        pass
