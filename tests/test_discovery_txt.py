"""The announcement TXT codec against protocol-spec/vectors/discovery.json, and fuzzed garbage."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pnyx.federation.discovery_txt import (
    MAX_CONFEDERATIONS,
    MAX_TXT_BYTES,
    Announcement,
    decode_txt,
    encode_txt,
)
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.keys import parse_key

VECTORS = json.loads((Path(__file__).parent.parent / "protocol-spec/vectors/discovery.json").read_text())


def announcement(fields: dict[str, Any]) -> Announcement:
    return Announcement(parse_key(fields["device"]), parse_key(fields["assembly"]), fields["port"],
                        tuple(bytes.fromhex(c) for c in fields["confederations"]), fields["version"])


@pytest.mark.parametrize("vector", VECTORS["valid"], ids=lambda v: v["name"])
def test_valid_vectors_decode_and_encoder_output_matches(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["txt_hex"])
    expected = announcement(vector["announcement"])
    assert decode_txt(data) == expected
    assert (encode_txt(expected) == data) is vector["encoder_output"]


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_invalid_vectors_are_refused_with_their_reason(vector: dict[str, Any]) -> None:
    with pytest.raises(Rejected) as info:
        decode_txt(bytes.fromhex(vector["txt_hex"]))
    assert info.value.reason.value == vector["reason"]


keys = st.binary(min_size=32, max_size=32)
announcements = st.builds(
    Announcement, keys, keys, st.integers(1, 65535),
    st.lists(keys, max_size=MAX_CONFEDERATIONS, unique=True).map(tuple))


@given(announcements)
def test_every_announcement_round_trips_within_the_size_limit(ann: Announcement) -> None:
    data = encode_txt(ann)
    assert len(data) <= MAX_TXT_BYTES
    assert decode_txt(data) == ann


@given(st.binary(max_size=2000))
def test_garbage_is_refused_only_with_rejected(data: bytes) -> None:
    try:
        decode_txt(data)
    except Rejected as exc:
        assert exc.reason in (Reason.OVERSIZED, Reason.BAD_ANNOUNCEMENT)


@given(announcements, st.integers(0, 1300), st.integers(0, 255))
def test_corrupted_announcements_decode_or_are_rejected(ann: Announcement, pos: int, byte: int) -> None:
    data = bytearray(encode_txt(ann))
    data[pos % len(data)] = byte
    with contextlib.suppress(Rejected):
        decode_txt(bytes(data))


@pytest.mark.parametrize("bad, message", [
    (Announcement(b"k" * 32, b"a" * 32, 7464, tuple(bytes([i]) * 32 for i in range(17))), "at most 16"),
    (Announcement(b"k" * 32, b"a" * 32, 7464, (b"c" * 32, b"c" * 32)), "twice"),
    (Announcement(b"k" * 32, b"a" * 32, 0), "out of range"),
    (Announcement(b"k" * 31, b"a" * 32, 7464), "32 bytes"),
    (Announcement(b"k" * 32, b"a" * 32, 7464, (b"short",)), "charter hash"),
])
def test_encoder_refuses_what_cannot_be_announced(bad: Announcement, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_txt(bad)
