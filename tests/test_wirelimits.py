"""Bounded msgpack decoding (federation/wirelimits.py): every bomb is refused before it is
built, whatever decoder it reaches (sync messages, envelopes, bundle and state frames), and
honest values at the bounds still decode; a push proves its sender (federation/identity.py)."""

from __future__ import annotations

import io
import struct
import tracemalloc

import msgpack
import pytest
from pnyx.federation.bundle import BundleError, BundleReader, decode_state
from pnyx.federation.envelope import decode_envelope
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.identity import check_sender, prove_sender
from pnyx.federation.syncmsg import ProtocolError, decode_request
from pnyx.federation.wirelimits import ENVELOPE, SYNC_MESSAGE, Limits, WireLimitError, unpack

from bench.attacks import bundle_header_bomb, nested_empty_arrays, state_file_bomb
from bench.corpus import new_key

SMALL = Limits(max_bytes=1000, max_objects=10, max_depth=2, max_bin=8, max_str=8, max_array=5,
               max_map=2)


@pytest.mark.parametrize("value", [
    [1, [2, 3]], {"a": [1, 2]}, b"12345678", "x" * 8, None, True, 1.5, -(1 << 63), (1 << 64) - 1,
])
def test_values_within_the_limits_decode(value: object) -> None:
    assert unpack(msgpack.packb(value), SMALL) == value


@pytest.mark.parametrize(("value", "detail"), [
    ([[[1]]], "nested deeper than 2"),
    (list(range(6)), "array of 6 items, at most 5"),
    ({"a": 1, "b": 2, "c": 3}, "map of 3 items, at most 2"),
    (b"123456789", "bin of 9 items, at most 8"),
    ("x" * 9, "str of 9 items, at most 8"),
    ([[1, 2, 3], [4, 5, 6], [7, 8]], "more than 10 msgpack objects"),
])
def test_values_over_a_limit_are_refused_as_oversized(value: object, detail: str) -> None:
    with pytest.raises(WireLimitError) as caught:
        unpack(msgpack.packb(value), SMALL)
    assert caught.value.code == "oversized" and caught.value.detail == detail


@pytest.mark.parametrize("data", [b"", b"\x92\x01", b"\xc1", b"\x91\xc4\x05ab", b"\x01\x02",
                                  b"\xc7\x01\x05x", b"\xd4\x01\x00"])
def test_bytes_that_are_not_one_value_are_malformed(data: bytes) -> None:
    with pytest.raises(WireLimitError) as caught:
        unpack(data, SMALL)
    assert caught.value.code in ("malformed-msgpack", "oversized")


def test_a_sync_body_of_nested_empty_arrays_is_refused_without_building_it() -> None:
    body = nested_empty_arrays()
    assert len(body) <= SYNC_MESSAGE.max_bytes
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError) as caught:
            decode_request(body)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.code == "oversized", caught.value
    assert peak < 1 << 20, f"decoding the refused body allocated {peak} bytes"


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_request(b"\x91" * 100_000 + b"\x90")
    assert caught.value.code == "oversized"


def test_an_envelope_within_its_bounds_only() -> None:
    assert ENVELOPE.max_objects == 5
    with pytest.raises(Rejected) as caught:
        decode_envelope(msgpack.packb(["ledger/x", b"c", [b"nested"], b"s"]))
    assert caught.value.reason is Reason.MALFORMED_ENVELOPE


@pytest.mark.parametrize("make", [bundle_header_bomb, state_file_bomb])
def test_bundle_and_state_bombs_are_damage_not_memory(make: object) -> None:
    data = make()  # type: ignore[operator]
    tracemalloc.start()
    try:
        with pytest.raises(BundleError) as caught:
            if data.startswith(b"PNYXSTAT"):
                decode_state(data)
            else:
                list(BundleReader(io.BytesIO(data)).records())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "msgpack objects" in str(caught.value)
    assert peak < len(data) + (4 << 20), f"{peak} bytes for a {len(data)}-byte file"


def test_a_push_proves_its_sender_for_one_responder_body_and_time() -> None:
    sender, responder, other = new_key(), new_key().public, new_key().public
    header = prove_sender(sender, responder, 1_000_000, b"body")
    assert check_sender(header, responder, b"body", 1_000_100) == sender.public
    for bad in [lambda: check_sender(header, other, b"body", 1_000_100),
                lambda: check_sender(header, responder, b"other body", 1_000_100),
                lambda: check_sender(header, responder, b"body", 1_000_301),
                lambda: check_sender("x.1.ab", responder, b"body", 1_000_000),
                lambda: check_sender(header + "0", responder, b"body", 1_000_000)]:
        with pytest.raises(Rejected) as caught:
            bad()
        assert caught.value.reason is Reason.BAD_IDENTITY


def test_map_lengths_count_keys_and_values() -> None:
    data = b"\xdf" + struct.pack(">I", 1 << 30)  # a map claiming a billion entries
    with pytest.raises(WireLimitError) as caught:
        unpack(data, SYNC_MESSAGE)
    assert caught.value.code == "oversized"
