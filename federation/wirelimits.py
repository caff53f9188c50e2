"""Bounded msgpack decoding: every msgpack value from a peer or a file is decoded here.

msgpack's own options bound each string, bin, array and map, but not how many
objects one value builds in all, nor how deep they nest: 8 MiB of one-byte
empty arrays (`0x90`) inside arrays of the largest allowed length builds eight
million lists, about 600 MB. So `unpack` first walks the bytes without
building anything, counting objects and open containers, and stops at the
first limit crossed, after at most `max_objects` steps; only a value within
every limit is then built by msgpack, with its per-item limits set from the
same `Limits`. What each format allows is named beside it: `SYNC_MESSAGE` and `PACK`
(protocol-spec/sync.md), `ENVELOPE` (changes.md), `BUNDLE_META` (bundles.md).
`LIMITS` holds the sync protocol's other bounds (prefixes, vectors, replies,
a descent), so that every bound a sync decoder applies is in this one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from .chunk import MAX_CHUNK_BYTES

__all__ = ["BUNDLE_META", "ENVELOPE", "LIMITS", "PACK", "SYNC_MESSAGE", "Limits", "WireLimitError",
           "WireLimits", "unpack"]


class WireLimitError(ValueError):
    """Bytes that are not one msgpack value within the limits. `code` is "oversized" when a
    limit was crossed, "malformed-msgpack" when the bytes are not msgpack at all."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """Upper bounds for one decoded value; every count is inclusive."""

    max_bytes: int
    max_objects: int  # every value, containers and map keys included
    max_depth: int  # containers open at once
    max_bin: int
    max_str: int
    max_array: int
    max_map: int  # entries (key-value pairs)


# An envelope is [doc id, change, signer, signature].
ENVELOPE = Limits(max_bytes=MAX_CHUNK_BYTES + 512, max_objects=5, max_depth=1,
                  max_bin=MAX_CHUNK_BYTES, max_str=1024, max_array=4, max_map=0)
# A sync message: a map whose deepest field is a vector entry, e.g. nodes: [[prefix, doc, digest,
# [[actor, seq], ...]], ...] (depth 5). 400,000 objects cover every honest message (the nodes of
# a 1 MiB reply are under 70,000; the wants of 20,000 documents with 5 actors each 360,000) and
# cost at most about 30 MB to build. A bin may be as long as the body: a pack is one bin.
SYNC_MESSAGE = Limits(max_bytes=8 << 20, max_objects=400_000, max_depth=6,
                      max_bin=8 << 20, max_str=MAX_CHUNK_BYTES, max_array=200_000,
                      max_map=16)
# A pack once inflated: [[doc, [[deps, rest, signature], ...]], ...] (depth 5), at most 20,000
# changes of a few deps each.
PACK = Limits(max_bytes=32 << 20, max_objects=400_000, max_depth=5, max_bin=MAX_CHUNK_BYTES,
              max_str=1024, max_array=20_000, max_map=0)
# A bundle's header or trailer, or a state file's state: the same vectors, a little deeper;
# 16 MiB holds 600,000 objects of vectors, and a frame is read whole before it is decoded.
BUNDLE_META = Limits(max_bytes=16 << 20, max_objects=600_000, max_depth=8, max_bin=1 << 16,
                     max_str=1 << 16, max_array=200_000, max_map=16)

# Fixed extra bytes after the type byte for scalars: ints, floats, and the ext type byte.
_FIXED = {0xca: 4, 0xcb: 8, 0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8,
          0xd4: 2, 0xd5: 3, 0xd6: 5, 0xd7: 9, 0xd8: 17}
# Types followed by a big-endian length of this many bytes: (size of length, kind).
_SIZED = {0xc4: (1, "bin"), 0xc5: (2, "bin"), 0xc6: (4, "bin"), 0xc7: (1, "ext"), 0xc8: (2, "ext"),
          0xc9: (4, "ext"), 0xd9: (1, "str"), 0xda: (2, "str"), 0xdb: (4, "str"),
          0xdc: (2, "array"), 0xdd: (4, "array"), 0xde: (2, "map"), 0xdf: (4, "map")}


def unpack(data: bytes, limits: Limits) -> Any:
    """The one msgpack value `data` holds (maps with string keys; no ext types).

    Raises only WireLimitError, before building anything when a limit is crossed."""
    if len(data) > limits.max_bytes:
        raise WireLimitError("oversized", f"{len(data)} bytes, at most {limits.max_bytes}")
    _scan(data, limits)
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=True, max_bin_len=limits.max_bin,
                               max_str_len=limits.max_str, max_array_len=limits.max_array,
                               max_map_len=limits.max_map, max_ext_len=0)
    except Exception as exc:  # msgpack raises many unrelated types for bad input
        raise WireLimitError("malformed-msgpack", f"not one msgpack value: {type(exc).__name__}") from None


def _scan(data: bytes, limits: Limits) -> None:
    """Walk the value's headers, skipping payloads, to count objects and depth."""
    end = len(data)
    pos = objects = 0
    open_counts: list[int] = []  # values still to read in each enclosing container
    remaining = 1
    while True:
        if remaining == 0:
            if not open_counts:
                return
            remaining = open_counts.pop()
            continue
        if pos >= end:
            raise WireLimitError("malformed-msgpack", "the value is cut short")
        byte = data[pos]
        pos += 1
        remaining -= 1
        objects += 1
        if objects > limits.max_objects:
            raise WireLimitError("oversized", f"more than {limits.max_objects} msgpack objects")
        if byte <= 0x7f or byte >= 0xe0 or 0xc0 <= byte <= 0xc3:
            continue  # fixint, nil, true, false (0xc1 is refused by msgpack itself)
        if byte <= 0x8f:
            kind, count = "map", byte & 0x0f
        elif byte <= 0x9f:
            kind, count = "array", byte & 0x0f
        elif byte <= 0xbf:
            kind, count = "str", byte & 0x1f
        elif byte in _FIXED:
            pos += _FIXED[byte]
            continue
        else:
            size, kind = _SIZED[byte]
            count = int.from_bytes(data[pos:pos + size], "big")
            pos += size + (1 if kind == "ext" else 0)
        if kind in ("bin", "str", "ext"):
            _bounded(kind, count, {"bin": limits.max_bin, "str": limits.max_str, "ext": 0}[kind])
            pos += count
            continue
        _bounded(kind, count, limits.max_array if kind == "array" else limits.max_map)
        if count:
            open_counts.append(remaining)
            if len(open_counts) > limits.max_depth:
                raise WireLimitError("oversized", f"nested deeper than {limits.max_depth}")
            remaining = count * 2 if kind == "map" else count


def _bounded(kind: str, count: int, limit: int) -> None:
    if count > limit:
        raise WireLimitError("oversized", f"{kind} of {count} items, at most {limit}")


@dataclass(frozen=True)
class WireLimits:
    """The sync protocol's bounds beyond msgpack's (protocol-spec/sync.md, "Bounds")."""

    url_chars: int = 512
    reasons: int = 16  # distinct rejection reasons reported in `pushed`
    pack_changes: int = PACK.max_array  # changes in one pack
    vouch_steps: int = 4_000_000  # (actor, dep) steps finding the vouchers of one pack
    prefixes: int = 1024  # prefixes in one `descend`
    scopes: int = 64  # scopes named in one `hello` or `roots`
    nodes_reply_bytes: int = 1 << 20  # a `nodes` reply stops answering once this big
    descent_nodes: int = 4_000_000  # tree nodes one exchange may be told about (about 2 per document)
    actors: int = 100_000  # actors in one vector


LIMITS = WireLimits()
