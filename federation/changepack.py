"""Batches of signed changes as sync carries them: grouped, stripped, compressed (sync.md, "Packs").

An envelope `(doc_id, change, signer, signature)` repeats what a batch need
not: the doc id is the same for all changes of a document, the signer is the
first 32 bytes of the change's actor id (changes.md requires it), the chunk
header (magic, checksum, type, length) follows from the body, and a change's
deps are, in a chain, the hashes of changes sent just before it, which the
receiver computes anyway. A pack therefore holds, per document, entries
`[deps, rest, signature]`, where each dep is either a 32-byte hash or the index
of an earlier change in the pack, and `rest` is the chunk body after its deps;
the whole is raw-deflated. The receiver rebuilds the canonical chunk exactly
and verifies it like any envelope: a sender that lies about a back-reference
only produces a chunk whose signature fails.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable
from typing import Any

import msgpack

from .chunk import CHANGE_CHUNK, HASH_BYTES, MAGIC, MAX_CHUNK_BYTES, Reader, encode_uleb
from .envelope import Envelope
from .errors import Rejected
from .keys import KEY_BYTES, SIGNATURE_BYTES
from .wirelimits import LIMITS, PACK, WireLimitError
from .wirelimits import unpack as unpack_bounded

COMPRESSION_LEVEL = 1  # as small as 6 on packs of changes (measured), and faster
_TYPE = bytes((CHANGE_CHUNK,))


class PackError(Exception):
    """A pack that breaks the format (not one bad change: those are rejected at ingest)."""


def split_chunk(raw: bytes) -> tuple[tuple[bytes, ...], bytes]:
    """A canonical (type 1) chunk as its deps and the body after them."""
    if raw[8] != CHANGE_CHUNK:
        raise ValueError("only canonical (type 1) chunks are packed")
    pos = _skip_uleb(raw, 9)
    count, start = _read_uleb(raw, pos)
    end = start + HASH_BYTES * count
    if end > len(raw):
        raise ValueError("deps run past the chunk")
    return tuple(raw[i:i + HASH_BYTES] for i in range(start, end, HASH_BYTES)), raw[end:]


def _read_uleb(data: bytes, pos: int) -> tuple[int, int]:
    """A uLEB128 at `pos` and the position after it (one-byte values, the usual case, fast)."""
    if data[pos] < 0x80:
        return data[pos], pos + 1
    r = Reader(data, pos=pos)
    value = r.uleb()
    return value, r.pos


def _skip_uleb(data: bytes, pos: int) -> int:
    return _read_uleb(data, pos)[1]


def _uleb(n: int) -> bytes:
    return bytes((n,)) if n < 0x80 else encode_uleb(n)


def actor_and_seq(raw: bytes) -> tuple[bytes, int]:
    """The actor and seq in a canonical chunk's body, read without checking the rest (what an
    initiator needs to know how far a pull has come); raises Rejected."""
    r = Reader(raw, pos=9)
    r.uleb()
    r.take(HASH_BYTES * r.count(HASH_BYTES, "deps"))
    actor = r.take(r.uleb())
    return actor, r.uleb()


def join_chunk(deps: list[bytes], rest: bytes) -> tuple[bytes, bytes]:
    """The canonical chunk with these deps and body rest, and its hash."""
    body = _uleb(len(deps)) + b"".join(deps) + rest
    hashed = _TYPE + _uleb(len(body)) + body
    digest = hashlib.sha256(hashed).digest()
    return MAGIC + digest[:4] + hashed, digest


def pack(envelopes: Iterable[Envelope]) -> bytes:
    """Group `envelopes` by document (documents in order of first appearance, each document's
    changes in the order given) and compress. Every change must be canonical."""
    groups: dict[str, list[Envelope]] = {}
    for e in envelopes:
        groups.setdefault(e.doc_id, []).append(e)
    order: dict[bytes, int] = {}  # change hash -> its index in the pack
    out = []
    for doc, members in groups.items():
        entries = []
        for e in members:
            deps, rest = split_chunk(e.change)
            entries.append([[order.get(d, d) for d in deps], rest, e.signature])
            order[hashlib.sha256(memoryview(e.change)[8:]).digest()] = len(order)
        out.append([doc, entries])
    return _deflate(out)


def _deflate(value: Any) -> bytes:
    compressor = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, -15)
    return compressor.compress(msgpack.packb(value, use_bin_type=True)) + compressor.flush()


def unpack(data: bytes) -> list[Envelope]:
    """The envelopes of a pack, canonical chunks rebuilt; raises PackError."""
    inflater = zlib.decompressobj(-15)
    try:
        raw = inflater.decompress(data, PACK.max_bytes + 1)
    except zlib.error as exc:
        raise PackError(f"bad deflate data: {exc}") from None
    if len(raw) > PACK.max_bytes or inflater.unconsumed_tail:
        raise PackError(f"a pack inflates to over {PACK.max_bytes} bytes")
    if not inflater.eof or inflater.unused_data:
        raise PackError("deflate stream incomplete or followed by junk")
    try:
        groups = unpack_bounded(raw, PACK)
    except WireLimitError as exc:
        raise PackError(exc.detail) from None
    return list(_envelopes(groups))


def _envelopes(groups: Any) -> Iterable[Envelope]:
    hashes: list[bytes] = []
    for group in _array(groups, "a pack"):
        doc, entries = _array(group, "a group", 2)
        if not isinstance(doc, str):
            raise PackError("a group's doc id is a string")
        for entry in _array(entries, "a group's changes"):
            refs, rest, signature = _array(entry, "a change", 3)
            if not isinstance(rest, bytes) or not isinstance(signature, bytes) \
                    or len(signature) != SIGNATURE_BYTES:
                raise PackError("a change is [deps, bytes, 64-byte signature]")
            deps = [_dep(r, hashes) for r in _array(refs, "deps")]
            chunk, digest = join_chunk(deps, rest)
            if len(chunk) > MAX_CHUNK_BYTES:
                raise PackError(f"a change of over {MAX_CHUNK_BYTES} bytes")
            hashes.append(digest)
            yield Envelope(doc, chunk, _signer(rest), signature)
            if len(hashes) > LIMITS.pack_changes:
                raise PackError(f"over {LIMITS.pack_changes} changes in a pack")


def _array(value: Any, what: str, size: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (size is not None and len(value) != size):
        raise PackError(f"{what} is an array" + (f" of {size}" if size else ""))
    return value


def _dep(ref: Any, hashes: list[bytes]) -> bytes:
    if isinstance(ref, bytes) and len(ref) == HASH_BYTES:
        return ref
    if isinstance(ref, int) and not isinstance(ref, bool) and 0 <= ref < len(hashes):
        return hashes[ref]
    raise PackError("a dep is a 32-byte hash or the index of an earlier change in the pack")


def _signer(rest: bytes) -> bytes:
    """The first 32 bytes of the actor id, which opens the body after the deps. A change
    whose actor is shorter gets a short signer, and ingest rejects it (actor-not-signer)."""
    try:
        length, start = _read_uleb(rest, 0)
    except (Rejected, IndexError):
        return b""
    return rest[start:start + min(length, KEY_BYTES)]
