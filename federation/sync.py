"""The sync exchange as a sans-IO state machine (protocol-spec/sync.md, "State machine").

The initiator is fed replies and emits the next request plus the envelopes
it received, which the caller verifies and stores (daemon/store/ingest.py); the
responder answers one request at a time and keeps no state between them, so
an exchange cut anywhere simply starts again from what both sides have
stored. What each side holds is read through `Holdings`, which the daemon
implements over its store and tests implement in memory.

  hello(state digest) -> same                      : done, one round trip
                      -> buckets(64 bucket digests)
  docs(my doc digests in differing buckets) -> vectors(theirs for differing docs)
  pull(wanted actor ranges, cursor) -> changes(batch, cursor, more)   ... until not more
  push(batch of what they lack) -> pushed(counts)                      ... until all sent
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from .envelope import Envelope
from .syncdigest import BUCKETS, bucket_digests, bucket_of, state_digest
from .syncmsg import (
    Buckets,
    Changes,
    DocsRequest,
    DocVectors,
    Hello,
    ProtocolError,
    Pull,
    Push,
    Pushed,
    Reply,
    Request,
    Same,
    Vectors,
)

BATCH_ENVELOPES = 500
BATCH_BYTES = 2 << 20

Wants = dict[str, dict[bytes, int]]  # doc -> actor -> highest seq the receiver holds


@dataclass(frozen=True)
class Summary:
    """Everything the digest phase needs, computed once per state of the store."""

    docs: Mapping[str, bytes]  # doc id -> doc digest
    buckets: list[bytes]
    digest: bytes


def summarize(doc_digests: Mapping[str, bytes]) -> Summary:
    buckets = bucket_digests(doc_digests)
    return Summary(doc_digests, buckets, state_digest(buckets))


@dataclass(frozen=True)
class Batch:
    envelopes: list[Envelope]
    cursor: int  # arrival number of the last change looked at
    more: bool


class Holdings(Protocol):
    """What one side holds, as the exchange needs to read it."""

    def summary(self) -> Summary: ...

    def vector(self, doc_id: str) -> dict[bytes, int]:
        """actor -> highest seq held (every seq from 1 to it is held)."""
        ...

    def changes_after(self, wants: Mapping[str, Mapping[bytes, int]], cursor: int, limit: int,
                      max_bytes: int) -> Batch:
        """Held changes of the listed (doc, actor) with seq above the listed one, in arrival
        order after `cursor`: at most `limit` envelopes and about `max_bytes` bytes."""
        ...


def lacking(have: Mapping[bytes, int], other: Mapping[bytes, int]) -> dict[bytes, int]:
    """The actors of which `other` holds more than `have`, each with the seq `have` holds:
    what `have` must be sent (the `wants` of a pull)."""
    return {a: have.get(a, 0) for a, s in other.items() if s > have.get(a, 0)}


def docs_in(summary: Summary, buckets: set[int]) -> dict[str, bytes]:
    return {doc: d for doc, d in summary.docs.items() if bucket_of(doc) in buckets}


def vectors_wire(wants: Wants) -> DocVectors:
    return tuple((doc, tuple(sorted(actors.items()))) for doc, actors in sorted(wants.items()))


# --- responder -------------------------------------------------------------------------------


def answer(holdings: Holdings, key: bytes, request: Hello | DocsRequest | Pull) -> Reply:
    """The responder's reply to one request; pushes and peer lists are the caller's."""
    summary = holdings.summary()
    if isinstance(request, Hello):
        if request.digest == summary.digest:
            return Same(key)
        return Buckets(key, summary.digest, tuple(summary.buckets))
    if isinstance(request, DocsRequest):
        mine = docs_in(summary, set(request.buckets))
        theirs = {doc: d for doc, d in request.docs if bucket_of(doc) in set(request.buckets)}
        differ = sorted(doc for doc in mine.keys() | theirs.keys() if mine.get(doc) != theirs.get(doc))
        return Vectors(tuple((doc, tuple(sorted(holdings.vector(doc).items())) if doc in mine else ())
                             for doc in differ))
    wants = {doc: dict(vector) for doc, vector in request.wants}
    limit = max(1, min(request.limit, BATCH_ENVELOPES))
    batch = holdings.changes_after(wants, request.cursor, limit, BATCH_BYTES)
    return Changes(tuple(batch.envelopes), batch.cursor, batch.more)


# --- initiator -------------------------------------------------------------------------------


class Phase(str, Enum):
    HELLO = "hello"
    DOCS = "docs"
    PULL = "pull"
    PUSH = "push"
    DONE = "done"


@dataclass
class Progress:
    """What the exchange has moved so far; `to_pull`/`to_push` are known after the vectors."""

    round_trips: int = 0
    to_pull: int = 0
    pulled: int = 0
    to_push: int = 0
    pushed: int = 0
    remote_accepted: int = 0
    remote_rejected: int = 0
    remote_reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """The initiator's output: envelopes to verify and store, then the next request (None: done)."""

    request: Request | None
    ingest: tuple[Envelope, ...] = ()


class Initiator:
    """One exchange, driven by the side that opened it."""

    def __init__(self, holdings: Holdings, key: bytes, url: str | None = None,
                 limit: int = BATCH_ENVELOPES) -> None:
        self.holdings = holdings
        self.key = key
        self.url = url
        self.limit = limit
        self.phase = Phase.HELLO
        self.progress = Progress()
        self.peer_key: bytes | None = None
        self.peer_vectors: DocVectors = ()  # the responder's, for the documents where we differ
        self._pull: Wants = {}
        self._push: Wants = {}
        self._pull_cursor = 0
        self._push_cursor = 0
        self._summary: Summary | None = None

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def start(self) -> Hello:
        self._summary = self.holdings.summary()
        return Hello(self._summary.digest, self.key, self.url)

    def receive(self, reply: Reply) -> Step:
        """Feed the reply to the last request."""
        self.progress.round_trips += 1
        expected = {Phase.HELLO: (Same, Buckets), Phase.DOCS: (Vectors,), Phase.PULL: (Changes,),
                    Phase.PUSH: (Pushed,)}.get(self.phase, ())
        if not isinstance(reply, expected):
            raise ProtocolError("unexpected-reply", f"{type(reply).__name__} in phase {self.phase.value}")
        if isinstance(reply, (Same, Buckets)):
            self.peer_key = reply.key
            if isinstance(reply, Same) or self.peer_key == self.key:
                return self._finish()
            return self._docs(reply)
        if isinstance(reply, Vectors):
            return self._plan(reply)
        if isinstance(reply, Changes):
            return self._pulled(reply)
        assert isinstance(reply, Pushed)
        p = self.progress
        p.remote_accepted += reply.accepted
        p.remote_rejected += reply.rejected
        p.remote_reasons.extend(reply.reasons)
        return self._next_push()

    def _finish(self) -> Step:
        self.phase = Phase.DONE
        return Step(None)

    def _docs(self, reply: Buckets) -> Step:
        assert self._summary is not None
        differing = [i for i in range(BUCKETS) if self._summary.buckets[i] != reply.buckets[i]]
        if not differing:
            return self._finish()
        mine = docs_in(self._summary, set(differing))
        self.phase = Phase.DOCS
        return Step(DocsRequest(tuple(differing), tuple(sorted(mine.items()))))

    def _plan(self, reply: Vectors) -> Step:
        self.peer_vectors = reply.vectors
        for doc, vector in reply.vectors:
            theirs = dict(vector)
            mine = self.holdings.vector(doc)
            pull = lacking(mine, theirs)
            push = lacking(theirs, mine)
            if pull:
                self._pull[doc] = pull
                self.progress.to_pull += sum(theirs[a] - s for a, s in pull.items())
            if push:
                self._push[doc] = push
                self.progress.to_push += sum(mine[a] - s for a, s in push.items())
            if not pull and not push:  # same changes, other evidence: each side sends its own
                self._pull[doc] = self._push[doc] = {}
        return self._next_pull()

    def _next_pull(self) -> Step:
        if not self._pull:
            return self._next_push()
        self.phase = Phase.PULL
        return Step(Pull(vectors_wire(self._pull), self._pull_cursor, self.limit))

    def _pulled(self, reply: Changes) -> Step:
        if reply.more and reply.cursor <= self._pull_cursor:
            raise ProtocolError("no-progress", "the responder's cursor did not advance")
        self._pull_cursor = reply.cursor
        self.progress.pulled += len(reply.envelopes)
        if not reply.more:
            self._pull = {}
        return Step(self._next_pull().request, reply.envelopes)

    def _next_push(self) -> Step:
        if not self._push:
            return self._finish()
        batch = self.holdings.changes_after(self._push, self._push_cursor, self.limit, BATCH_BYTES)
        self._push_cursor = batch.cursor
        if not batch.more:
            self._push = {}
        if not batch.envelopes:
            return self._next_push()
        self.phase = Phase.PUSH
        self.progress.pushed += len(batch.envelopes)
        return Step(Push(tuple(batch.envelopes)))
