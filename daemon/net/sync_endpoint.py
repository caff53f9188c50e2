"""The responder's side of POST /pnyx/v1/sync: bytes in, federation.sync.answer, bytes out.

Bad requests get a 4xx with a JSON body {"error": code, "detail": text} and
change nothing: 415 without `Content-Type: application/msgpack`, 413 over
MAX_BODY_BYTES or the decoding bounds, 400 for malformed msgpack, wrong types
or an unknown protocol version, 429 for a sender that pushed too much junk.
Pushed envelopes go through the ingest pipeline like any others, a slice at a
time with the event loop free in between (daemon/net/slices.py), each slice
charged to its sender
(daemon/store/senders.py, daemon/net/throttle.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from pnyx.federation.errors import Rejected
from pnyx.federation.identity import check_sender
from pnyx.federation.keys import key_text
from pnyx.federation.sync import answer
from pnyx.federation.syncmsg import (
    MAX_BODY_BYTES,
    Descend,
    Hello,
    Peers,
    PeersRequest,
    ProtocolError,
    Pull,
    Push,
    Pushed,
    Reply,
    Request,
    decode_request,
)
from pnyx.federation.synctree import SALT_BYTES

from ..store.completeness import Completeness
from ..store.holdings import StoreHoldings
from ..store.ingest import IngestReport, collector_paused
from ..store.node import Node
from ..store.peers import PeerBook
from ..store.senders import ADDRESS_PREFIX, PushCounts, SenderBook
from .slices import PULLED_SLICE, SLICE, made_durable, slice_end
from .sync_client import MSGPACK, SENDER_HEADER, encoded
from .throttle import Throttle, junk_units, malformed_units

PEERS_SHARED = 50
TARPIT_SECONDS = 2.0
TARPITS = 16
SMALL_BODY = 64 << 10  # a body this small is read and decoded even from a sender in debt
log = logging.getLogger("pnyx.sync")


class Turns:
    """One turn at a time per sender, in the order asked (asyncio.Lock is first come, first
    served); a sender's lock is dropped once nobody holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def of(self, sender: str | None) -> AsyncIterator[None]:
        """The turn of `sender`; None: no turn to wait for."""
        if sender is None:
            yield
            return
        lock, users = self._locks.get(sender, (asyncio.Lock(), 0))
        self._locks[sender] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[sender]
            if users == 1:
                del self._locks[sender]
            else:
                self._locks[sender] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class SyncContext:
    """What both sides of the exchange need in a running daemon."""

    node: Node
    holdings: StoreHoldings
    peers: PeerBook
    senders: SenderBook
    advertise: str | None = None
    learn: bool = True  # add the peers that others name; False keeps a fixed topology
    throttle: Throttle = field(default_factory=Throttle)
    turns: Turns = field(default_factory=Turns)
    tarpits: int = 0  # 429 answers being held back now

    @classmethod
    def open(cls, node: Node, advertise: str | None = None, learn: bool = True,
             follow: tuple[bytes, ...] | None = None) -> SyncContext:
        return cls(node, StoreHoldings(node.store, follow), PeerBook(node.store), SenderBook(node.store),
                   advertise, learn)


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
    # A sender in debt is told to slow down before its push is read or decoded; small bodies
    # (hello, pull: never junk) are answered, so an honest daemon behind the same address
    # still starts its exchanges, and proves its own key on its pushes.
    address = f"{ADDRESS_PREFIX}{request.remote}"
    large = (request.content_length or 0) > SMALL_BODY
    if large and SENDER_HEADER not in request.headers and ctx.throttle.over(address, time.time()):
        return await slow_down(ctx, address)  # not even read
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, "oversized", f"at most {MAX_BODY_BYTES} bytes")
    sender = push_sender(ctx, request, body)
    if len(body) > SMALL_BODY and ctx.throttle.over(sender.charged, time.time()):
        return await slow_down(ctx, sender.charged)
    # Only pushes prove their sender: a sender's pushes are judged one at a time, in the order
    # their bodies arrived (it may send the next before the reply to the last, sync.md
    # "Pipelining"), so that no change waits for deps that a push judged after it brings.
    async with ctx.turns.of(sender.charged if SENDER_HEADER in request.headers else None):
        response, stored = await judged(ctx, sender, body)
    if stored:
        # What a push stored is durable before the answer says so: one sync for the push and
        # its notes, off the loop, after its sender's turn, so that the sender's next push
        # (sent before this answer, sync.md "Pipelining") is judged while the disk syncs.
        await made_durable(ctx.node.store)
    return response


async def judged(ctx: SyncContext, sender: Sender, body: bytes) -> tuple[web.Response, bool]:
    """Decode a request that was read, and answer it (a push: in its sender's turn, so its
    debt is read as the push before it left it); True: a push was judged, and what it stored
    is still to be made durable."""
    try:  # off the event loop: a large body takes a while to check and build
        message = await asyncio.to_thread(decoded, body)
    except ProtocolError as exc:
        if len(body) > SMALL_BODY:
            ctx.throttle.charge(sender.charged, malformed_units(len(body)), time.time())
        return error(http_status(exc), exc.code, exc.detail), False
    if isinstance(message, Push) and ctx.throttle.over(sender.charged, time.time()):
        return await slow_down(ctx, sender.charged), False
    if isinstance(message, Push):
        reply: Reply = await push(ctx, sender, message)
    else:
        try:
            reply = respond(ctx, message)
        except ProtocolError as exc:  # a descent into a scope this daemon does not follow
            return error(http_status(exc), exc.code, exc.detail), False
    return web.Response(body=encoded(reply), content_type=MSGPACK), isinstance(message, Push)


def decoded(body: bytes) -> Request:
    """decode_request with the cyclic collector held off (as sync_client.encoded)."""
    with collector_paused():
        return decode_request(body)


@dataclass(frozen=True)
class Sender:
    """Whom a push is charged to (`charged`: its debt, its pending share) and, if its header
    proved a device key, that key as text."""

    charged: str
    proven: str | None = None


def push_sender(ctx: SyncContext, request: web.Request, body: bytes) -> Sender:
    """The device key a request's Pnyx-Sender header proves is charged if that key is a peer
    of this daemon or ever pushed a stored change here; else the request's address is."""
    address = f"{ADDRESS_PREFIX}{request.remote}"
    header = request.headers.get(SENDER_HEADER)
    if header is None:
        return Sender(address)
    try:
        device = check_sender(header, ctx.node.device_key.public, body, int(time.time()))
    except Rejected:
        return Sender(address)
    proven = key_text(device)
    if ctx.peers.is_device(device) or ctx.senders.has_good_record(proven):
        return Sender(proven, proven)
    return Sender(address, proven)


async def slow_down(ctx: SyncContext, sender: str) -> web.Response:
    """429 with Retry-After, held back TARPIT_SECONDS first (for at most TARPITS requests at
    once, so that held connections cannot pile up): a sender that does not wait as told
    gets its answers no faster for asking again."""
    if ctx.tarpits < TARPITS:
        ctx.tarpits += 1
        try:
            await asyncio.sleep(TARPIT_SECONDS)
        finally:
            ctx.tarpits -= 1
    now = time.time()
    flush = ctx.throttle.refused(sender, now)
    if flush:
        ctx.senders.refused(sender, flush, now)
    wait = max(1, int(ctx.throttle.retry_after(sender, now)) + 1)
    response = error(429, "slow-down", f"{sender} sent too many refused changes; retry in {wait} s")
    response.headers["Retry-After"] = str(wait)
    response.force_close()  # what is left of its body is not read, only the connection dropped
    return response


async def push(ctx: SyncContext, sender: Sender, message: Push) -> Pushed:
    """Judge a push a slice at a time, yielding the event loop in between; once the sender owes
    too much, the rest is deferred unread, and charged too: a sender cut off stays cut off
    for longer. A sender charged under its proven key (a peer of this daemon, or one that
    brought something stored before) is judged as what this daemon pulls, PULLED_SLICE in
    one transaction (measured on 10k pushed changes: 14% less CPU than slices of SLICE); any
    other, a slice of SLICE at a time, so that junk from it is cut off early. Every commit of
    the push is made unsynced; its caller syncs them once, off the event loop, before the
    answer (measured pushing 50k changes to an empty daemon: 16.6 s against 20.4 s with three
    syncs per push on the loop, on a loaded machine)."""
    report = IngestReport()
    envelopes = message.envelopes
    most = PULLED_SLICE if sender.charged == sender.proven else SLICE
    judged = 0
    while judged < len(envelopes) and not ctx.throttle.over(sender.charged, time.time()):
        part_of = slice_end(envelopes, judged, most)
        with ctx.node.store.unsynced():
            part = ctx.node.ingestor.ingest(envelopes[judged:part_of], sender.charged)
        judged = part_of
        ctx.throttle.charge(sender.charged, junk_units([r for r, _ in part.rejected], part.deferred),
                            time.time())
        report.merge(part)
        await asyncio.sleep(0)
    ctx.throttle.charge(sender.charged, len(envelopes) - judged, time.time())
    deferred = report.deferred + len(envelopes) - judged
    now = time.time()
    last = f"{report.rejected[-1][0]}: {report.rejected[-1][1]}"[:300] if report.rejected else None
    # A proven key is named once it brought something stored: from then on it is charged
    # itself; a throwaway key that brings nothing stays under its address, and adds no row.
    named = sender.proven if sender.proven is not None and report.accepted else sender.charged
    with ctx.node.store.unsynced():
        if report.accepted_docs:
            Completeness(ctx.node.store).received("a peer's push", report.accepted_docs, now)
        ctx.senders.record(named, PushCounts(report.accepted, report.duplicate, len(report.rejected),
                                              deferred, last), now)
    if report.rejected:
        log.warning("a push from %s carried %d invalid envelopes: %s", named, len(report.rejected),
                    "; ".join(f"{r}: {d}" for r, d in report.rejected[:3]))
    return Pushed(report.accepted, report.duplicate, report.pending, len(report.rejected),
                  tuple(sorted({r for r, _ in report.rejected})), deferred)


def respond(ctx: SyncContext, message: Request) -> Reply:
    if isinstance(message, PeersRequest):
        learn(ctx, message.url)
        return Peers(tuple(url for url in ctx.peers.good(PEERS_SHARED) if url != message.url))
    assert isinstance(message, (Hello, Descend, Pull)), type(message)
    if isinstance(message, Hello) and message.key != ctx.node.device_key.public:
        learn(ctx, message.url)
    return answer(ctx.holdings, ctx.node.device_key.public, message, os.urandom(SALT_BYTES))


def learn(ctx: SyncContext, url: str | None) -> None:
    """Remember the address a daemon gave for itself; only a proposal, checked by syncing."""
    if url is None or url == ctx.advertise or not ctx.learn:
        return
    try:
        if ctx.peers.add(url, "learned", time.time()):
            log.info("learned peer %s", url)
    except ValueError:
        pass
