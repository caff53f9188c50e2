"""The sync exchange as a sans-IO state machine (protocol-spec/sync.md, "State machine").

The initiator is fed replies and emits the next request plus the envelopes
it received, which the caller verifies and stores; the responder answers one
request at a time and keeps no state between them, so an exchange cut
anywhere simply starts again from what both sides have stored. What each
side holds is read through `Holdings`, which the daemon implements over its
store (daemon/store/holdings.py) and federation/memstore.py in memory.

  hello(root digest) -> same                         : done, one round trip
                     -> nodes(the root node)
  descend(prefixes that differ) -> nodes(those nodes) ... until every difference is a leaf
  pull(wants of a window of documents, cursor) -> changes(pack, cursor, more)  ... per window
  push(pack of what they lack) -> pushed(counts)                               ... until all sent
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from .changepack import actor_and_seq
from .envelope import Envelope, Voucher
from .errors import Rejected
from .syncmsg import (
    Changes,
    Descend,
    DocVectors,
    Hello,
    Nodes,
    ProtocolError,
    Pull,
    Push,
    Pushed,
    Reply,
    Request,
    Same,
    Told,
    Vector,
)
from .synctree import EMPTY, HEX, PATH_CHARS, DigestTree, Internal, Leaf
from .wirelimits import LIMITS

BATCH_ENVELOPES = 500
BATCH_BYTES = 2 << 20

Wants = dict[str, dict[bytes, int]]  # doc -> actor -> highest seq the receiver holds


@dataclass
class Due:
    """What a pull still expects of one document: per actor, the seq held and the seq to reach."""

    wants: dict[bytes, int]
    upto: dict[bytes, int]

    @property
    def count(self) -> int:
        return sum(self.upto[a] - s for a, s in self.wants.items())

    def received(self, change: bytes) -> bool:
        """Note a change received; True once nothing more is expected of the document."""
        try:
            actor, seq = actor_and_seq(change)
        except Rejected:
            return False  # ingest will say what is wrong with it
        if seq > self.wants.get(actor, seq):
            if seq >= self.upto[actor]:
                del self.wants[actor]
            else:
                self.wants[actor] = seq
        return not self.wants


@dataclass(frozen=True)
class Batch:
    envelopes: list[Envelope]
    cursor: int  # arrival number of the last change looked at
    more: bool


@dataclass(frozen=True)
class Row:
    """One held change as a batch reads it, in arrival order; `vouch` is the hash of the change
    that vouched for it when it has no signature of its own."""

    seqno: int
    envelope: Envelope
    actor: bytes
    seq: int
    hash: bytes
    vouch: bytes | None


EXTEND_BYTES = 3 * BATCH_BYTES  # how far past its byte budget a batch extends to its vouchers


def take_batch(rows: Iterable[Row], wants: Mapping[str, Mapping[bytes, int]], cursor: int,
               limit: int, max_bytes: int, voucher_of: Callable[[bytes], Envelope | None]) -> Batch:
    """The wanted rows after `cursor`, at most `limit` and about `max_bytes`, then on to the
    voucher of every change without a signature among them (sync.md, "Packs"): the batch
    extends, in arrival order, until it holds each voucher and so the chain down to each
    vouched change, within LIMITS.pack_changes changes and EXTEND_BYTES. A voucher not
    reached by then is attached (`voucher_of` reads it) and the pack carries it at the end
    of its group."""
    out: list[Envelope] = []
    vouches: list[bytes | None] = []
    owed: set[bytes] = set()
    size = 0
    for row in rows:
        actors = wants.get(row.envelope.doc_id)
        if actors is None or row.seq <= actors.get(row.actor, 1 << 63):
            cursor = row.seqno
            continue
        if out and (len(out) >= limit or size + len(row.envelope.change) > max_bytes) and (
                not owed or len(out) >= LIMITS.pack_changes - len(owed) or size > EXTEND_BYTES):
            return Batch(_attach(out, vouches, owed, voucher_of), cursor, True)
        out.append(row.envelope)
        vouches.append(row.vouch)
        owed.discard(row.hash)
        if row.vouch is not None:
            owed.add(row.vouch)
        size += len(row.envelope.change) + 100
        cursor = row.seqno
    return Batch(_attach(out, vouches, owed, voucher_of), cursor, False)


def _attach(out: list[Envelope], vouches: list[bytes | None], owed: set[bytes],
            voucher_of: Callable[[bytes], Envelope | None]) -> list[Envelope]:
    """The batch, each change whose voucher it does not hold given that voucher (a change
    whose voucher is not kept here goes without: its receiver refuses it, `unvouched`)."""
    if not owed:
        return out
    kept: dict[bytes, Voucher | None] = {}
    for i, vouch in enumerate(vouches):
        if vouch in owed:
            if vouch not in kept:
                head = voucher_of(vouch)
                kept[vouch] = None if head is None else Voucher(head)
            e = out[i]
            out[i] = Envelope(e.doc_id, e.change, e.signer, b"", kept[vouch])
    return out


class Holdings(Protocol):
    """What one side holds, as the exchange needs to read it."""

    def tree(self) -> DigestTree:
        """The digest tree of what is stored now (kept up to date on every insert)."""
        ...

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


def vectors_wire(wants: Mapping[str, Mapping[bytes, int]]) -> DocVectors:
    return tuple((doc, tuple(sorted(actors.items()))) for doc, actors in wants.items())


# --- responder -------------------------------------------------------------------------------


def told(holdings: Holdings, tree: DigestTree, prefix: str) -> Told:
    node = tree.node(prefix)
    if isinstance(node, Leaf):
        return Told(prefix, node, tuple(sorted(holdings.vector(node.doc_id).items())))
    return Told(prefix, node)


def told_bytes(t: Told) -> int:
    """About what one node costs on the wire, to keep a `nodes` reply within its budget."""
    if isinstance(t.node, Internal):
        return 8 + len(t.prefix) + 32 * len(t.node.children)
    if isinstance(t.node, Leaf):
        return 48 + len(t.prefix) + len(t.node.doc_id) + sum(len(a) + 10 for a, _ in t.vector)
    return 2 + len(t.prefix)


def answer(holdings: Holdings, key: bytes, request: Hello | Descend | Pull) -> Reply:
    """The responder's reply to one request; pushes and peer lists are the caller's."""
    if isinstance(request, Pull):
        wants = {doc: dict(vector) for doc, vector in request.wants}
        limit = max(1, min(request.limit, BATCH_ENVELOPES))
        batch = holdings.changes_after(wants, request.cursor, limit, BATCH_BYTES)
        return Changes(tuple(batch.envelopes), batch.cursor, batch.more)
    tree = holdings.tree()
    if isinstance(request, Hello):
        if request.root == tree.root():
            return Same(key)
        return Nodes(key, (told(holdings, tree, ""),))
    out: list[Told] = []
    size = 0
    for prefix in request.prefixes:
        t = told(holdings, tree, prefix)
        size += told_bytes(t)
        if out and size > LIMITS.nodes_reply_bytes:
            break
        out.append(t)
    return Nodes(key, tuple(out))


# --- initiator -------------------------------------------------------------------------------


class Phase(str, Enum):
    HELLO = "hello"
    DESCEND = "descend"
    PULL = "pull"
    PUSH = "push"
    DONE = "done"


# The replies each phase accepts; anything else is `unexpected-reply`.
EXPECTED: dict[Phase, tuple[type, ...]] = {
    Phase.HELLO: (Same, Nodes),
    Phase.DESCEND: (Nodes,),
    Phase.PULL: (Changes,),
    Phase.PUSH: (Pushed,),
    Phase.DONE: (),
}


@dataclass
class Progress:
    """What the exchange has moved so far; `to_pull`/`to_push` grow as differences are found."""

    round_trips: int = 0
    nodes: int = 0  # tree nodes the responder described
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
        self.limit = max(1, limit)
        self.phase = Phase.HELLO
        self.progress = Progress()
        self.peer_key: bytes | None = None
        self.peer_vectors: list[tuple[str, Vector]] = []  # the responder's, where we differ
        self._tree = holdings.tree()
        self._asked: deque[str] = deque()  # prefixes still to ask about
        self._pull: dict[str, Due] = {}  # documents to pull, in the order found
        self._window: dict[str, Due] = {}  # the documents being pulled
        self._push: Wants = {}
        self._pull_cursor = 0
        self._push_cursor = 0

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def start(self) -> Hello:
        return Hello(self._tree.root(), self.key, self.url)

    def receive(self, reply: Reply) -> Step:
        """Feed the reply to the last request; raises ProtocolError (only) on a reply that
        breaks the exchange."""
        self.progress.round_trips += 1
        if not isinstance(reply, EXPECTED[self.phase]):
            raise ProtocolError("unexpected-reply", f"{type(reply).__name__} in phase {self.phase.value}")
        if isinstance(reply, Same):
            self.peer_key = reply.key
            return self._finish()
        if isinstance(reply, Nodes):
            return self._nodes(reply)
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

    # --- descending the tree ---------------------------------------------------------------

    def _nodes(self, reply: Nodes) -> Step:
        if self.phase is Phase.HELLO:
            self.peer_key = reply.key
            if reply.key == self.key:
                return self._finish()
            self._asked.append("")
        if not reply.nodes:
            raise ProtocolError("no-progress", "the responder described no node")
        for t in reply.nodes:
            if not self._asked or self._asked[0] != t.prefix:
                raise ProtocolError("unexpected-reply", f"node {t.prefix!r} was not the next asked")
            self._asked.popleft()
            self._compare(t)
        self.progress.nodes += len(reply.nodes)
        if self.progress.nodes + len(self._asked) > LIMITS.descent_nodes:
            raise ProtocolError("too-many-nodes",
                                f"the responder's tree would take over {LIMITS.descent_nodes} nodes")
        if self._asked:
            self.phase = Phase.DESCEND
            n = min(len(self._asked), LIMITS.prefixes)
            return Step(Descend(tuple(self._asked[i] for i in range(n))))
        return self._next_pull()

    def _compare(self, t: Told) -> None:
        node = t.node
        if node is None:
            for mine in self._tree.docs_under(t.prefix):
                self._plan(mine.doc_id, {})
        elif isinstance(node, Leaf):
            for mine in self._tree.docs_under(t.prefix):
                if mine.doc_id != node.doc_id:
                    self._plan(mine.doc_id, {})
            if self._tree.get(node.doc_id) != node.digest:
                self._plan(node.doc_id, dict(t.vector))
                self.peer_vectors.append((node.doc_id, t.vector))
        else:
            if len(t.prefix) >= PATH_CHARS:
                raise ProtocolError("bad-message", "an internal node at a full path")
            for c in HEX:
                prefix = t.prefix + c
                theirs = node.children.get(c, EMPTY)
                if theirs == self._tree.digest(prefix):
                    continue
                if theirs == EMPTY:
                    for mine in self._tree.docs_under(prefix):
                        self._plan(mine.doc_id, {})
                else:
                    self._asked.append(prefix)

    def _plan(self, doc: str, theirs: dict[bytes, int]) -> None:
        mine = self.holdings.vector(doc) if self._tree.get(doc) is not None else {}
        pull = lacking(mine, theirs)
        push = lacking(theirs, mine)
        if pull:
            due = Due(pull, {a: theirs[a] for a in pull})
            self._pull[doc] = due
            self.progress.to_pull += due.count
        if push:
            self._push[doc] = push
            self.progress.to_push += sum(mine[a] - s for a, s in push.items())
        if not pull and not push:  # same changes, other evidence: each side sends its own
            self._pull[doc] = Due({}, {})
            self._push[doc] = {}

    # --- pulling, a window of documents at a time ------------------------------------------

    def _next_pull(self) -> Step:
        if not self._window:
            count = 0
            while self._pull and (not self._window or count + next(iter(self._pull.values())).count
                                  <= self.limit):
                doc, due = next(iter(self._pull.items()))
                del self._pull[doc]
                self._window[doc] = due
                count += due.count
            self._pull_cursor = 0
        if not self._window:
            return self._next_push()
        self.phase = Phase.PULL
        return Step(Pull(vectors_wire({doc: due.wants for doc, due in self._window.items()}),
                         self._pull_cursor, self.limit))

    def _pulled(self, reply: Changes) -> Step:
        if reply.more and reply.cursor <= self._pull_cursor:
            raise ProtocolError("no-progress", "the responder's cursor did not advance")
        self._pull_cursor = reply.cursor
        self.progress.pulled += len(reply.envelopes)
        for e in reply.envelopes:  # the next pull names only the actors still behind
            due = self._window.get(e.doc_id)
            if due is not None and due.received(e.change):
                del self._window[e.doc_id]
        if not reply.more:
            self._window = {}
        return Step(self._next_pull().request, reply.envelopes)

    # --- pushing ---------------------------------------------------------------------------

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
