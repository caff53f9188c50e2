"""The TXT data a daemon announces with `_pnyx._tcp.local.` (protocol-spec/discovery.md).

An announcement tells a neighbour which protocol the daemon speaks, which
device and assembly it claims to be, its port and the confederations it
serves. It only proposes an address: nothing here is trusted, signatures
decide later. TXT data arrives from anyone on the link, so decoding bounds the
size, ignores what it does not know and raises only `Rejected`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import Reason, Rejected
from .keys import KEY_BYTES, key_text, parse_key

SERVICE_TYPE = "_pnyx._tcp.local."
PROTOCOL_VERSION = 1
MAX_TXT_BYTES = 1300  # RFC 6763 §6.2: fits one packet; far below what resolvers lose
MAX_CONFEDERATIONS = 16
DEFAULT_REANNOUNCE_SECONDS = 30.0  # "Re-announcement": `pnyx run --mdns-reannounce`
CHARTER_HASH_BYTES = 32
_CONFED_KEY = re.compile(r"^c([0-9]{1,6})$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,4})$")


@dataclass(frozen=True)
class Announcement:
    """What a daemon says about itself on the local network."""

    device: bytes
    assembly: bytes
    port: int
    confederations: tuple[bytes, ...] = ()  # charter hashes, as in `charter/<hex>`
    version: int = PROTOCOL_VERSION


def encode_txt(ann: Announcement) -> bytes:
    """The TXT record data (length-prefixed `key=value` strings); ValueError if it cannot be announced."""
    if ann.version != PROTOCOL_VERSION:
        raise ValueError(f"only protocol version {PROTOCOL_VERSION} can be announced")
    if len(ann.device) != KEY_BYTES or len(ann.assembly) != KEY_BYTES:
        raise ValueError("device and assembly keys are 32 bytes")
    if not 0 < ann.port < 65536:
        raise ValueError(f"port {ann.port} out of range")
    if len(ann.confederations) > MAX_CONFEDERATIONS:
        raise ValueError(f"at most {MAX_CONFEDERATIONS} confederations can be announced, "
                         f"got {len(ann.confederations)}")
    if len(set(ann.confederations)) != len(ann.confederations):
        raise ValueError("a confederation is announced twice")
    if any(len(c) != CHARTER_HASH_BYTES for c in ann.confederations):
        raise ValueError("a confederation is named by its 32-byte charter hash")
    pairs = [("v", str(ann.version)), ("dk", key_text(ann.device)), ("ak", key_text(ann.assembly)),
             ("port", str(ann.port))]
    pairs += [(f"c{i}", charter.hex()) for i, charter in enumerate(ann.confederations)]
    out = bytearray()
    for key, value in pairs:
        item = f"{key}={value}".encode("ascii")
        out.append(len(item))
        out += item
    assert len(out) <= MAX_TXT_BYTES  # 16 confederations need about 1,200 bytes
    return bytes(out)


def txt_pairs(data: bytes) -> dict[str, bytes]:
    """Split TXT record data into keys (lowercased) and values, as RFC 6763 §6 reads them.

    The first occurrence of a key wins; strings without `=` (boolean
    attributes), with an empty key, or with a key that is not printable ASCII
    are skipped.
    """
    if len(data) > MAX_TXT_BYTES:
        raise Rejected(Reason.OVERSIZED, f"TXT data of {len(data)} bytes, limit {MAX_TXT_BYTES}")
    pairs: dict[str, bytes] = {}
    pos = 0
    while pos < len(data):
        end = pos + 1 + data[pos]
        if end > len(data):
            raise Rejected(Reason.BAD_ANNOUNCEMENT, "TXT string runs past the end of the record")
        item = data[pos + 1:end]
        pos = end
        key, sep, value = item.partition(b"=")
        if not sep or not key or any(b < 0x20 or b > 0x7E for b in key):
            continue
        pairs.setdefault(key.decode("ascii").lower(), value)
    return pairs


def decode_txt(data: bytes) -> Announcement:
    """Decode an announcement; raises only Rejected (OVERSIZED or BAD_ANNOUNCEMENT)."""
    pairs = txt_pairs(data)
    version = _decimal(pairs, "v")
    if version != PROTOCOL_VERSION:
        raise Rejected(Reason.BAD_ANNOUNCEMENT, f"unsupported protocol version {version}")
    port = _decimal(pairs, "port")
    if not 0 < port < 65536:
        raise Rejected(Reason.BAD_ANNOUNCEMENT, f"port {port} out of range")
    confederations: dict[int, bytes] = {}
    for key, value in pairs.items():
        match = _CONFED_KEY.match(key)
        if match is None:
            continue
        index = int(match[1])
        if index >= MAX_CONFEDERATIONS or str(index) != match[1]:
            raise Rejected(Reason.BAD_ANNOUNCEMENT,
                           f"{key}: confederations are c0 to c{MAX_CONFEDERATIONS - 1}")
        text = _ascii(value, key)
        if not _HEX64.match(text):
            raise Rejected(Reason.BAD_ANNOUNCEMENT, f"{key} is not a charter hash")
        confederations[index] = bytes.fromhex(text)
    ordered = tuple(dict.fromkeys(confederations[i] for i in sorted(confederations)))
    return Announcement(_key(pairs, "dk"), _key(pairs, "ak"), port, ordered, version)


def _ascii(value: bytes, key: str) -> str:
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise Rejected(Reason.BAD_ANNOUNCEMENT, f"{key} is not ASCII") from None


def _required(pairs: dict[str, bytes], key: str) -> str:
    if key not in pairs:
        raise Rejected(Reason.BAD_ANNOUNCEMENT, f"no {key}")
    return _ascii(pairs[key], key)


def _decimal(pairs: dict[str, bytes], key: str) -> int:
    text = _required(pairs, key)
    if not _DECIMAL.match(text):
        raise Rejected(Reason.BAD_ANNOUNCEMENT, f"{key} is not a decimal number: {text[:20]!r}")
    return int(text)


def _key(pairs: dict[str, bytes], key: str) -> bytes:
    try:
        return parse_key(_required(pairs, key))
    except ValueError as exc:
        raise Rejected(Reason.BAD_ANNOUNCEMENT, f"{key}: {exc}") from None
