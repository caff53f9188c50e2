"""The sync state machine on its own: two in-memory stores (federation/memstore.py), every
message through the wire codec, so the bytes counted are the bytes a daemon would send."""

from __future__ import annotations

import contextlib
import os

import msgpack
import pytest
from pnyx.federation import sync
from pnyx.federation.changepack import actor_and_seq
from pnyx.federation.envelope import Envelope
from pnyx.federation.memstore import MemoryStore
from pnyx.federation.sync import Initiator, answer, told
from pnyx.federation.syncmsg import (
    MAX_BODY_BYTES,
    Changes,
    Descend,
    Hello,
    ProtocolError,
    Pull,
    Push,
    Reply,
    Request,
    Same,
    ScopeRoots,
    Told,
    decode_reply,
    decode_request,
    encode,
)
from pnyx.federation.syncpeer import Responder, exchange
from pnyx.federation.synctree import DigestTree, Internal, path_of

from bench.corpus import charter, ledger_chain, new_key

KEY_I, KEY_R = os.urandom(32), os.urandom(32)


def store(envelopes: list[Envelope] = ()) -> MemoryStore:  # type: ignore[assignment]
    s = MemoryStore()
    report = s.ingest(envelopes)
    assert not report.rejected and not report.pending
    return s


def hashes(s: MemoryStore) -> set[bytes]:
    return {e.change for e in s.envelopes()}


class Wire:
    """Carries requests to a responder over the codec, counting body bytes and requests."""

    def __init__(self, theirs: MemoryStore, stop_after: int | None = None) -> None:
        self.responder = Responder(theirs, KEY_R, theirs.ingest, os.urandom)
        self.bytes = 0
        self.requests: list[Request] = []
        self.stop_after = stop_after

    def __call__(self, request: Request) -> Reply:
        if self.stop_after is not None and len(self.requests) >= self.stop_after:
            raise ConnectionError("cut")
        data = encode(request)
        received = decode_request(data)
        assert encode(received) == data  # signatures the pack drops are vouched for
        self.requests.append(received)
        reply = encode(self.responder.respond(received))
        self.bytes += len(data) + len(reply)
        return decode_reply(reply)


def run(mine: MemoryStore, theirs: MemoryStore, limit: int = 500,
        stop_after: int | None = None) -> tuple[Initiator, Wire]:
    initiator = Initiator(mine, KEY_I, "http://127.0.0.1:1", limit)
    wire = Wire(theirs, stop_after)
    with contextlib.suppress(ConnectionError):
        exchange(initiator, wire, mine.ingest)
    return initiator, wire


def many_docs(n: int, per_doc: int = 1) -> list[Envelope]:
    return [e for _ in range(n) for e in ledger_chain(new_key(), per_doc)[1]]


@pytest.mark.parametrize("docs", [10, 1000])
def test_equal_states_end_in_one_small_round_trip(docs: int) -> None:
    envelopes = many_docs(docs)
    a, b = store(envelopes), store(list(reversed(envelopes)))
    initiator, wire = run(a, b)
    assert initiator.done and initiator.progress.round_trips == 1
    assert wire.bytes < 256
    assert initiator.progress.pulled == initiator.progress.pushed == 0


def test_equal_states_following_three_confederations_end_in_one_small_round_trip() -> None:
    keys = [new_key() for _ in range(3)]
    charters = [charter([k.public]) for k in keys]
    envelopes = charters + [e for k in keys for e in ledger_chain(k, 2)[1]]
    follow = [bytes.fromhex(c.doc_id.removeprefix("charter/")) for c in charters]
    a, b = MemoryStore(follow), MemoryStore(follow)
    assert a.ingest(envelopes).accepted == b.ingest(envelopes[::-1]).accepted == 9
    initiator, wire = Initiator(a, KEY_I), Wire(b)  # no url: 23 bytes more with a daemon's
    exchange(initiator, wire, a.ingest)
    assert initiator.done and initiator.progress.round_trips == 1
    assert len(wire.requests[0].roots) == 3 and wire.bytes < 256  # type: ignore[attr-defined]


def test_divergent_states_exchange_exactly_what_is_missing() -> None:
    shared = many_docs(30)
    key = new_key()
    doc, chain = ledger_chain(key, 40)
    _, later = ledger_chain(key, 25, doc)  # a second run of the same device: a second actor
    only_a, only_b = many_docs(7, 3), many_docs(5, 2)
    a = store(shared + chain + only_a)
    b = store(shared + chain[:10] + only_b)
    b.ingest(chain[10:] + later)
    a_before, b_before = hashes(a), hashes(b)
    initiator, _ = run(a, b)
    assert hashes(a) == hashes(b) == a_before | b_before
    assert initiator.progress.pulled == initiator.progress.to_pull == len(b_before - a_before) == 35
    assert initiator.progress.pushed == initiator.progress.to_push == len(a_before - b_before) == 21
    assert a.trees().whole.root() == b.trees().whole.root()
    again, _ = run(a, b)
    assert again.progress.round_trips == 1


def test_one_change_among_many_documents_costs_the_path_not_the_state() -> None:
    """The descent asks only about nodes whose digests differ: bytes grow with log D, not D."""
    costs = {}
    for docs in (100, 2000):
        shared = many_docs(docs)
        _, chain = ledger_chain(new_key(), 2)
        a, b = store(shared + chain[:1]), store(shared + chain)
        initiator, wire = run(a, b)
        assert hashes(a) == hashes(b) and initiator.progress.pulled == 1
        assert all(len(r.prefixes) <= 1 for r in wire.requests if isinstance(r, Descend))
        costs[docs] = wire.bytes
    assert costs[2000] < costs[100] + 1200  # one more level of 16 digests at most


def test_the_document_changed_last_needs_no_descent() -> None:
    """The shortcut: the responder's hint explains its root, so one change is pulled right
    after hello; one the initiator made is asked about by its path, then pushed."""
    shared = many_docs(300)
    _, chain = ledger_chain(new_key(), 2)
    a, b = store(shared + chain[:1]), store(shared + chain)
    initiator, wire = run(a, b)
    assert [type(r).__name__ for r in wire.requests] == ["Hello", "Pull"]
    assert hashes(a) == hashes(b) and initiator.progress.nodes == 1
    _, chain = ledger_chain(new_key(), 2)
    a, b = store(shared + chain), store(chain[:1] + shared)  # b changed another document last
    initiator, wire = run(a, b)
    assert [type(r).__name__ for r in wire.requests] == ["Hello", "Descend", "Push"]
    assert hashes(a) == hashes(b)


def test_a_hint_outside_the_scopes_followed_is_not_pulled() -> None:
    """Hints name documents, not scopes: a responder that hints a document of a confederation
    the initiator does not follow cannot make it hold that document."""
    inside, outside = new_key(), new_key()
    ours, theirs = charter([inside.public]), charter([outside.public])
    _, chain = ledger_chain(inside, 2)
    _, other = ledger_chain(outside, 1)
    a = MemoryStore([bytes.fromhex(ours.doc_id.removeprefix("charter/"))])
    b = MemoryStore()
    assert a.ingest([ours, chain[0]]).accepted == 2
    assert b.ingest([ours, theirs, *chain, *other]).accepted == 5

    class Hinting(Wire):
        def __call__(self, request: Request) -> Reply:
            reply = super().__call__(request)
            if isinstance(reply, ScopeRoots):  # and the document it changed last, out of scope
                stray = told(b, b.trees().whole, path_of(other[0].doc_id), reply.salt)
                reply = ScopeRoots(reply.key, reply.salt, reply.roots, (*reply.hints, stray))
            return reply

    initiator, wire = Initiator(a, KEY_I), Hinting(b)
    exchange(initiator, wire, a.ingest)
    assert initiator.done and any(isinstance(r, Pull) for r in wire.requests)
    assert hashes(a) == {ours.change, *(e.change for e in chain)}  # the scope's, nothing else


def test_pulls_window_documents_and_never_repeat_finished_wants() -> None:
    chains = many_docs(40, 5)
    a, b = store(), store(chains)
    initiator, wire = run(a, b, limit=20)
    assert hashes(a) == hashes(b) and initiator.progress.pulled == 200
    pulls = [r for r in wire.requests if isinstance(r, Pull)]
    named = [doc for p in pulls for doc, _ in p.wants]
    assert len(named) == len(set(named)) == 40  # each document's wants sent once
    assert len(pulls) == 10


def test_a_pull_stops_naming_the_actors_it_has_caught_up_with() -> None:
    key = new_key()
    doc, first = ledger_chain(key, 5)
    _, second = ledger_chain(key, 60, doc)  # a second run: a second actor, after the first
    a, b = store(), store(first + second)
    initiator, wire = run(a, b, limit=20)
    assert hashes(a) == hashes(b) and initiator.progress.pulled == 65
    pulls = [r for r in wire.requests if isinstance(r, Pull)]
    assert [len(p.wants[0][1]) for p in pulls] == [2, 1, 1, 1]  # the first actor is done at once


def test_pulls_and_pushes_start_small_and_double_up_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    first = 5
    monkeypatch.setattr(sync, "FIRST_BATCH", first)
    (_, theirs), (_, mine) = ledger_chain(new_key(), 7 * first), ledger_chain(new_key(), 7 * first)
    a, b = store(mine), store(theirs)
    initiator, wire = run(a, b, limit=3 * first)
    assert hashes(a) == hashes(b) and initiator.progress.pulled == initiator.progress.pushed == 7 * first
    pulls = [r for r in wire.requests if isinstance(r, Pull)]
    assert [p.limit for p in pulls] == [first, 2 * first, 3 * first, 3 * first]
    pushes = [r for r in wire.requests if isinstance(r, Push)]
    assert [len(p.envelopes) for p in pushes] == [first, 2 * first, 3 * first, first]


def test_the_responder_serves_at_most_its_cap_whatever_the_limit_asked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert sync.PULL_ENVELOPES == 2000
    monkeypatch.setattr(sync, "PULL_ENVELOPES", 20)
    _, chain = ledger_chain(new_key(), 21)
    b = store(chain)
    wants = ((chain[0].doc_id, ((actor_and_seq(chain[0].change)[0], 0),)),)
    reply = answer(b, KEY_R, Pull(wants, 0, 1 << 40), bytes(8))
    assert isinstance(reply, Changes) and reply.more
    assert len(reply.envelopes) == 20


def test_batches_are_bounded_and_an_interrupted_exchange_resumes() -> None:
    _, chain = ledger_chain(new_key(), 100)
    a, b = store(), store(chain)
    run(a, b, limit=7, stop_after=5)  # hello, then 4 pulls of 7 (a one-document root is a leaf)
    assert len(a) == 28
    resumed, _ = run(a, b, limit=7)
    assert resumed.progress.to_pull == resumed.progress.pulled == 72  # nothing sent twice
    assert resumed.progress.round_trips == 1 + 11  # 72 = 10 full batches + 2
    assert hashes(a) == hashes(b)


def test_push_only_and_repeat_changes_nothing() -> None:
    _, chain = ledger_chain(new_key(), 12)
    a, b = store(chain), store()
    first, _ = run(a, b, limit=5)
    assert first.progress.pushed == 12 and hashes(b) == hashes(a)
    assert first.progress.remote_accepted == 12
    second, _ = run(a, b, limit=5)
    assert second.progress.round_trips == 1 and second.progress.pushed == 0


def test_talking_to_itself_stops_after_hello() -> None:
    a = store(many_docs(2))
    initiator = Initiator(a, KEY_I)
    initiator.start()
    step = initiator.receive(ScopeRoots(KEY_I, bytes(8), ((b"", Told("", None)),)))
    assert step.request is None and initiator.done


def test_unexpected_replies_and_a_stuck_cursor_are_protocol_errors() -> None:
    a = store()
    initiator = Initiator(a, KEY_I)
    initiator.start()
    with pytest.raises(ProtocolError, match="unexpected-reply"):
        initiator.receive(Changes((), 0, False))
    b = store(many_docs(1))
    initiator = Initiator(a, KEY_I)
    hello = initiator.start()
    step = initiator.receive(answer(b, KEY_R, hello, bytes(8)))
    assert isinstance(step.request, Pull)
    with pytest.raises(ProtocolError, match="no-progress"):
        initiator.receive(Changes((), 0, True))
    initiator = Initiator(a, KEY_I)
    initiator.start()
    with pytest.raises(ProtocolError, match="unexpected-reply"):
        initiator.receive(ScopeRoots(KEY_R, bytes(8), ((b"", Told("0", None)),)))  # not a root


def test_the_tree_is_kept_up_to_date_incrementally() -> None:
    envelopes = many_docs(300)
    grown = DigestTree()
    s = MemoryStore()
    for e in envelopes:
        s.ingest([e])
    for leaf in s.trees().whole.docs_under(""):
        grown.set(leaf.doc_id, leaf.digest)
    assert grown.root() == s.trees().whole.root() == store(list(reversed(envelopes))).trees().whole.root()
    root = s.trees().whole.node("")
    assert isinstance(root, Internal) and len(root.children) == 16


def packed(value: object) -> bytes:
    return bytes(msgpack.packb(value, use_bin_type=True))


HELLO = {"v": 3, "t": "hello", "roots": [[b"", bytes(32)]], "key": bytes(32)}
DESCEND = {"v": 3, "t": "descend", "scope": b"", "salt": bytes(8)}
BAD_MESSAGES = {
    "not msgpack": (b"\xc1", "malformed-msgpack"),
    "truncated": (packed(HELLO)[:-3], "malformed-msgpack"),
    "two values": (packed(HELLO) + b"\x00", "malformed-msgpack"),
    "not a map": (packed([1, "hello"]), "bad-message"),
    "no version": (packed({"t": "hello"}), "bad-message"),
    "version 1": (packed(HELLO | {"v": 1}), "unsupported-version"),
    "version as text": (packed(HELLO | {"v": "2"}), "bad-message"),
    "unknown type": (packed(HELLO | {"t": "gimme"}), "bad-message"),
    "a reply type as request": (packed({"v": 3, "t": "same", "key": bytes(32)}), "bad-message"),
    "short root": (packed(HELLO | {"roots": [[b"", bytes(31)]]}), "bad-message"),
    "scope of 7 bytes": (packed(HELLO | {"roots": [[bytes(7), bytes(32)]]}), "bad-message"),
    "a scope twice": (packed(HELLO | {"roots": [[b"", bytes(32)], [b"", bytes(32)]]}), "bad-message"),
    "65 scopes": (packed(HELLO | {"roots": [[bytes([i]) * 8, bytes(32)] for i in range(65)]}),
                  "bad-message"),
    "salt of 7 bytes": (packed(DESCEND | {"salt": bytes(7), "prefixes": ["0"]}), "bad-message"),
    "key as text": (packed(HELLO | {"key": "k" * 32}), "bad-message"),
    "negative cursor": (packed({"v": 3, "t": "pull", "wants": [], "cursor": -1, "limit": 1}),
                        "bad-message"),
    "bool as count": (packed({"v": 3, "t": "pull", "wants": [], "cursor": True, "limit": 1}),
                      "bad-message"),
    "prefix not hex": (packed(DESCEND | {"prefixes": ["0g"]}), "bad-message"),
    "prefix too long": (packed(DESCEND | {"prefixes": ["0" * 65]}), "bad-message"),
    "too many prefixes": (packed(DESCEND | {"prefixes": ["0"] * 1025}), "bad-message"),
    "pack not deflate": (packed({"v": 3, "t": "push", "pack": b"\xff\xff"}), "bad-message"),
    "wants not pairs": (packed({"v": 3, "t": "pull", "wants": [["d"]], "cursor": 0, "limit": 1}),
                        "bad-message"),
    "oversized": (bytes(MAX_BODY_BYTES + 1), "oversized"),
}


@pytest.mark.parametrize("name", BAD_MESSAGES)
def test_bad_requests_raise_protocol_errors(name: str) -> None:
    data, code = BAD_MESSAGES[name]
    with pytest.raises(ProtocolError) as caught:
        decode_request(data)
    assert caught.value.code == code


BAD_REPLIES = {
    "two hints": {"hints": [["d", bytes(32), []]] * 2},
    "a hint of 2": {"hints": [["d", bytes(32)]]},
    "a hint's digest of 8 bytes": {"hints": [["d", bytes(8), []]]},
}


@pytest.mark.parametrize("name", BAD_REPLIES)
def test_bad_roots_replies_raise_protocol_errors(name: str) -> None:
    roots = {"v": 3, "t": "roots", "key": bytes(32), "salt": bytes(8), "roots": [[b"", [""]]]}
    decode_reply(packed(roots | {"hints": []}))
    with pytest.raises(ProtocolError) as caught:
        decode_reply(packed(roots | BAD_REPLIES[name]))
    assert caught.value.code == "bad-message"


def test_same_is_the_answer_to_an_equal_root() -> None:
    b = store(many_docs(3))
    salt = bytes(8)
    assert answer(b, KEY_R, Hello(((b"", b.trees().whole.root()),), KEY_I), salt) == Same(KEY_R)
    assert isinstance(answer(b, KEY_R, Hello(((b"", bytes(32)),), KEY_I), salt), ScopeRoots)


def test_a_fork_shares_what_it_started_from_and_changes_alone() -> None:
    """MemoryStore.fork (the simulator's many daemons): a fork's inserts change neither its
    base nor its siblings, and give the root a store built whole would have."""
    key = new_key()
    doc, chain = ledger_chain(key, 3)
    _, later = ledger_chain(key, 2, doc)
    others = many_docs(60)
    base = store(others + chain[:1])
    root = base.trees().whole.root()
    a, b = base.fork(), base.fork()
    _, new = ledger_chain(new_key(), 2)
    assert a.ingest(chain[1:] + later + new).accepted == 6
    assert base.trees().whole.root() == b.trees().whole.root() == root
    assert a.trees().whole.root() == store(others + chain + later + new).trees().whole.root()
    assert hashes(a) == hashes(b) | {e.change for e in chain[1:] + later + new}
    with pytest.raises(RuntimeError):
        base.ingest(new)
    run(b, a)
    assert hashes(a) == hashes(b) and b.trees().whole.root() == a.trees().whole.root()
