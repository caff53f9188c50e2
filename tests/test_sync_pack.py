"""Packs (federation/changepack.py): what they drop comes back exactly, and what a sender could
abuse (a decompression bomb, a lying back-reference) is refused or fails verification."""

from __future__ import annotations

import zlib

import msgpack
import pytest
from pnyx.federation.changepack import PackError, pack, split_chunk, unpack
from pnyx.federation.envelope import check_envelope
from pnyx.federation.errors import Rejected
from pnyx.federation.wirelimits import PACK

from bench.corpus import ledger_chain, new_key


def test_a_pack_gives_back_the_exact_envelopes_and_is_smaller() -> None:
    envelopes = [e for _ in range(3) for e in ledger_chain(new_key(), 50)[1]]
    interleaved = envelopes[::2] + envelopes[1::2]  # documents mixed: regrouped, order kept per doc
    data = pack(interleaved)
    back = unpack(data)
    assert sorted(back, key=envelopes.index) == envelopes
    for doc in {e.doc_id for e in envelopes}:
        assert [e for e in back if e.doc_id == doc] == [e for e in interleaved if e.doc_id == doc]
    assert len(data) < 0.5 * sum(len(e.encode()) for e in envelopes)


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
