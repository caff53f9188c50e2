"""Every bound a sync or bundle decoder applies, in one place (protocol-spec/sync.md, "Bounds").

A peer, a file or a client must not be able to make the daemon hold or
compute more than these before it is refused; decoders read them from here
and nowhere else, so a stricter policy (or a per-peer charge) changes one
table, not every parser.
"""

from __future__ import annotations

from dataclasses import dataclass

from .chunk import MAX_CHUNK_BYTES


@dataclass(frozen=True)
class WireLimits:
    body_bytes: int = 8 << 20  # one request or reply body
    bin_bytes: int = MAX_CHUNK_BYTES  # one msgpack bin or str value
    items: int = 200_000  # one msgpack array
    map_entries: int = 16  # one msgpack map (messages are small maps)
    url_chars: int = 512
    reasons: int = 16  # distinct rejection reasons reported in `pushed`
    pack_bytes: int = 32 << 20  # a compressed batch once inflated
    pack_changes: int = 20_000  # changes in one batch
    prefixes: int = 1024  # prefixes in one `descend`
    nodes_reply_bytes: int = 1 << 20  # a `nodes` reply stops answering once this big
    descent_nodes: int = 4_000_000  # tree nodes one exchange may be told about (about 2 per document)
    actors: int = 100_000  # actors in one vector


LIMITS = WireLimits()
