"""The machine at sizes real stores would take long to build: holdings whose tree holds many
documents with made-up digests (the tree does not look inside them). What is tested is the
exchange around them: bytes that follow the difference, replies within their budget."""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Mapping

import pytest
from pnyx.federation import sync
from pnyx.federation.gossip import GossipPolicy
from pnyx.federation.sync import Batch, Initiator
from pnyx.federation.syncmsg import (
    Descend,
    Nodes,
    ProtocolError,
    Pull,
    Reply,
    Request,
    ScopeRoots,
    Told,
    decode_reply,
    decode_request,
    encode,
)
from pnyx.federation.syncpeer import Responder
from pnyx.federation.syncscope import ScopedTrees
from pnyx.federation.synctree import HEX, Internal
from pnyx.federation.wirelimits import LIMITS, WireLimits


class MadeUp:
    """A tree of `docs` documents; `vector` gives every document `actors` actors at seq `seq`."""

    def __init__(self, docs: int, seq: int = 1, actors: int = 1, changed: str | None = None) -> None:
        self._trees = ScopedTrees(None, lambda charter: None)
        for i in range(docs):
            doc = f"ledger/{i}"
            self._trees.set(doc, hashlib.sha256(f"{doc} {seq if doc == changed else 1}".encode()).digest())
        self.seq = seq
        self.actors = actors
        self.changed = changed

    def trees(self) -> ScopedTrees:
        return self._trees

    def vector(self, doc_id: str) -> dict[bytes, int]:
        seq = self.seq if doc_id == self.changed else 1
        return {i.to_bytes(40, "big"): seq for i in range(self.actors)}

    def changes_after(self, wants: Mapping[str, Mapping[bytes, int]], cursor: int, limit: int,
                      max_bytes: int) -> Batch:
        return Batch([], cursor, False)


def run(mine: MadeUp, theirs: MadeUp) -> tuple[list[Request], list[int]]:
    responder = Responder(theirs, b"r" * 32, lambda envelopes: None, os.urandom)  # type: ignore[arg-type, return-value]
    initiator = Initiator(mine, b"i" * 32)
    requests: list[Request] = []
    sizes: list[int] = []
    request: Request | None = initiator.start()
    while request is not None:
        data = encode(request)
        body = encode(responder.respond(decode_request(data)))
        requests.append(request)
        sizes.append(len(data) + len(body))
        reply: Reply = decode_reply(body)
        request = initiator.receive(reply).request
    return requests, sizes


def test_one_differing_document_costs_log_d_whatever_d() -> None:
    costs = {}
    for docs in (100, 30_000):
        requests, sizes = run(MadeUp(docs), MadeUp(docs, seq=2, changed="ledger/7"))
        pulls = [r for r in requests if isinstance(r, Pull)]
        assert [dict(p.wants) for p in pulls] == [{"ledger/7": ((bytes(40), 1),)}]
        assert all(len(r.prefixes) == 1 for r in requests if isinstance(r, Descend))
        assert max(sizes) < 700  # no message grows with D
        costs[docs] = sum(sizes)
    assert costs[30_000] < costs[100] + 3 * 700  # about one more level per 16x documents


def test_a_nodes_reply_stays_within_its_budget_and_the_rest_is_asked_again() -> None:
    """Leaves whose vectors are huge: each reply stops at its byte budget, the initiator asks
    again for what was not answered, and the exchange still finds every difference."""
    theirs = MadeUp(64, actors=6000)
    mine = MadeUp(0)
    responder = Responder(theirs, b"r" * 32, lambda envelopes: None, os.urandom)  # type: ignore[arg-type, return-value]
    initiator = Initiator(mine, b"i" * 32)
    request: Request | None = initiator.start()
    answered = 0
    while request is not None and not isinstance(request, Pull):
        body = encode(responder.respond(decode_request(encode(request))))
        assert len(body) <= LIMITS.nodes_reply_bytes + 64 * 1024
        reply = decode_reply(body)
        if isinstance(reply, Nodes) and isinstance(request, Descend):
            assert 0 < len(reply.nodes) <= len(request.prefixes)
            answered += len(reply.nodes) < len(request.prefixes)
        request = initiator.receive(reply).request
    assert answered > 0  # some reply was cut at its budget
    assert initiator.progress.to_pull == 64 * 6000  # every document, every actor


def test_eager_push_tells_fanout_peers_not_all() -> None:
    policy = GossipPolicy(interval=1.0, fanout=3, push=True)
    peers = [f"http://10.0.0.{i}:7464" for i in range(40)]
    chosen = policy.push_peers(peers, random.Random(1))
    assert len(chosen) == 3 and set(chosen) <= set(peers)
    assert GossipPolicy(fanout=3, push=False).push_peers(peers, random.Random(1)) == []
    assert 0.5 <= policy.next_round_in(random.Random(2)) < 1.5


def test_a_responder_inventing_nodes_cannot_keep_the_descent_going(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every node it describes is internal with 16 children: the initiator stops at its bound."""
    monkeypatch.setattr(sync, "LIMITS", WireLimits(descent_nodes=5000))
    initiator = Initiator(MadeUp(0), b"i" * 32)
    request: Request | None = initiator.start()
    children = {c: bytes([i + 1]) * 8 for i, c in enumerate(HEX)}
    reply: Reply = ScopeRoots(b"r" * 32, bytes(8), ((b"", Told("", Internal(children))),))
    with pytest.raises(ProtocolError, match="too-many-nodes"):
        for _ in range(10_000):
            request = initiator.receive(reply).request
            assert isinstance(request, Descend)
            reply = Nodes(tuple(Told(p, Internal(children)) for p in request.prefixes))
    assert initiator.progress.nodes <= 5000
