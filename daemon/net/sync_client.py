"""Carrying one exchange to a peer over HTTP: the initiator's side of POST /pnyx/v1/sync.

federation.sync.Initiator decides what to say; this module posts it, decodes
the reply, stores what arrived through the ingest pipeline (the only way in)
and feeds the reply back, until the exchange is done. The next pull is on its
way while a batch is stored (federation/syncpeer.exchange_async), so the
responder packs it meanwhile. Everything stored is committed batch by batch,
so a cut connection loses nothing already received and the next exchange
continues from there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import aiohttp
from pnyx.federation.envelope import Envelope
from pnyx.federation.identity import prove_sender
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.sync import PULL_ENVELOPES, Initiator, Progress
from pnyx.federation.syncmsg import (
    DocVectors,
    Peers,
    PeersRequest,
    ProtocolError,
    Push,
    Reply,
    Request,
    decode_reply,
    encode,
)
from pnyx.federation.syncpeer import exchange_async

from ..store.completeness import Completeness
from ..store.holdings import StoreHoldings
from ..store.ingest import IngestReport, collector_paused
from ..store.node import Node
from .slices import ingest_in_slices, made_durable

SYNC_PATH = "/pnyx/v1/sync"
MSGPACK = "application/msgpack"
SENDER_HEADER = "Pnyx-Sender"  # a push's proof of its sender (federation/identity.py)
TIMEOUT = aiohttp.ClientTimeout(total=None, connect=5, sock_read=60)


class SyncFailed(Exception):
    """The exchange could not be completed; what was stored before stays stored."""

    outcome: Outcome | None = None


@dataclass
class Outcome:
    peer_key: bytes | None
    progress: Progress
    received: IngestReport = field(default_factory=IngestReport)
    wire_sent: int = 0
    wire_received: int = 0


async def _body_sent(session: aiohttp.ClientSession, context: SimpleNamespace,
                     params: aiohttp.TraceRequestChunkSentParams) -> None:
    on_wire = (context.trace_request_ctx or {}).get("on_wire")
    if on_wire is not None:
        on_wire.set()


def new_session() -> aiohttp.ClientSession:
    trace = aiohttp.TraceConfig()
    trace.on_request_chunk_sent.append(_body_sent)
    return aiohttp.ClientSession(timeout=TIMEOUT, trace_configs=[trace])


async def post(session: aiohttp.ClientSession, url: str, request: Request,
               counts: list[int] | None = None,
               sender: tuple[SigningKey, bytes] | None = None,
               on_wire: asyncio.Event | None = None) -> Reply:
    """Post one request; a push proves `sender` = (this device's key, the responder's key).
    `on_wire` is set once the body is handed to the socket (or the post has failed)."""
    body = encoded(request)
    headers = {"Content-Type": MSGPACK}
    if sender is not None and isinstance(request, Push):
        headers[SENDER_HEADER] = prove_sender(sender[0], sender[1], int(time.time()), body)
    try:
        async with session.post(url + SYNC_PATH, data=body, headers=headers,
                                trace_request_ctx={"on_wire": on_wire}) as r:
            data = await r.read()
            if r.status != 200:
                raise SyncFailed(f"{url} answered {r.status}: {data[:200].decode('utf-8', 'replace')}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise SyncFailed(f"{url}: {type(exc).__name__}: {exc}") from None
    finally:
        if on_wire is not None:
            on_wire.set()
    if counts is not None:
        counts[0] += len(body)
        counts[1] += len(data)
    try:
        return decoded_reply(data)
    except ProtocolError as exc:
        raise SyncFailed(f"{url} sent a bad reply: {exc}") from None


def encoded(message: Request | Reply) -> bytes:
    """A message's body, built with the cyclic collector held off: a pack makes thousands of
    short-lived objects, none in cycles, and each collection meanwhile would walk everything
    the process holds (measured, decoding the packs of a 50k catch-up: 0.35-0.49 s of CPU
    with it, 0.20 s without)."""
    with collector_paused():
        return encode(message)


def decoded_reply(data: bytes) -> Reply:
    """decode_reply with the cyclic collector held off (as in `encoded`); raises ProtocolError."""
    with collector_paused():
        return decode_reply(data)


async def sync_with(session: aiohttp.ClientSession, node: Node, holdings: StoreHoldings, url: str,
                    advertise: str | None = None,
                    on_progress: Callable[[Progress], None] | None = None,
                    limit: int = PULL_ENVELOPES) -> Outcome:
    """Run one exchange with the peer at `url`; raises SyncFailed."""
    initiator = Initiator(holdings, node.device_key.public, advertise, limit)
    outcome = Outcome(None, initiator.progress)
    counts = [0, 0]
    on_wire = asyncio.Event()  # the request posted last is on its way (or failed)
    on_wire.set()
    leaving = asyncio.Lock()  # requests leave one at a time, in the order they were sent

    async def posted(request: Request) -> Reply:
        peer = initiator.peer_key  # known after hello: pushes then prove who sends them
        async with leaving:
            on_wire.clear()
            reply = asyncio.ensure_future(post(session, url, request, counts,
                                               None if peer is None else (node.device_key, peer),
                                               on_wire))
            await on_wire.wait()
        answered = await reply
        if on_progress is not None:
            on_progress(initiator.progress)
        return answered

    def send(request: Request) -> asyncio.Future[Reply]:
        # Under way at once: a push sent ahead leaves while the one before it is judged. Not
        # on its way yet: a batch waiting to be stored waits for it from now on.
        on_wire.clear()
        return asyncio.ensure_future(posted(request))

    async def store(envelopes: Sequence[Envelope]) -> None:
        # Each slice of a batch is stored once the request sent last is on the wire: storing
        # holds the loop, and aiohttp takes a few turns of it to send a request, which would
        # otherwise leave only when the batch is stored, and the responder would pack the
        # next one idle.
        source = url if initiator.peer_key is None else key_text(initiator.peer_key)
        outcome.received.merge(await ingest_in_slices(node.ingestor, envelopes, source, on_wire))

    def ingest(envelopes: Sequence[Envelope]) -> asyncio.Future[None]:
        return asyncio.ensure_future(store(envelopes))  # running while the next batch comes

    try:
        await exchange_async(initiator, send, ingest)
    except ProtocolError as exc:
        failed = SyncFailed(f"{url}: {exc}")
        failed.outcome = outcome
        raise failed from None
    except SyncFailed as exc:
        exc.outcome = outcome
        raise
    finally:
        outcome.peer_key = initiator.peer_key
        outcome.wire_sent, outcome.wire_received = counts
        with node.store.unsynced():
            remember(node, url, tuple(initiator.peer_vectors), outcome.received)
        await made_durable(node.store)  # what the exchange stored and noted: one sync for it all
    if on_progress is not None:
        on_progress(initiator.progress)
    return outcome


def remember(node: Node, url: str, advertised: DocVectors, received: IngestReport) -> None:
    """What the peer said it holds, and which documents it brought news of (completeness)."""
    completeness = Completeness(node.store)
    now = time.time()
    with node.store.transaction():
        completeness.advertised(url, advertised, now)
        completeness.received(url, received.accepted_docs, now)


async def fetch_peers(session: aiohttp.ClientSession, url: str, advertise: str | None) -> list[str]:
    reply = await post(session, url, PeersRequest(advertise))
    if not isinstance(reply, Peers):
        raise SyncFailed(f"{url} answered a peers request with {type(reply).__name__}")
    return list(reply.urls)
