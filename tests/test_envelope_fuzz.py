"""Fuzzing what arrives from the network: random bytes and mutated valid envelopes never
raise anything but Rejected from decoding and checking, never make ingest raise, and
never leave anything in the store that would not verify again."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pnyx.daemon.store.audit import reverify
from pnyx.daemon.store.documents import DocumentCache
from pnyx.federation.envelope import Envelope, check_envelope, decode_envelope, sign_change
from pnyx.federation.errors import Rejected
from pnyx.federation.keys import SigningKey
from pnyx.federation.ledger import read_ledger

from .funnel import Funnel
from .ledgerkit import author_on, body_of, columns_start, found_assembly, fresh_store, rechecksum, store_state

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Corpus:
    doc_id: str
    base: tuple[Envelope, ...]  # a ledger with two certified devices
    valid: tuple[Envelope, ...]  # further valid envelopes, in order
    writer: SigningKey  # a certified device key: can sign anything it likes


@functools.cache
def corpus() -> Corpus:
    assembly = found_assembly()
    b = assembly.add_device("b")
    author = author_on(b, b.device_key)
    valid = tuple(author.decide(f"decision {n}") for n in range(3))
    return Corpus(assembly.doc_id, tuple(assembly.envelopes()), valid, b.device_key)


def mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    """Apply (kind, position, byte) edits: 0 replace, 1 insert, 2 delete, 3 truncate."""
    out = bytearray(data)
    for kind, position, value in edits:
        at = position % (len(out) + 1)
        if kind == 0 and at < len(out):
            out[at] = value
        elif kind == 1:
            out.insert(at, value)
        elif kind == 2 and at < len(out):
            del out[at]
        elif kind == 3:
            del out[at:]
    return bytes(out)


edit_lists = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1 << 16), st.integers(0, 255)),
                      min_size=1, max_size=4)


def decode_and_check(data: bytes) -> Envelope | None:
    """Decode and check; only Rejected may escape, and is turned into None."""
    try:
        envelope = decode_envelope(data)
    except Rejected:
        return None
    with contextlib.suppress(Rejected):
        check_envelope(envelope)
    return envelope


def ingest_safely(envelope: Envelope) -> None:
    """Ingest one envelope into a store holding the corpus ledger: nothing raises; the store
    either gains only changes that verify again, or is left as it was."""
    c = corpus()
    store, docs, ingestor = fresh_store()
    assert ingestor.ingest(c.base + c.valid[:1]).accepted == len(c.base) + 1
    before = store_state(store)
    report = ingestor.ingest([envelope])
    outcomes = report.accepted + report.duplicate + report.pending + report.dropped
    assert outcomes + len(report.rejected) == 1, report
    after = store_state(store)
    if report.accepted:
        assert after.changes == before.changes + 1
        audit = reverify(store)
        assert audit.ok, audit.problems
        rebuilt = DocumentCache(store).get(c.doc_id)
        assert sorted(rebuilt.get_heads()) == sorted(docs.get(c.doc_id).get_heads())
        read_ledger(rebuilt)
    else:
        assert (after.changes, after.hashes) == (before.changes, before.hashes)
    later = ingestor.ingest(c.valid[1:])
    if not report.accepted:  # refused or waiting: the valid changes that follow still go in
        assert later.accepted == 2, later  # (a waiting one may be judged, and refused, now)
    assert reverify(store).ok


@st.composite
def wire_values(draw: st.DrawFn) -> bytes:
    """Msgpack arrays whose elements are each of the right or a wrong type, from the corpus
    or random: most are well-framed envelopes that reach ingest, some are not."""
    c = corpus()
    known = (c.valid + c.base)[draw(st.integers(0, len(c.valid + c.base) - 1))]
    doc_id = draw(st.sampled_from([known.doc_id, c.doc_id, "ledger/x", "charter/" + "0" * 64])
                  | st.text(max_size=12))
    change = draw(st.sampled_from([known.change]) | st.binary(max_size=80))
    signer = draw(st.sampled_from([known.signer, c.writer.public]) | st.binary(min_size=32, max_size=32))
    signature = draw(st.sampled_from([known.signature]) | st.binary(min_size=64, max_size=64))
    value: list[object] = [doc_id, change, signer, signature]
    if draw(st.integers(0, 9)) == 0:  # wrong types and lengths
        value = draw(st.permutations(value))[:draw(st.integers(0, 4))]
    return bytes(msgpack.packb(value))


def test_random_envelopes() -> None:
    """Random bytes and random well-framed envelopes (a corpus change under another doc id,
    signer or signature, junk changes...): nothing escapes but Rejected, and most inputs
    get past decoding to ingest, whose store checks then run."""
    funnel = Funnel()

    @FUZZ
    @given(st.binary(max_size=600) | wire_values())
    def run(data: bytes) -> None:
        funnel.saw("input")
        envelope = decode_and_check(data)
        if envelope is not None:
            funnel.saw("decoded")
            ingest_safely(envelope)

    run()
    funnel.assert_share("decoded", 0.3)


@FUZZ
@given(st.sampled_from(range(4)), edit_lists)
def test_mutated_encoded_envelopes(which: int, edits: list[tuple[int, int, int]]) -> None:
    c = corpus()
    envelope = decode_and_check(mutate((c.valid + c.base)[which].encode(), edits))
    if envelope is not None:
        ingest_safely(envelope)


@settings(FUZZ, max_examples=300)
@given(st.sampled_from(range(1, 3)), edit_lists)
def test_mutated_changes_signed_by_a_certified_device(which: int,
                                                      edits: list[tuple[int, int, int]]) -> None:
    """What a certified device could sign: edits of a valid change's op columns, checksum
    fixed up (Automerge accepts some, refuses some, panics on some)."""
    c = corpus()
    body = body_of(c.valid[which].change)
    start = columns_start(body)  # the op columns: the header fields have their own tests
    chunk = rechecksum(body[:start] + mutate(body[start:], edits))
    try:
        envelope = sign_change(c.writer, c.doc_id, chunk)
    except Rejected:
        return
    assert decode_and_check(envelope.encode()) == envelope
    ingest_safely(envelope)
