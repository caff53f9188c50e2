"""The sync state machine on its own: two in-memory holdings, messages through the wire codec."""

from __future__ import annotations

import os
from collections.abc import Mapping

import msgpack
import pytest
from pnyx.federation.chunk import parse_change
from pnyx.federation.envelope import Envelope
from pnyx.federation.sync import Batch, Initiator, Summary, answer, summarize
from pnyx.federation.syncdigest import doc_digest
from pnyx.federation.syncmsg import (
    MAX_BODY_BYTES,
    Buckets,
    Changes,
    DocsRequest,
    Hello,
    ProtocolError,
    Pull,
    Push,
    Pushed,
    Request,
    Same,
    decode_reply,
    decode_request,
    encode,
)

from bench.corpus import ledger_chain, new_key


class MemoryHoldings:
    """A dependency-closed set of changes in arrival order, like the store."""

    def __init__(self, envelopes: list[Envelope] = ()) -> None:  # type: ignore[assignment]
        self.rows: list[tuple[Envelope, bytes, bytes, int, tuple[bytes, ...]]] = []
        self.hashes: set[bytes] = set()
        self.ingest(envelopes)

    def ingest(self, envelopes: list[Envelope] | tuple[Envelope, ...]) -> int:
        new = 0
        for e in envelopes:
            c = parse_change(e.change)
            if c.hash not in self.hashes:
                assert all(d in self.hashes for d in c.deps), "arrival order keeps deps first"
                self.rows.append((e, c.hash, c.actor, c.seq, c.deps))
                self.hashes.add(c.hash)
                new += 1
        return new

    def summary(self) -> Summary:
        heads: dict[str, set[bytes]] = {}
        for e, h, _, _, deps in self.rows:
            doc = heads.setdefault(e.doc_id, set())
            doc.difference_update(deps)
            doc.add(h)
        return summarize({doc: doc_digest(hs) for doc, hs in heads.items()})

    def vector(self, doc_id: str) -> dict[bytes, int]:
        out: dict[bytes, int] = {}
        for e, _, actor, seq, _ in self.rows:
            if e.doc_id == doc_id:
                out[actor] = max(seq, out.get(actor, 0))
        return out

    def changes_after(self, wants: Mapping[str, Mapping[bytes, int]], cursor: int, limit: int,
                      max_bytes: int) -> Batch:
        out: list[Envelope] = []
        for seqno, (e, _, actor, seq, _) in enumerate(self.rows[cursor:], start=cursor + 1):
            if seq > wants.get(e.doc_id, {}).get(actor, 1 << 63):
                if len(out) >= limit:
                    return Batch(out, seqno - 1, True)
                out.append(e)
        return Batch(out, len(self.rows), False)


KEY_I, KEY_R = os.urandom(32), os.urandom(32)


def exchange(mine: MemoryHoldings, theirs: MemoryHoldings, limit: int = 500,
             stop_after: int | None = None) -> tuple[Initiator, int]:
    """Run one exchange, every message through encode/decode; returns it and the body bytes."""
    initiator = Initiator(mine, KEY_I, "http://127.0.0.1:1", limit)
    request: Request | None = initiator.start()
    wire = 0
    while request is not None:
        data = encode(request)
        received = decode_request(data)
        assert received == request
        if isinstance(received, Push):
            n = theirs.ingest(received.envelopes)
            reply_data = encode(Pushed(n, len(received.envelopes) - n, 0, 0, ()))
        else:
            assert isinstance(received, (Hello, DocsRequest, Pull))
            reply_data = encode(answer(theirs, KEY_R, received))
        wire += len(data) + len(reply_data)
        step = initiator.receive(decode_reply(reply_data))
        mine.ingest(step.ingest)
        request = step.request
        if stop_after is not None and initiator.progress.round_trips >= stop_after:
            break
    return initiator, wire


def many_docs(n: int, per_doc: int = 1) -> list[Envelope]:
    return [e for _ in range(n) for e in ledger_chain(new_key(), per_doc)[1]]


@pytest.mark.parametrize("docs", [10, 1000])
def test_equal_states_end_in_one_small_round_trip(docs: int) -> None:
    envelopes = many_docs(docs)
    a, b = MemoryHoldings(envelopes), MemoryHoldings(list(reversed(envelopes)))
    initiator, wire = exchange(a, b)
    assert initiator.done and initiator.progress.round_trips == 1
    assert wire < 256
    assert initiator.progress.pulled == initiator.progress.pushed == 0


def test_divergent_states_exchange_exactly_what_is_missing() -> None:
    shared = many_docs(30)
    key = new_key()
    doc, chain = ledger_chain(key, 40)
    _, later = ledger_chain(key, 25, doc)  # a second run of the same device: a second actor
    only_a, only_b = many_docs(7, 3), many_docs(5, 2)
    a = MemoryHoldings(shared + chain + only_a)
    b = MemoryHoldings(shared + chain[:10] + only_b)
    b.ingest(chain[10:] + later)
    a_before, b_before = set(a.hashes), set(b.hashes)
    initiator, _ = exchange(a, b)
    assert a.hashes == b.hashes == a_before | b_before
    assert initiator.progress.pulled == initiator.progress.to_pull == len(b_before - a_before) == 35
    assert initiator.progress.pushed == initiator.progress.to_push == len(a_before - b_before) == 21
    assert a.summary().digest == b.summary().digest
    again, _ = exchange(a, b)
    assert again.progress.round_trips == 1


def test_batches_are_bounded_and_an_interrupted_exchange_resumes() -> None:
    _, chain = ledger_chain(new_key(), 100)
    a, b = MemoryHoldings(), MemoryHoldings(chain)
    exchange(a, b, limit=7, stop_after=5)  # hello, docs, then 3 pulls of 7
    assert len(a.hashes) == 21
    resumed, _ = exchange(a, b, limit=7)
    assert resumed.progress.to_pull == resumed.progress.pulled == 79  # nothing sent twice
    assert resumed.progress.round_trips == 2 + 12  # 79 = 11 full batches + 2
    assert a.hashes == b.hashes


def test_push_only_and_repeat_changes_nothing() -> None:
    _, chain = ledger_chain(new_key(), 12)
    a, b = MemoryHoldings(chain), MemoryHoldings()
    first, _ = exchange(a, b, limit=5)
    assert first.progress.pushed == 12 and b.hashes == a.hashes
    second, _ = exchange(a, b, limit=5)
    assert second.progress.round_trips == 1 and second.progress.pushed == 0


def test_talking_to_itself_stops_after_hello() -> None:
    a = MemoryHoldings(many_docs(2))
    initiator = Initiator(a, KEY_I)
    initiator.start()
    step = initiator.receive(Buckets(KEY_I, bytes(32), tuple(bytes(32) for _ in range(64))))
    assert step.request is None and initiator.done


def test_unexpected_replies_and_a_stuck_cursor_are_protocol_errors() -> None:
    a = MemoryHoldings()
    initiator = Initiator(a, KEY_I)
    initiator.start()
    with pytest.raises(ProtocolError, match="unexpected-reply"):
        initiator.receive(Changes((), 0, False))
    b = MemoryHoldings(many_docs(1))
    initiator = Initiator(a, KEY_I)
    hello = initiator.start()
    step = initiator.receive(answer(b, KEY_R, hello))
    assert isinstance(step.request, DocsRequest)
    step = initiator.receive(answer(b, KEY_R, step.request))
    assert isinstance(step.request, Pull)
    with pytest.raises(ProtocolError, match="no-progress"):
        initiator.receive(Changes((), 0, True))


def packed(value: object) -> bytes:
    return bytes(msgpack.packb(value, use_bin_type=True))


HELLO = {"v": 1, "t": "hello", "digest": bytes(32), "key": bytes(32)}
BAD_MESSAGES = {
    "not msgpack": (b"\xc1", "malformed-msgpack"),
    "truncated": (packed(HELLO)[:-3], "malformed-msgpack"),
    "two values": (packed(HELLO) + b"\x00", "malformed-msgpack"),
    "not a map": (packed([1, "hello"]), "bad-message"),
    "no version": (packed({"t": "hello"}), "bad-message"),
    "version 2": (packed(HELLO | {"v": 2}), "unsupported-version"),
    "version as text": (packed(HELLO | {"v": "1"}), "bad-message"),
    "unknown type": (packed(HELLO | {"t": "gimme"}), "bad-message"),
    "a reply type as request": (packed({"v": 1, "t": "same", "key": bytes(32)}), "bad-message"),
    "short digest": (packed(HELLO | {"digest": bytes(31)}), "bad-message"),
    "key as text": (packed(HELLO | {"key": "k" * 32}), "bad-message"),
    "negative cursor": (packed({"v": 1, "t": "pull", "wants": [], "cursor": -1, "limit": 1}),
                        "bad-message"),
    "bool as count": (packed({"v": 1, "t": "pull", "wants": [], "cursor": True, "limit": 1}),
                      "bad-message"),
    "bucket out of range": (packed({"v": 1, "t": "docs", "buckets": [64], "docs": []}), "bad-message"),
    "envelope of 3": (packed({"v": 1, "t": "push", "envelopes": [["d", b"", b""]]}), "bad-message"),
    "wants not pairs": (packed({"v": 1, "t": "pull", "wants": [["d"]], "cursor": 0, "limit": 1}),
                        "bad-message"),
    "oversized": (bytes(MAX_BODY_BYTES + 1), "oversized"),
}


@pytest.mark.parametrize("name", BAD_MESSAGES)
def test_bad_requests_raise_protocol_errors(name: str) -> None:
    data, code = BAD_MESSAGES[name]
    with pytest.raises(ProtocolError) as caught:
        decode_request(data)
    assert caught.value.code == code


def test_same_is_the_answer_to_an_equal_digest() -> None:
    b = MemoryHoldings(many_docs(3))
    assert answer(b, KEY_R, Hello(b.summary().digest, KEY_I)) == Same(KEY_R)
    assert isinstance(answer(b, KEY_R, Hello(bytes(32), KEY_I)), Buckets)
