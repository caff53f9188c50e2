"""Packs (federation/changepack.py): what they drop comes back exactly, and what a sender could
abuse (a decompression bomb, a lying back-reference) is refused or fails verification."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pnyx.federation.changepack import (
    Budget,
    Link,
    PackError,
    _unpack_small,
    pack,
    pack_value,
    split_chunk,
    unpack,
    unpack_value,
    vouchers,
)
from pnyx.federation.chunk import parse_change
from pnyx.federation.envelope import Envelope, check_envelope
from pnyx.federation.errors import Rejected
from pnyx.federation.wirelimits import LIMITS, PACK, WireLimitError
from pnyx.federation.wirelimits import unpack as unpack_bounded

from bench.corpus import ledger_chain, new_key


def _plain(envelopes: list[Envelope]) -> list[tuple[str, bytes]]:
    return [(e.doc_id, e.change) for e in envelopes]


def test_a_pack_gives_back_the_exact_changes_each_signed_or_vouched_and_is_smaller() -> None:
    chains = [ledger_chain(new_key(), 50)[1] for _ in range(3)]
    envelopes = [e for chain in chains for e in chain]
    interleaved = [e for row in zip(*chains, strict=True) for e in row]  # documents mixed: regrouped by doc
    data = pack(interleaved)
    back = unpack(data)
    for doc in {e.doc_id for e in envelopes}:
        assert _plain([e for e in back if e.doc_id == doc]) == \
            _plain([e for e in interleaved if e.doc_id == doc])
        signed = [e for e in back if e.doc_id == doc and e.signature]
        assert signed == [e for e in envelopes if e.doc_id == doc][-1:]  # one signature per chain
    checked = [check_envelope(e) for e in back]
    heads = {c.change.hash for c in checked if c.vouch is None}
    assert len(heads) == 3 and all(c.vouch in heads for c in checked if c.vouch is not None)
    assert len(data) < 0.3 * sum(len(e.encode()) for e in envelopes)


def test_a_change_packed_twice_leaves_every_back_reference_right() -> None:
    """Evidence may send a change twice in one pack (a voucher shared by two refused changes):
    each later change's back-references still name the changes it depends on."""
    _, chain = ledger_chain(new_key(), 4)
    envelopes = [chain[0], chain[1], chain[0], chain[2], chain[3]]
    back = unpack(pack(envelopes))
    assert _plain(back) == _plain(envelopes)
    assert all(check_envelope(e) for e in back)


def _entries(envelopes: list[Envelope], signed: set[int]) -> bytes:
    """A pack written by hand: hash deps, and a signature only on the changes listed."""
    entries = [[list(split_chunk(e.change)[0]), split_chunk(e.change)[1],
                e.signature if i in signed else None] for i, e in enumerate(envelopes)]
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    value = [[envelopes[0].doc_id, entries]]
    return compressor.compress(msgpack.packb(value, use_bin_type=True)) + compressor.flush()


def test_an_unsigned_change_no_signed_change_of_its_actor_reaches_is_refused_unvouched() -> None:
    _, chain = ledger_chain(new_key(), 4)
    back = unpack(_entries(chain, {1, 3}))  # change 2 is vouched by 3; 0 by 1
    assert [bool(check_envelope(e).vouch) for e in back] == [True, False, True, False]
    back = unpack(_entries([chain[0], chain[2], chain[1]], {1}))  # 2 does not reach 1
    with pytest.raises(Rejected, match="unvouched"):
        check_envelope(back[2])
    with pytest.raises(Rejected, match="unvouched"):  # a last change without signature
        check_envelope(unpack(_entries(chain, set()))[3])


def test_a_head_whose_signature_fails_fails_every_change_it_vouches_for() -> None:
    _, chain = ledger_chain(new_key(), 3)
    forged = [*chain[:2], Envelope(chain[2].doc_id, chain[2].change, chain[2].signer, bytes(64))]
    for e in unpack(_entries(forged, {2})):
        with pytest.raises(Rejected, match="bad-signature"):
            check_envelope(e)


def test_a_head_by_another_actor_vouches_for_nothing() -> None:
    key = new_key()
    _, chain = ledger_chain(key, 2)
    _, other = ledger_chain(new_key(), 1)  # another actor's change, made to depend on ours
    _, rest = split_chunk(other[0].change)
    entries = [[[], split_chunk(chain[0].change)[1], None],
               [[0], rest, other[0].signature]]
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(msgpack.packb([[chain[0].doc_id, entries]], use_bin_type=True))
    back = unpack(data + compressor.flush())
    with pytest.raises(Rejected, match="unvouched"):
        check_envelope(back[0])


def test_a_back_reference_that_lies_yields_a_change_whose_signature_fails() -> None:
    _, chain = ledger_chain(new_key(), 3)
    _, rest = split_chunk(chain[2].change)
    groups = [[chain[0].doc_id, [[list(split_chunk(e.change)[0]), split_chunk(e.change)[1], e.signature]
                                 for e in chain[:2]] + [[[0], rest, chain[2].signature]]]]
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    data = compressor.compress(msgpack.packb(groups, use_bin_type=True)) + compressor.flush()
    forged = unpack(data)[2]
    assert forged.change != chain[2].change
    with pytest.raises(Rejected, match=r"signature|checksum"):
        check_envelope(forged)


def test_each_unpacked_change_carries_the_hash_of_its_own_rebuilt_bytes_and_is_hashed_once() -> None:
    """Unpacking hashes every chunk it rebuilds, and each envelope (a voucher too) carries that
    hash, computed here from its bytes (a pack has no field for one), so that checking it does
    not hash it again: with the same verdict and hash as an envelope checked without it."""
    _, chain = ledger_chain(new_key(), 5)
    back = unpack(pack(chain))
    vouchers = [e.voucher.envelope for e in back if e.voucher is not None]
    assert vouchers and all(e.digest == hashlib.sha256(e.change[8:]).digest() for e in back + vouchers)
    for e in back:
        bare = Envelope(e.doc_id, e.change, e.signer, e.signature, e.voucher)
        assert check_envelope(e).change == check_envelope(bare).change
        assert check_envelope(e).change.hash == e.digest


def test_a_hash_handed_to_parse_change_is_the_one_it_checks_the_checksum_with() -> None:
    """parse_change takes a type 1 chunk's hash instead of computing it: one that is not the
    chunk's fails its checksum (so a hash used without being computed here would show)."""
    change = ledger_chain(new_key(), 1)[1][0].change
    assert parse_change(change, hashlib.sha256(change[8:]).digest()).hash == parse_change(change).hash
    with pytest.raises(Rejected, match="checksum"):
        parse_change(change, bytes(32))


@pytest.mark.parametrize("name,data", [
    ("bomb", zlib.compress(bytes(PACK.max_bytes + 10))[2:-4]),
    ("not deflate", b"\xff\x00\xff"),
    ("junk after", pack([]) + b"junk"),
    ("a forward reference", zlib.compress(msgpack.packb([["ledger/x", [[[5], b"", bytes(64)]]]]))[2:-4]),
    ("short signature", zlib.compress(msgpack.packb([["ledger/x", [[[], b"", bytes(3)]]]]))[2:-4]),
])
def test_bad_packs_are_refused(name: str, data: bytes) -> None:
    with pytest.raises(PackError):
        unpack(data)


def test_finding_vouchers_is_bounded_whatever_a_sender_makes_of_actors_and_deps() -> None:
    """Many actors whose unsigned changes sit below a long run of signed ones: every step
    carries every actor. Honest groups cost changes x (a few actors) x (a few deps)."""
    n = 2_000
    links = [Link(i.to_bytes(4, "big"), False, []) for i in range(n)]
    links += [Link(i.to_bytes(4, "big"), True, [n - 1] if i == 0 else [n + i - 1]) for i in range(n)]
    links[n - 1] = Link(links[n - 1].actor, False, list(range(n - 1)))
    with pytest.raises(PackError, match="vouchers"):
        vouchers(links, {link.actor for link in links[:n]}, Budget(LIMITS.vouch_steps))
    honest = [Link(b"a", False, []),
              *(Link(b"ab"[i % 2:i % 2 + 1], i == 498, [i - 1]) for i in range(1, 500))]
    budget = Budget(LIMITS.vouch_steps)
    assert vouchers(honest, {b"a", b"b"}, budget)[0] == 498
    assert LIMITS.vouch_steps - budget.left < 5_000


def scanned_first(raw: bytes) -> list[Envelope]:
    """The reading `unpack` skips for a small pack: every bound scanned before anything is built."""
    try:
        return unpack_value(unpack_bounded(raw, PACK))
    except WireLimitError as exc:
        raise PackError(exc.detail) from None


def outcome(read: Callable[[bytes], list[Envelope]], raw: bytes) -> object:
    try:
        return [(e.doc_id, e.change, e.signer, e.signature, e.voucher and e.voucher.envelope)
                for e in read(raw)]
    except PackError as exc:
        return ("refused", str(exc))


RAW_PACK = msgpack.packb(pack_value(ledger_chain(new_key(), 12)[1]), use_bin_type=True)
DEEP = b"\x91" * 40 + b"\xc0"  # arrays in arrays, 40 deep


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.integers(0, len(RAW_PACK) - 1).map(lambda n: RAW_PACK[:n]),  # cut short
    st.tuples(st.integers(0, len(RAW_PACK) - 1), st.integers(0, 255)).map(
        lambda e: RAW_PACK[:e[0]] + bytes((e[1],)) + RAW_PACK[e[0] + 1:]),  # one byte changed
    st.sampled_from([DEEP, b"\x91\x92" + DEEP + b"\xc0", b"\x90", b"\x80", b"\x91\x80", RAW_PACK + b"\xc0"]),
    st.binary(max_size=64)))
def test_a_small_pack_read_at_once_fails_as_one_scanned_first(raw: bytes) -> None:
    assert outcome(_unpack_small, raw) == outcome(scanned_first, raw)
