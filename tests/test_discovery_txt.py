"""The announcement TXT codec against protocol-spec/vectors/discovery.json, and fuzzed garbage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pnyx.federation.discovery_txt import (
    MAX_CONFEDERATIONS,
    MAX_TXT_BYTES,
    Announcement,
    decode_txt,
    encode_txt,
)
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.keys import key_text, parse_key

from .funnel import Funnel

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
def test_random_bytes_are_refused_only_with_rejected(data: bytes) -> None:
    with pytest.raises(Rejected) as info:  # no version, port and keys in junk
        decode_txt(data)
    assert info.value.reason in (Reason.OVERSIZED, Reason.BAD_ANNOUNCEMENT)


def txt(items: list[bytes]) -> bytes:
    return b"".join(bytes([len(item)]) + item for item in items)


FIELD_VALUES = {
    "v": st.sampled_from([b"1", b"1", b"2", b"01", b"x"]),
    "port": st.sampled_from([b"7464", b"1", b"65535", b"0", b"65536", b"+5", b""]),
    "dk": keys.map(lambda k: key_text(k).encode()) | st.binary(max_size=60),
    "ak": keys.map(lambda k: key_text(k).encode()) | st.binary(max_size=60),
    **{f"c{i}": keys.map(lambda k: k.hex().encode()) | st.binary(max_size=70) for i in (0, 1, 15, 16)},
}
garbage_items = st.one_of(
    st.sampled_from(sorted(FIELD_VALUES)).flatmap(
        lambda key: st.tuples(st.sampled_from([key, key.upper()]), FIELD_VALUES[key]).map(
            lambda kv: kv[0].encode() + b"=" + kv[1])),
    st.binary(max_size=20))  # unknown keys, boolean attributes, junk


def test_structured_garbage_decodes_to_its_first_fields_or_is_refused() -> None:
    """TXT strings of known and unknown keys with good and bad values: whatever decodes
    carries the first occurrence of each key (case folded), re-encodes to the same
    announcement, and a good share of the inputs decode."""
    funnel = Funnel()

    @settings(max_examples=400)
    @given(st.lists(garbage_items, max_size=12).map(lambda items: sorted(items, key=len, reverse=True)),
           st.permutations(range(4)))
    def run(extra: list[bytes], order: list[int]) -> None:
        required = [b"v=1", b"port=7464", b"dk=" + key_text(b"d" * 32).encode(),
                    b"ak=" + key_text(b"a" * 32).encode()]
        items = [item for item in extra if len(item) < 256] + [required[i] for i in order]
        funnel.saw("input")
        try:
            ann = decode_txt(txt(items))
        except Rejected as exc:
            assert exc.reason in (Reason.OVERSIZED, Reason.BAD_ANNOUNCEMENT)
            return
        funnel.saw("decoded")
        first: dict[str, bytes] = {}
        for item in items:
            key, sep, value = item.partition(b"=")
            if sep and key and key.isascii() and key.decode().isprintable():
                first.setdefault(key.decode().lower(), value)
        assert (ann.version, ann.port) == (int(first["v"]), int(first["port"]))
        assert (key_text(ann.device), key_text(ann.assembly)) == (first["dk"].decode(), first["ak"].decode())
        assert set(ann.confederations) == {bytes.fromhex(first[k].decode()) for k in first
                                           if k in ("c0", "c1", "c15")}
        assert decode_txt(encode_txt(ann)) == ann

    run()
    funnel.assert_share("decoded", 0.15)


HEX = b"0123456789abcdef"
BASE32 = b"abcdefghijklmnopqrstuvwxyz234567"


def test_one_corrupted_byte_changes_at_most_one_field() -> None:
    """A byte of a valid announcement replaced, often by one of the same kind (a hex digit
    in a charter hash, a base32 letter in a key, a digit in the port): what still decodes
    differs from the original in at most that one field, and is itself announceable."""
    funnel = Funnel()

    @settings(max_examples=400)
    @given(announcements, st.integers(0, 1300), st.integers(0, 255), st.booleans())
    def run(ann: Announcement, pos: int, byte: int, same_kind: bool) -> None:
        data = bytearray(encode_txt(ann))
        at = pos % len(data)
        if same_kind:
            alphabet = next((a for a in (b"0123456789", HEX, BASE32) if data[at] in a), None)
            byte = alphabet[byte % len(alphabet)] if alphabet else byte
        data[at] = byte
        funnel.saw("input")
        try:
            got = decode_txt(bytes(data))
        except Rejected as exc:
            assert exc.reason is Reason.BAD_ANNOUNCEMENT
            return
        funnel.saw("decoded")
        changed = [name for name in ("device", "assembly", "port", "confederations")
                   if getattr(got, name) != getattr(ann, name)]
        assert len(changed) <= 1, changed
        assert decode_txt(encode_txt(got)) == got

    run()
    funnel.assert_share("decoded", 0.15)


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
