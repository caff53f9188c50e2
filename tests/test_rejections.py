"""Every rule a received change must pass: each bad change is rejected with its reason and
leaves the store exactly as it was; waiting changes are applied when their dependencies
arrive; a validly signed but malformed change never bricks a document."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

import automerge.core as am
import pytest
from pnyx.daemon.store import snapshots
from pnyx.daemon.store.audit import reverify
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.node import Node
from pnyx.daemon.store.pending import Bounds
from pnyx.daemon.store.snapshots import Snapshots
from pnyx.federation.amvalues import put_value
from pnyx.federation.changepack import pack, unpack
from pnyx.federation.chunk import encode_uleb, parse_change
from pnyx.federation.columns import Reader
from pnyx.federation.envelope import Envelope, sign_change, signing_input
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import read_ledger
from pnyx.federation.ops import ACTION, decode_ops

from .ledgerkit import (
    Assembly,
    Author,
    author_on,
    body_of,
    columns_start,
    found_assembly,
    fresh_store,
    lift_write_rules,
    new_key,
    rechecksum,
    rewrite_change,
    store_state,
)
from .test_chunk import encode_sleb


@dataclass
class World:
    """An assembly whose device `b` already wrote `first` with hand-made actor 1; `receiver`
    is a further certified device holding all of it; `second` is b's next change, unsent."""

    assembly: Assembly
    b: Node
    receiver: Node
    author: Author
    first: Envelope
    second: Envelope

    def deliver(self, *envelopes: Envelope) -> list[tuple[str, str]]:
        report = self.receiver.ingestor.ingest(envelopes)
        return report.rejected

    def rejects(self, envelope: Envelope, reason: Reason) -> None:
        before = store_state(self.receiver.store)
        rejected = self.deliver(envelope)
        assert [r for r, _ in rejected] == [reason.value], rejected
        assert store_state(self.receiver.store) == before


@pytest.fixture
def world() -> World:
    return make_world()


def make_world() -> World:
    assembly = found_assembly()
    b = assembly.add_device("b")
    receiver = assembly.add_device("receiver")
    author = author_on(b, b.device_key)
    first = author.decide("first")
    second = author.decide("second")
    w = World(assembly, b, receiver, author, first, second)
    assert w.deliver(first) == []
    return w


def resign(w: World, chunk: bytes) -> Envelope:
    return sign_change(w.b.device_key, w.assembly.doc_id, chunk)


def signed_mutations(w: World, count: int, seed: int) -> Iterator[Envelope]:
    """Op-column mutations of `w.second` that still parse, signed by its device."""
    for chunk in op_column_mutations(w.second.change, count, seed):
        try:
            yield resign(w, chunk)
        except Rejected:
            continue  # the parser refuses it: the test_chunk fuzzers cover that


def test_the_honest_next_change_is_accepted(world: World) -> None:
    assert world.deliver(world.second) == []
    assert world.second.change in {s.envelope.change for s in world.receiver.store.envelopes()}


def test_forged_signature(world: World) -> None:
    e = world.second
    forger = new_key()
    forged = Envelope(e.doc_id, e.change, e.signer, forger.sign(signing_input(e.doc_id, b"\0" * 32)))
    world.rejects(forged, Reason.BAD_SIGNATURE)
    world.rejects(Envelope(e.doc_id, e.change, e.signer, bytes(64)), Reason.BAD_SIGNATURE)


def test_signature_for_another_document_is_not_replayable(world: World) -> None:
    """b is a device of two assemblies; its change signed for the other ledger is refused here."""
    other = found_assembly("Barrio Sur")
    elsewhere = sign_change(world.b.device_key, other.doc_id, world.second.change)
    replayed = Envelope(world.assembly.doc_id, elsewhere.change, elsewhere.signer, elsewhere.signature)
    world.rejects(replayed, Reason.BAD_SIGNATURE)


def test_unknown_device(world: World) -> None:
    stranger = author_on(world.receiver, new_key())
    world.rejects(stranger.decide("by a stranger"), Reason.UNKNOWN_DEVICE)


def test_certificate_must_be_in_the_causal_past(world: World) -> None:
    """A device certified later cannot have written a change that does not descend from
    its certificate, even when the certificate is held by the time the change arrives."""
    newcomer = new_key()
    early = author_on(world.receiver, newcomer).decide("before being certified")
    world.assembly.recorder.add_device(newcomer.public, "newcomer")
    assert world.deliver(*world.assembly.envelopes()) == []
    world.rejects(early, Reason.UNKNOWN_DEVICE)
    assert world.deliver(author_on(world.receiver, newcomer, nonce=2).decide("after")) == []


def test_revoked_device_writing_after_the_revocation(world: World) -> None:
    assembly = world.assembly
    assert assembly.home.ingestor.ingest([world.first]).rejected == []
    assembly.recorder.revoke_device(world.b.device_key.public)
    assert world.deliver(*assembly.envelopes()) == []
    assert world.b.ingestor.ingest(assembly.envelopes()).rejected == []
    # b knows it was revoked and writes anyway, in a new run...
    world.rejects(author_on(world.b, world.b.device_key, nonce=2).decide("defiant"),
                  Reason.REVOKED_DEVICE)
    # A change it wrote without having seen the revocation is held, but void in every read.
    assert world.deliver(world.second) == []
    ledger = read_ledger(world.receiver.docs.get(world.receiver.ledger_id))
    assert [d.title for d in ledger.decisions.values()] == ["first"]
    assert list(ledger.void.values()) == [
        f"written by device {key_text(world.b.device_key.public)} outside its revocation's cut"]


def test_a_device_entry_cannot_be_rewritten_to_undo_a_revocation(world: World) -> None:
    """Another certified device puts b's entry back without its revocation: a schema
    violation (rule W3, nothing is overwritten), and b stays revoked."""
    assembly = world.assembly
    assert assembly.home.ingestor.ingest([world.first]).rejected == []
    assembly.recorder.revoke_device(world.b.device_key.public)
    assert world.deliver(*assembly.envelopes()) == []
    accomplice = author_on(world.receiver, world.receiver.device_key, nonce=7)
    entry = read_ledger(world.receiver.docs.get(world.receiver.ledger_id)).devices
    certificate = entry[key_text(world.b.device_key.public)].certificate

    def unrevoke(tx: am.Transaction) -> None:
        devices = tx.get(am.ROOT, "devices")
        assert devices is not None
        put_value(tx, devices[1], key_text(world.b.device_key.public),
                  {"label": "b", "certificate": certificate})

    undo = accomplice.sign(accomplice.change(unrevoke))
    world.rejects(undo, Reason.SCHEMA_VIOLATION)
    assert read_ledger(world.receiver.docs.get(world.receiver.ledger_id)).devices[
        key_text(world.b.device_key.public)].revoked_cut is not None
    # b has not seen its revocation: its new change is held, and void.
    assert world.deliver(author_on(world.b, world.b.device_key, nonce=2).decide("defiant")) == []
    ledger = read_ledger(world.receiver.docs.get(world.receiver.ledger_id))
    assert "defiant" not in {d.title for d in ledger.decisions.values()} and len(ledger.void) == 1


def test_changes_inside_the_revocation_cut_stay_valid(world: World) -> None:
    """The cut names what the revoking device held; those changes stay valid everywhere."""
    assembly = world.assembly
    assert assembly.home.ingestor.ingest([world.first]).rejected == []
    assembly.recorder.revoke_device(world.b.device_key.public)
    store, _, ingestor = fresh_store()  # gets b's change only from the revoking device
    report = ingestor.ingest(assembly.envelopes())
    assert report.rejected == [] and report.pending == 0
    assert world.first.change in {s.envelope.change for s in store.envelopes()}


def test_seq_gap(world: World) -> None:
    world.rejects(resign(world, rewrite_change(world.second.change, seq=3)), Reason.SEQ_GAP)


def test_start_op_mismatch(world: World) -> None:
    second = world.author.doc.get_changes([])[-1]
    for start_op in (second.start_op + 1, second.start_op - 1):
        world.rejects(resign(world, rewrite_change(world.second.change, start_op=start_op)),
                      Reason.START_OP_MISMATCH)


def test_previous_change_of_the_actor_not_among_the_ancestors(world: World) -> None:
    first_deps = Reader(body_of(world.first.change))
    deps = tuple(first_deps.take(32) for _ in range(first_deps.uleb()))
    skipping = rewrite_change(world.second.change, deps=deps)
    world.rejects(resign(world, skipping), Reason.PREVIOUS_NOT_ANCESTOR)


def test_equivocation_keeps_the_first_and_stores_both_as_evidence(world: World) -> None:
    # Forked where `first` is not held, the twin writes another seq 1 for the same actor.
    twin = Author(world.assembly.home.docs.get(world.assembly.doc_id), world.assembly.doc_id,
                  world.b.device_key, actor=world.author.actor)
    other = twin.decide("the other first")
    assert other.change != world.first.change
    world.rejects(other, Reason.EQUIVOCATION)
    evidence = world.receiver.store.evidence()
    hashes = {h for _, h, _, _, _ in evidence}
    assert hashes == {parse_change(world.first.change).hash, parse_change(other.change).hash}
    assert {(reason, signer) for _, _, signer, reason, _ in evidence} == {
        (Reason.EQUIVOCATION.value, world.b.device_key.public)}
    # The kept change stays, the document is unchanged by the other one.
    assert world.deliver(world.second) == []


def test_equivocation_against_a_change_held_vouched_is_kept_as_evidence(world: World) -> None:
    """The kept change may be held vouched (its voucher is kept beside it); the refused one may
    too: it is kept with its voucher, the proof that travels with it (changes.md, "Equivocation";
    tests/test_evidence_vouched.py)."""
    twin = Author(world.assembly.home.docs.get(world.assembly.doc_id), world.assembly.doc_id,
                  world.b.device_key, actor=world.author.actor).decide("the other first")
    history = world.assembly.envelopes()
    packed = unpack(pack([world.first, world.second]))
    assert not packed[0].signature and packed[0].voucher is not None
    vouched_first, _, vouched_ingest = fresh_store()
    assert vouched_ingest.ingest([*history, *packed]).accepted == len(history) + 2
    assert [r for r, _ in vouched_ingest.ingest([twin]).rejected] == [Reason.EQUIVOCATION.value]
    assert {h for _, h, _, _, _ in vouched_first.evidence()} == {
        parse_change(world.first.change).hash, parse_change(twin.change).hash}
    twin_first, _, twin_ingest = fresh_store()
    twin_ingest.ingest([*history, twin])
    assert [r for r, _ in twin_ingest.ingest(packed).rejected] == [Reason.EQUIVOCATION.value]
    assert {h for _, h, _, _, _ in twin_first.evidence()} == {
        parse_change(world.first.change).hash, parse_change(twin.change).hash}
    assert twin_first.voucher(parse_change(world.second.change).hash) == world.second


def test_flipped_byte_truncation_and_trailing_junk(world: World) -> None:
    e = world.second
    middle = len(e.change) // 2
    flipped = e.change[:middle] + bytes([e.change[middle] ^ 0x10]) + e.change[middle + 1:]
    world.rejects(Envelope(e.doc_id, flipped, e.signer, e.signature), Reason.BAD_CHECKSUM)
    world.rejects(Envelope(e.doc_id, e.change[:-3], e.signer, e.signature), Reason.TRUNCATED)
    world.rejects(Envelope(e.doc_id, e.change + b"\0", e.signer, e.signature), Reason.TRAILING_BYTES)


def test_actor_not_bound_to_the_signer(world: World) -> None:
    stranger = new_key()
    borrowed = Author(world.receiver.docs.get(world.assembly.doc_id), world.assembly.doc_id,
                      world.b.device_key, actor=stranger.public + bytes(8))
    world.rejects(borrowed.decide("under another key's actor"), Reason.ACTOR_NOT_SIGNER)
    short = Author(world.receiver.docs.get(world.assembly.doc_id), world.assembly.doc_id,
                   world.b.device_key, actor=world.b.device_key.public + bytes(4))
    world.rejects(short.decide("actor of the wrong length"), Reason.ACTOR_NOT_SIGNER)


# ------------------------------------------------------------------ waiting for dependencies


def chain(world: World, length: int) -> list[Envelope]:
    """`second` and the further changes of b's hand-made actor, each on the one before."""
    return [world.second] + [world.author.decide(f"chained {n}") for n in range(length - 1)]


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_changes_wait_for_their_dependencies_in_any_order(world: World, order: tuple[int, ...]) -> None:
    changes = chain(world, 3)
    hashes = [parse_change(e.change).hash for e in changes]
    before = store_state(world.receiver.store)
    for step, index in enumerate(order):
        report = world.receiver.ingestor.ingest([changes[index]])
        assert report.rejected == []
        arrived = set(order[:step + 1])
        # What is held is exactly the longest prefix of the chain that has arrived.
        prefix = next((n for n in range(3) if n not in arrived), 3)
        state = store_state(world.receiver.store)
        assert state.hashes == before.hashes | set(hashes[:prefix])
        assert state.pending == {hashes[n] for n in arrived if n >= prefix}
    ledger = read_ledger(world.receiver.docs.get(world.assembly.doc_id))
    assert {"second", "chained 0", "chained 1"} <= {d.title for d in ledger.decisions.values()}


def test_the_pending_set_is_bounded(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(world.receiver.store.pending, "bounds", Bounds(count=2))
    changes = chain(world, 5)
    report = world.receiver.ingestor.ingest(changes[1:])
    assert report.pending == 2 and report.deferred == 2 and report.accepted == 0
    assert world.receiver.store.pending.count() == 2
    # The missing change arrives: what waited is applied, what was dropped comes again later.
    report = world.receiver.ingestor.ingest(changes[:1])
    assert report.accepted == 3 and world.receiver.store.pending.count() == 0
    report = world.receiver.ingestor.ingest(changes[3:])
    assert report.accepted == 2 and report.rejected == []


def test_equivocating_changes_that_waited_keep_the_first_arrived(world: World) -> None:
    """Released together when their dependency arrives, two changes with one (actor, seq)
    are judged in arrival order: the first is kept, as if they had not waited."""
    kept_hashes = set()
    twins = []
    for n in range(2):  # seq 2 of b's hand-made actor, twice, both on `first`
        twin = Author(world.receiver.docs.get(world.assembly.doc_id), world.assembly.doc_id,
                      world.b.device_key, actor=world.author.actor)
        twins.append(twin.decide(f"twin {n}"))
    for order in ((0, 1), (1, 0)):
        store, _, ingestor = fresh_store()
        assert ingestor.ingest(world.assembly.envelopes()).rejected == []
        report = ingestor.ingest([twins[order[0]], twins[order[1]], world.first])
        assert [r for r, _ in report.rejected] == [Reason.EQUIVOCATION.value]
        held = {s.envelope.change for s in store.envelopes()}
        assert twins[order[0]].change in held and twins[order[1]].change not in held
        kept_hashes.add(parse_change(twins[order[0]].change).hash)
    assert len(kept_hashes) == 2


# ------------------------------------------------------------------ malformed but signed


def op_column_mutations(raw: bytes, count: int, seed: int) -> list[bytes]:
    """Bodies of `raw` with one byte of the op columns changed, checksums fixed up."""
    body = body_of(raw)
    start = columns_start(body)
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        mutated = bytearray(body)
        pos = rng.randrange(start, len(body))
        mutated[pos] = rng.randrange(256)
        if bytes(mutated) != body:
            out.append(rechecksum(bytes(mutated)))
    return out


def test_signed_malformed_changes_never_brick_the_document(world: World) -> None:
    """What a key holder could sign: each is rejected with the store unchanged, or accepted
    and then the ledger still reads, rebuilds from the store alone, verifies, and takes
    later changes."""
    later = author_on(world.receiver, world.b.device_key, nonce=9).decide("later")
    base = world.assembly.envelopes(world.receiver)
    outcomes: dict[str, int] = {}
    for chunk in op_column_mutations(world.second.change, 150, seed=3):
        try:
            envelope = resign(world, chunk)
        except Rejected:
            outcomes["unsignable"] = outcomes.get("unsignable", 0) + 1
            continue  # the parser refuses it: the test_chunk fuzzers cover that
        store, docs, ingestor = fresh_store()
        assert ingestor.ingest(base).accepted == len(base)
        before = store_state(store)
        report = ingestor.ingest([envelope])
        if report.rejected:
            assert store_state(store) == before
            outcome = report.rejected[0][0]
        else:
            assert report.accepted == 1
            outcome = "accepted"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        doc = docs.get(world.assembly.doc_id)
        read_ledger(doc)
        rebuilt = DocumentCache(store).get(world.assembly.doc_id)
        assert sorted(rebuilt.get_heads()) == sorted(doc.get_heads())
        read_ledger(rebuilt)
        assert ingestor.ingest([later]).accepted == 1
        assert reverify(store).ok
    # The write rules refuse before Automerge whatever it would fail on (rule A1 stays a guard).
    assert outcomes.get("accepted") and outcomes.get(Reason.SCHEMA_VIOLATION.value), outcomes
    assert not outcomes.get(Reason.APPLY_FAILED.value), outcomes


def literal_action_column(raw: bytes) -> bytes:
    """`raw` with its action column re-encoded as one literal run: the same ops, a
    non-canonical encoding that the rules accept and Automerge applies."""
    body = body_of(raw)
    start = columns_start(body)
    r = Reader(body, pos=start)
    specs = [(r.uleb(), r.uleb()) for _ in range(r.uleb())]
    columns, pos = [], r.pos
    for spec, length in specs:
        columns.append((spec, body[pos:pos + length]))
        pos += length
    actions = [op.action for op in decode_ops(parse_change(raw))]
    literal = encode_sleb(-len(actions)) + b"".join(encode_uleb(a) for a in actions)
    columns = [(spec, literal if spec == ACTION else data) for spec, data in columns]
    meta = encode_uleb(len(columns)) + b"".join(encode_uleb(s) + encode_uleb(len(d)) for s, d in columns)
    return rechecksum(body[:start] + meta + b"".join(d for _, d in columns) + body[pos:])


class CountedLoads:
    """Stands for automerge.core.Document in daemon/store/snapshots.py: counts the loads."""

    loads = 0

    def __new__(cls) -> am.Document:  # type: ignore[misc]
        return am.Document()

    @staticmethod
    def load(data: bytes) -> am.Document:
        CountedLoads.loads += 1
        return am.Document.load(data)


def test_a_snapshot_that_does_not_load_is_found_out_when_loaded_and_the_document_rebuilt(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A change whose op columns are not canonically encoded leaves a document whose save()
    does not load again. Snapshots are checked when loaded, not when saved: such a snapshot
    is found out at its first load and the document rebuilt from the store's changes, with
    the heads of the document that saved it; the process does not load it again."""
    monkeypatch.setattr(snapshots, "SNAPSHOT_EVERY", 1)
    store, docs, ingestor = fresh_store()
    doc_id = world.assembly.doc_id
    ingestor.ingest(world.assembly.envelopes(world.receiver))
    docs.save_snapshots()
    assert ingestor.ingest([resign(world, literal_action_column(world.second.change))]).accepted == 1
    docs.save_snapshots()
    doc = docs.get(doc_id)
    snapshot = store.snapshot(doc_id)
    assert snapshot is not None and snapshot[0] == store.last_seqno()  # holds the malformed change
    with pytest.raises(Exception, match="mismatching heads"):
        am.Document.load(snapshot[1])
    monkeypatch.setattr(CountedLoads, "loads", 0)
    monkeypatch.setattr(snapshots, "Document", CountedLoads)
    fresh = DocumentCache(store)
    assert sorted(fresh.get(doc_id).get_heads()) == sorted(doc.get_heads())
    assert CountedLoads.loads == 1
    fresh.forget(doc_id)
    assert sorted(fresh.get(doc_id).get_heads()) == sorted(doc.get_heads())
    assert CountedLoads.loads == 1  # found out once: not loaded again


def test_a_counter_cannot_make_a_ledger_unreadable(world: World) -> None:
    """Automerge 1.0.0rc1 panics on reading a counter (or an unknown value type) and the
    panic poisons the document: a signed change holding one is refused before it is applied."""
    body = body_of(world.second.change)
    runs_of_three_ints = bytes.fromhex("0314")  # the tally: a run of 3 one-byte ints
    at = body.index(runs_of_three_ints)
    for value_type in (0x18, 0x1A, 0x1F):  # counter, reserved types 10 and 15
        chunk = rechecksum(body[:at] + bytes([3, value_type]) + body[at + 2:])
        with pytest.raises(Rejected) as info:
            resign(world, chunk)
        assert info.value.reason is Reason.MALFORMED_CHANGE
    assert world.deliver(world.second) == []
    read_ledger(world.receiver.docs.get(world.assembly.doc_id))


def test_changes_automerge_refuses_without_a_word_do_not_rebuild_the_document(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A push of many changes that fail to apply costs one check each, not a rebuild of the
    whole document each: a document whose heads did not move is kept.

    The write rules now refuse every mutant of the corpus that Automerge would refuse
    silently, so they are lifted here: this test is about what ingest does when a change
    gets past every rule and still does not apply."""
    lift_write_rules(monkeypatch)
    silent = []
    for envelope in signed_mutations(world, 400, seed=5):
        store, _, ingestor = fresh_store()
        ingestor.ingest(world.assembly.envelopes(world.receiver))
        if ingestor.ingest([envelope]).rejected == [(Reason.APPLY_FAILED.value,
                                                     "automerge did not take the change")]:
            silent.append(envelope)
    assert len(silent) >= 3, f"{len(silent)} mutations refused silently: the corpus lost the case"
    store, _, ingestor = fresh_store()
    ingestor.ingest(world.assembly.envelopes(world.receiver))
    loads = []
    real_load = Snapshots.load
    monkeypatch.setattr(Snapshots, "load", lambda self, doc_id: loads.append(doc_id) or
                        real_load(self, doc_id))
    report = ingestor.ingest(silent)
    assert len(report.rejected) == len(silent)
    assert loads == [], loads  # the cached document was kept: never rebuilt
    assert ingestor.ingest([world.second]).accepted == 1
    assert reverify(store).ok
