"""The sync exchange as a sans-IO state machine (protocol-spec/sync.md, "State machine").

The initiator is fed replies and emits the next request plus the envelopes
it received, which the caller verifies and stores; the responder answers one
request at a time and keeps no state between them, so an exchange cut
anywhere simply starts again from what both sides have stored. What each
side holds is read through `Holdings`, which the daemon implements over its
store (daemon/store/holdings.py) and federation/memstore.py in memory.

  hello(root digest per scope) -> same              : done, one round trip
                               -> roots(the root node of each scope that differs, a salt)
  descend(scope, salt, prefixes that differ) -> nodes(those nodes) ... until every difference is a leaf
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
    ScopeRoots,
    Told,
    Vector,
)
from .syncscope import ScopedTrees
from .synctree import EMPTY, HEX, PATH_CHARS, RECENT, DigestTree, Internal, Leaf, Node, path_of, short
from .wirelimits import LIMITS

BATCH_ENVELOPES = 500  # a bundle's record frame; what the receiver stores per transaction
# The most a responder serves per pull, and an initiator's limit. Pipelined, the receiver waits
# for a batch only when the round trip and its packing take longer than storing the batch before
# it: about 45 ms for 500 changes, 180 ms for 2,000 (bench sync's ledgers), so a batch of this
# size hides a slow link's round trip; and each request's fixed share on both sides (HTTP, the
# state machine, a turn of each event loop) is spread over four times the changes. The receiver
# still stores it BATCH_ENVELOPES at a time (daemon/net/slices.py).
PULL_ENVELOPES = 2000
# An exchange's first pull (and first push) carries this many at most, and each one after it
# twice as many as the one before, up to the limit (`Ramp`): the receiver starts storing once a
# small batch is packed, and stores each batch while the other side packs one of twice its size
# (a responder packs a change about four times faster than a receiver stores it, measured on
# bench sync's ledgers).
FIRST_BATCH = 250
BATCH_BYTES = 2 << 20


class Ramp:
    """The sizes of an exchange's successive pulls (or pushes): FIRST_BATCH, then each twice
    the one before, up to `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._next = min(limit, FIRST_BATCH)

    def next(self) -> int:
        size, self._next = self._next, min(self.limit, 2 * self._next)
        return size

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

    def trees(self) -> ScopedTrees:
        """The digest trees of what is stored now, whole and per scope (kept up to date on
        every insert)."""
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


def owed(have: Mapping[bytes, int], other: Mapping[bytes, int]) -> Due:
    """What `have` must be sent to hold what `other` holds: its `lacking` actors, each up to
    the seq `other` holds (a pull's, a push's or a bundle's expectation of one document)."""
    wants = lacking(have, other)
    return Due(wants, {a: other[a] for a in wants})


def next_window(planned: dict[str, Due], limit: int) -> dict[str, Due]:
    """The next documents of `planned` (taken out of it) whose expected changes add up to at
    most `limit`, at least one. Changes go a window of documents at a time (pulls, pushes and
    bundles), so that the receiver gets each document's changes together: in the sender's
    arrival order across documents that arrived interleaved, a receiver past its document
    cache's bound lets each go and loads it again at every turn (daemon/store/documents.py)."""
    window: dict[str, Due] = {}
    count = 0
    while planned and (not window or count + next(iter(planned.values())).count <= limit):
        doc, due = next(iter(planned.items()))
        del planned[doc]
        window[doc] = due
        count += due.count
    return window


def vectors_wire(wants: Mapping[str, Mapping[bytes, int]]) -> DocVectors:
    return tuple((doc, tuple(sorted(actors.items()))) for doc, actors in wants.items())


# --- responder -------------------------------------------------------------------------------


def cut(node: Node, salt: bytes) -> Node:
    """A node as the wire carries it: an internal node's children cut short with `salt`."""
    if isinstance(node, Internal):
        return Internal({c: short(salt, d) for c, d in node.children.items()})
    return node


def told(holdings: Holdings, tree: DigestTree, prefix: str, salt: bytes) -> Told:
    node = tree.node(prefix)
    if isinstance(node, Leaf):
        return Told(prefix, node, tuple(sorted(holdings.vector(node.doc_id).items())))
    return Told(prefix, cut(node, salt))


def told_bytes(t: Told) -> int:
    """About what one node costs on the wire, to keep a `nodes` reply within its budget."""
    if isinstance(t.node, Internal):
        return 8 + len(t.prefix) + sum(len(d) for d in t.node.children.values())
    if isinstance(t.node, Leaf):
        return 48 + len(t.prefix) + len(t.node.doc_id) + sum(len(a) + 10 for a, _ in t.vector)
    return 2 + len(t.prefix)


def answer(holdings: Holdings, key: bytes, request: Hello | Descend | Pull, salt: bytes) -> Reply:
    """The responder's reply to one request; pushes and peer lists are the caller's. `salt`
    (SALT_BYTES drawn at random for each hello) cuts short the digests of a `roots` reply;
    raises ProtocolError for a descent into a scope this side does not follow."""
    if isinstance(request, Pull):
        wants = {doc: dict(vector) for doc, vector in request.wants}
        limit = max(1, min(request.limit, PULL_ENVELOPES))
        batch = holdings.changes_after(wants, request.cursor, limit, BATCH_BYTES)
        return Changes(tuple(batch.envelopes), batch.cursor, batch.more)
    trees = holdings.trees()
    if isinstance(request, Hello):
        differ = []
        recent: dict[str, None] = {}
        for scope, root in request.roots:
            tree = trees.tree(scope)
            if tree is not None and tree.root() != root:
                differ.append((scope, told(holdings, tree, "", salt)))
                recent.update(dict.fromkeys(tree.recent))
        if not differ:
            return Same(key)
        hints = (told(holdings, trees.whole, path_of(doc), salt) for doc in list(recent)[:RECENT])
        return ScopeRoots(key, salt, tuple(differ), tuple(h for h in hints if isinstance(h.node, Leaf)))
    tree = trees.tree(request.scope)
    if tree is None:
        raise ProtocolError("bad-message", "a descent into a scope this daemon does not follow")
    out: list[Told] = []
    size = 0
    for prefix in request.prefixes:
        t = told(holdings, tree, prefix, request.salt)
        size += told_bytes(t)
        if out and size > LIMITS.nodes_reply_bytes:
            break
        out.append(t)
    return Nodes(tuple(out))


# --- initiator -------------------------------------------------------------------------------


class Phase(str, Enum):
    HELLO = "hello"
    DESCEND = "descend"
    PULL = "pull"
    PUSH = "push"
    DONE = "done"


# The replies each phase accepts; anything else is `unexpected-reply`.
EXPECTED: dict[Phase, tuple[type, ...]] = {
    Phase.HELLO: (Same, ScopeRoots),
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
                 limit: int = PULL_ENVELOPES) -> None:
        self.holdings = holdings
        self.key = key
        self.url = url
        self.limit = max(1, limit)
        self.phase = Phase.HELLO
        self.progress = Progress()
        self.peer_key: bytes | None = None
        self.peer_vectors: list[tuple[str, Vector]] = []  # the responder's, where we differ
        self._trees = holdings.trees()
        self._salt = b""  # the responder's, from its `roots`
        self._asked: deque[tuple[bytes, str]] = deque()  # (scope, prefix) still to ask about
        self._planned: set[str] = set()
        # Shortcut: the responder's digests of documents changed last (its hints, and its
        # answers about ours); a scope whose root they explain needs no descent.
        self._theirs: dict[str, bytes] = {}
        self._unsure: dict[bytes, Told] = {}  # scope -> its root, until our documents are asked
        self._pull: dict[str, Due] = {}  # documents to pull, in the order found
        self._window: dict[str, Due] = {}  # the documents being pulled
        self._push: dict[str, Due] = {}  # documents to push, in the order found
        self._push_window: Wants = {}  # the documents being pushed
        self._pull_cursor = 0
        self._pull_sizes = Ramp(self.limit)
        self._push_cursor = 0
        self._push_sizes = Ramp(self.limit)
        self._ahead: Push | None = None  # a push sent before the reply to the one before it

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def start(self) -> Hello:
        roots = []
        for scope in self._trees.scopes():
            tree = self._trees.tree(scope)
            assert tree is not None  # a side serves every scope it follows
            roots.append((scope, tree.root()))
        return Hello(tuple(roots), self.key, self.url)

    def receive(self, reply: Reply) -> Step:
        """Feed the reply to the last request; raises ProtocolError (only) on a reply that
        breaks the exchange."""
        self.progress.round_trips += 1
        if not isinstance(reply, EXPECTED[self.phase]):
            raise ProtocolError("unexpected-reply", f"{type(reply).__name__} in phase {self.phase.value}")
        if isinstance(reply, Same):
            self.peer_key = reply.key
            return self._finish()
        if isinstance(reply, ScopeRoots):
            return self._roots(reply)
        if isinstance(reply, Nodes):
            return self._nodes(reply)
        if isinstance(reply, Changes):
            return self._pulled(reply)
        assert isinstance(reply, Pushed)
        p = self.progress
        p.remote_accepted += reply.accepted
        p.remote_rejected += reply.rejected
        p.remote_reasons.extend(reply.reasons)
        if self._ahead is not None:  # the step this reply leads to was taken already
            ahead, self._ahead = self._ahead, None
            return Step(ahead)
        return self._next_push()

    def push_ahead(self) -> Push | None:
        """With a push on its way and its reply not yet fed to `receive`: the push after it,
        to send at once (sync.md, "Pipelining"), or None (none left, or one already sent
        ahead). What a push brings never depends on how the one before it was judged, so
        `receive` then answers that reply with this push, already sent, as its step."""
        if self.phase is not Phase.PUSH or self._ahead is not None or not (self._push or self._push_window):
            return None
        step = self._next_push()
        if not isinstance(step.request, Push):  # nothing left: the last reply ends the exchange
            self.phase = Phase.PUSH
            return None
        self._ahead = step.request
        return self._ahead

    def _finish(self) -> Step:
        self.phase = Phase.DONE
        return Step(None)

    # --- descending the tree ---------------------------------------------------------------

    def _roots(self, reply: ScopeRoots) -> Step:
        self.peer_key = reply.key
        if reply.key == self.key:
            return self._finish()
        self._salt = reply.salt
        for hint in reply.hints:
            assert isinstance(hint.node, Leaf)
            if self._trees.covers(hint.node.doc_id):  # a hint outside our scopes is not pulled
                self._compare(b"", hint)
        for scope, t in reply.roots:
            tree = self._trees.tree(scope)
            if t.prefix or tree is None or scope not in self._trees.scopes():
                raise ProtocolError("unexpected-reply", "a root of a scope not asked about")
            ours = [doc for doc in tree.recent if doc not in self._theirs]
            if self._explained(scope, t):
                continue
            if ours and isinstance(t.node, Internal):  # first ask about what we changed last
                self._unsure[scope] = t
                self._asked.extend((scope, path_of(doc)) for doc in ours)
            else:
                self._compare(scope, t)
        return self._described(len(reply.roots))

    def _explained(self, scope: bytes, root: Told) -> bool:
        """Whether our tree of `scope`, with the responder's digests of the documents we know
        them for, has the responder's root node: then those documents are all that differ."""
        tree = self._trees.tree(scope)
        assert tree is not None
        known = [(doc, d) for doc, d in self._theirs.items() if tree.get(doc) not in (None, d)]
        if not known or not isinstance(root.node, Internal):
            return False
        theirs = tree.fork()  # dropped at once, before our tree changes
        for doc, digest in known:
            theirs.set(doc, digest)
        return cut(theirs.node(""), self._salt) == root.node

    def _nodes(self, reply: Nodes) -> Step:
        if not reply.nodes:
            raise ProtocolError("no-progress", "the responder described no node")
        for t in reply.nodes:
            if not self._asked or self._asked[0][1] != t.prefix:
                raise ProtocolError("unexpected-reply", f"node {t.prefix!r} was not the next asked")
            scope, _ = self._asked.popleft()
            self._compare(scope, t)
        for scope, root in list(self._unsure.items()):
            if not any(s == scope for s, _ in self._asked):
                del self._unsure[scope]
                if not self._explained(scope, root):
                    self._compare(scope, root)  # the descent from the root after all
        return self._described(len(reply.nodes))

    def _described(self, n: int) -> Step:
        """After n nodes were compared: the next descend (one scope's prefixes), else pulls."""
        self.progress.nodes += n
        if self.progress.nodes + len(self._asked) > LIMITS.descent_nodes:
            raise ProtocolError("too-many-nodes",
                                f"the responder's tree would take over {LIMITS.descent_nodes} nodes")
        if self._asked:
            self.phase = Phase.DESCEND
            scope = self._asked[0][0]
            prefixes: list[str] = []
            for s, prefix in self._asked:
                if s != scope or len(prefixes) == LIMITS.prefixes:
                    break
                prefixes.append(prefix)
            return Step(Descend(scope, self._salt, tuple(prefixes)))
        return self._next_pull()

    def _compare(self, scope: bytes, t: Told) -> None:
        tree = self._trees.tree(scope) or self._trees.whole  # a hint: any scope
        node = t.node
        if node is None:
            for mine in tree.docs_under(t.prefix):
                self._plan(mine.doc_id, {})
        elif isinstance(node, Leaf):
            for mine in tree.docs_under(t.prefix):
                if mine.doc_id != node.doc_id:
                    self._plan(mine.doc_id, {})
            self._theirs[node.doc_id] = node.digest
            differs = self._trees.whole.get(node.doc_id) != node.digest  # compared whole: exact
            if differs and node.doc_id not in self._planned:
                self._plan(node.doc_id, dict(t.vector))
                self.peer_vectors.append((node.doc_id, t.vector))
        else:
            if len(t.prefix) >= PATH_CHARS:
                raise ProtocolError("bad-message", "an internal node at a full path")
            for c in HEX:
                prefix = t.prefix + c
                theirs = node.children.get(c)
                mine_digest = tree.digest(prefix)
                if theirs is None:
                    for mine in tree.docs_under(prefix) if mine_digest != EMPTY else ():
                        self._plan(mine.doc_id, {})
                elif mine_digest == EMPTY or theirs != short(self._salt, mine_digest):
                    self._asked.append((scope, prefix))

    def _plan(self, doc: str, theirs: dict[bytes, int]) -> None:
        if doc in self._planned:  # reached again through another scope
            return
        self._planned.add(doc)
        mine = self.holdings.vector(doc) if self._trees.whole.get(doc) is not None else {}
        pull, push = owed(mine, theirs), owed(theirs, mine)
        same = not pull.wants and not push.wants  # same changes, other evidence: each sends its own
        if pull.wants or same:
            self._pull[doc] = pull
            self.progress.to_pull += pull.count
        if push.wants or same:
            self._push[doc] = push
            self.progress.to_push += push.count

    # --- pulling, a window of documents at a time ------------------------------------------

    def _next_pull(self) -> Step:
        if not self._window:
            self._window = next_window(self._pull, self.limit)
            self._pull_cursor = 0
        if not self._window:
            return self._next_push()
        self.phase = Phase.PULL
        return Step(Pull(vectors_wire({doc: due.wants for doc, due in self._window.items()}),
                         self._pull_cursor, self._pull_sizes.next()))

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

    # --- pushing, a window of documents at a time --------------------------------------------

    def _next_push(self) -> Step:
        """Pushes go a window of documents at a time, as pulls do, so that the responder
        receives a document's changes together: pushed in the initiator's arrival order across
        all its documents, ten ledgers that arrived interleaved, 500 changes at a time, made a
        daemon past its cache bound let each go and load it again at every turn (loads 20 times
        every 10k changes, 104 -> 318 us a change from the first 10k to the last of 50k, measured)."""
        if not self._push_window:
            self._push_window = {doc: due.wants for doc, due in next_window(self._push, self.limit).items()}
            self._push_cursor = 0
        if not self._push_window:
            return self._finish()
        batch = self.holdings.changes_after(self._push_window, self._push_cursor,
                                            self._push_sizes.next(), BATCH_BYTES)
        self._push_cursor = batch.cursor
        if not batch.more:
            self._push_window = {}
        if not batch.envelopes:
            return self._next_push()
        self.phase = Phase.PUSH
        self.progress.pushed += len(batch.envelopes)
        return Step(Push(tuple(batch.envelopes)))
