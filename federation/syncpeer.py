"""One daemon's side of sync without I/O: answering any request, and driving an exchange.

The daemon (daemon/net/) only moves bytes and stores through its ingest; the
simulator (bench/simulate.py) moves them between nodes in one process. Both
hand this module what a node holds, how it ingests, and how a request
reaches the peer, so push handling and the exchange loop are the same code
whether the messages cross a socket or a function call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Protocol

from .envelope import Envelope
from .sync import Holdings, Initiator, Progress, answer
from .syncmsg import Descend, Hello, Peers, PeersRequest, Pull, Push, Pushed, Reply, Request
from .synctree import SALT_BYTES
from .wirelimits import LIMITS


class IngestResult(Protocol):
    """What an ingest reports: daemon/store/ingest.IngestReport and memstore.MemoryReport."""

    accepted: int
    duplicate: int
    deferred: int  # no room to wait: offered again later, never "duplicate"
    rejected: list[tuple[str, str]]

    @property
    def pending(self) -> int: ...


def pushed_reply(report: IngestResult) -> Pushed:
    """The answer to a push: counts, and the distinct rejection reasons (at most LIMITS.reasons)."""
    reasons = tuple(sorted({r for r, _ in report.rejected}))[:LIMITS.reasons]
    return Pushed(report.accepted, report.duplicate, report.pending, len(report.rejected), reasons,
                  report.deferred)


@dataclass
class Responder:
    """A node's answers to every request type: pushes go to `ingest`, `peers` lists addresses."""

    holdings: Holdings
    key: bytes
    ingest: Callable[[Sequence[Envelope]], IngestResult]
    draw: Callable[[int], bytes]  # randomness: n bytes (a hello's salt)
    peers: Callable[[str | None], Sequence[str]] = lambda url: ()

    def respond(self, request: Request) -> Reply:
        if isinstance(request, Push):
            return pushed_reply(self.ingest(request.envelopes))
        if isinstance(request, PeersRequest):
            return Peers(tuple(self.peers(request.url)))
        assert isinstance(request, (Hello, Descend, Pull))
        return answer(self.holdings, self.key, request, self.draw(SALT_BYTES))


def exchange(initiator: Initiator, send: Callable[[Request], Reply],
             ingest: Callable[[Sequence[Envelope]], object]) -> Progress:
    """Run one exchange to its end: each reply's envelopes are stored before the next request.

    Raises what `send` raises and ProtocolError from the initiator; what was stored stays."""
    request: Request | None = initiator.start()
    while request is not None:
        step = initiator.receive(send(request))
        if step.ingest:
            ingest(step.ingest)
        request = step.request
    return initiator.progress


async def exchange_async(initiator: Initiator, send: Callable[[Request], Awaitable[Reply]],
                         ingest: Callable[[Sequence[Envelope]], Awaitable[object]]) -> Progress:
    """`exchange` for a transport that awaits its replies, pipelined: the request that follows
    a reply is handed to `send` at once, before the batch that came before that reply is
    stored (a transport whose `send` starts a request at once, a task, then has it under
    way), so that an `ingest` that returns a task already running (the daemon's sliced
    ingest, which yields the event loop) judges one batch while the responder reads and packs
    the batch after the next, and the request has left long before the batch it must not
    wait for is stored: storing holds the loop, and a request that only leaves once the batch
    before it is stored leaves the initiator idle while it goes (measured: 3-20 ms a pull on
    a loaded machine). The next request never depends on how a batch was judged (the
    initiator counts what arrived); batches are stored one at a time in the order they came,
    and at most three are held: the one being stored, the one that arrived after it, and the
    one on its way. Pushes go one ahead too (`_push_pipelined`). When the exchange stops on an
    error, the batch being stored is stored first, and the request under way answered (its
    reply dropped); what was stored stays."""
    request: Request | None = initiator.start()
    storing: Awaitable[object] | None = None
    on_way: Awaitable[Reply] | None = None  # the reply to `request`, already asked for
    try:
        while request is not None:
            if isinstance(request, Push):
                request = await _push_pipelined(initiator, send, request)
                continue
            reply, on_way = (send(request) if on_way is None else on_way), None
            step = initiator.receive(await reply)
            request = step.request
            if request is not None and not isinstance(request, Push):
                on_way = send(request)
            if storing is not None:
                stored, storing = storing, None
                await stored
            if step.ingest:
                storing = ingest(step.ingest)
    except BaseException:
        if on_way is not None:
            with suppress(Exception):
                await on_way
        raise
    finally:
        if storing is not None:
            await storing
    return initiator.progress


async def _push_pipelined(initiator: Initiator, send: Callable[[Request], Awaitable[Reply]],
                          push: Push) -> Request | None:
    """Send pushes one ahead: the next is handed to `send` before the reply to the one before
    is awaited, so that, with a transport whose `send` starts a request at once (a task), the
    responder never waits for the initiator to read and pack. Replies are fed to the
    initiator in the order the pushes were sent, and the request after the last push (None:
    done) is returned. On an error, the push sent ahead is still awaited, its outcome
    dropped: what the responder stored of it stays stored."""
    on_way = send(push)
    while True:
        ahead = initiator.push_ahead()
        after = None if ahead is None else send(ahead)
        try:
            step = initiator.receive(await on_way)
        except BaseException:
            if after is not None:
                with suppress(Exception):
                    await after
            raise
        if after is None:
            return step.request
        on_way = after
