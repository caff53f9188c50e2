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
from dataclasses import dataclass
from typing import Any, Final

import msgpack

from .chunk import CHANGE_CHUNK, HASH_BYTES, MAGIC, MAX_CHUNK_BYTES, encode_uleb
from .columns import BYTES, Reader
from .envelope import ACTOR_BYTES, Envelope, Voucher
from .errors import Rejected
from .evidence import VouchGroup
from .frozen import Frozen
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


SHA256: Final = hashlib.sha256  # looked up once, not in hashlib's module dict per chunk


# uLEB128s of a byte or two from columns.BYTES: compiled, `bytes((n,))` is a generic call of the
# bytes type (about 0.7k instructions with encode_uleb's bytearray for a body's length,
# measured); a body of under 16 kB takes two bytes of the table (join_chunk).
def _uleb(n: int) -> bytes:
    return BYTES[n] if n < 0x80 else encode_uleb(n)


def actor_and_seq(raw: bytes) -> tuple[bytes, int]:
    """The actor and seq in a canonical chunk's body, read without checking the rest (what an
    initiator needs to know how far a pull has come); raises Rejected."""
    r = Reader(raw, pos=9)
    r.uleb()
    r.take(HASH_BYTES * r.count(HASH_BYTES, "deps"))
    actor = r.take(r.uleb())
    return actor, r.uleb()


def join_chunk(deps: list[bytes], rest: bytes) -> tuple[bytes, bytes]:
    """The canonical chunk with these deps and body rest, and its hash. What is hashed is
    joined at once, and so is the chunk: each `+` copied all before it (with the lengths from
    the tables, 23.5k -> 21k instructions a change, measured)."""
    count = _uleb(len(deps))
    joined = b"".join(deps)
    size = len(count) + len(joined) + len(rest)
    if 0x80 <= size < 0x4000:
        hashed = b"".join((_TYPE, BYTES[size & 0x7F | 0x80], BYTES[size >> 7], count, joined, rest))
    else:
        hashed = b"".join((_TYPE, _uleb(size), count, joined, rest))
    digest = SHA256(hashed).digest()
    return b"".join((MAGIC, digest[:4], hashed)), digest


# An envelope beside its chunk as a pack carries it: the deps, the body after them, and the
# chunk's hash.
Piece = tuple[Envelope, tuple[bytes, ...], bytes, bytes]


def canonical_piece(envelope: Envelope) -> Piece | None:
    """The envelope as a pack carries it, when its chunk is exactly what a receiver rebuilds
    from its deps and body (checksum and header included); None when a pack cannot carry it
    without changing a byte. Its hash is computed once, here."""
    try:
        deps, rest = split_chunk(envelope.change)
        chunk, digest = join_chunk(list(deps), rest)
    except (ValueError, IndexError, Rejected):
        return None
    return (envelope, deps, rest, digest) if chunk == envelope.change else None


def pack(envelopes: Iterable[Envelope]) -> bytes:
    """Group `envelopes` by document (documents in order of first appearance, each document's
    changes in the order given) and compress. Every change must be canonical."""
    return _deflate(pack_value(envelopes))


def pack_value(envelopes: Iterable[Envelope]) -> list[Any]:
    """The msgpack value of a pack, before deflate. Only the changes that vouch for the others
    of their actor in their group keep their signature; a change without a signature whose
    voucher is attached (Envelope.voucher) and not in its group gets it added at the group's
    end, and one with neither goes without (its receiver refuses it: `unvouched`)."""
    order: dict[bytes, int] = {}  # change hash -> the index in the pack of its last copy
    taken = 0  # changes in the pack so far (a change sent twice, as evidence may be, counts twice)
    out = []
    for doc, members in _grouped(map(_piece, envelopes)).items():
        entries: list[list[Any]] = []
        for (e, deps, rest, digest), link in zip(members, _carried(_links(members)[0]), strict=True):
            entries.append([[order.get(d, d) for d in deps], rest, e.signature if link.signed else None])
            order[digest] = taken
            taken += 1
        out.append([doc, entries])
    return out


def received(pieces: Iterable[Piece]) -> list[Envelope]:
    """What the receiver of a pack of these canonical changes gets, `unpack_value(pack_value(
    ...))`, found without building the pack (`pnyx verify` replays its store this way): the
    same groups, the same links, the same vouchers and the same chunks, the signer taken from
    the actor as a pack does, and the same bound on finding vouchers; only the bounds on a
    pack's size are not applied (tests/test_replay.py checks that both ways agree)."""
    out: list[Envelope] = []
    budget = Budget(LIMITS.vouch_steps)
    for doc, members in _grouped(pieces).items():
        found, position = _links(members)
        links = _carried(found)
        built = [(e.change, link.actor[:KEY_BYTES], e.signature if link.signed else None)
                 for (e, _, _, _), link in zip(members, links, strict=True)]
        out += _received(doc, built, [digest for _, _, _, digest in members], links, position, budget)
    return out


def _hash(chunk: bytes) -> bytes:
    return SHA256(memoryview(chunk)[8:]).digest()


def _piece(envelope: Envelope) -> Piece:
    """A canonical change as a pack carries it (ValueError when it is not of type 1)."""
    deps, rest = split_chunk(envelope.change)
    return envelope, deps, rest, _hash(envelope.change)


def _grouped(pieces: Iterable[Piece]) -> dict[str, list[Piece]]:
    """The changes by document (in order of first appearance, each document's changes in the
    order given), each group followed by the attached vouchers it does not hold."""
    groups: dict[str, list[Piece]] = {}
    for piece in pieces:
        groups.setdefault(piece[0].doc_id, []).append(piece)
    return {doc: _with_vouchers(members) for doc, members in groups.items()}


def _with_vouchers(members: list[Piece]) -> list[Piece]:
    """A group's changes, then the attached vouchers the group does not hold, each as its
    receiver rebuilds it from its deps and body."""
    attached = {id(e.voucher): e.voucher.envelope for e, _, _, _ in members if e.voucher is not None}
    if not attached:
        return members
    held = {digest for _, _, _, digest in members}
    extra: list[Piece] = []
    for voucher in attached.values():
        e, deps, rest, digest = _piece(voucher)
        if digest not in held:  # carried rebuilt: with the rebuilt chunk's hash
            chunk, rebuilt = join_chunk(list(deps), rest)
            extra.append((Envelope(e.doc_id, chunk, e.signer, e.signature), deps, rest, rebuilt))
    return members + extra


def _links(members: list[Piece]) -> tuple[list[Link], dict[bytes, int]]:
    """Each change of a group as vouching sees it, and each hash's (last) position in it."""
    position: dict[bytes, int] = {}
    links: list[Link] = []
    for e, deps, rest, digest in members:
        links.append(Link(_actor(rest), bool(e.signature), [position[d] for d in deps if d in position]))
        position[digest] = len(links) - 1
    return links, position


def _carried(links: list[Link]) -> list[Link]:
    """The group's links as its pack carries them: a signed change keeps its signature only
    when no later signed change of its actor in the group vouches for it."""
    return [link if not link.signed or at is None else Link(link.actor, False, link.deps)
            for link, at in zip(links, vouchers(links), strict=True)]


class Link(Frozen):
    """One change of a group as vouching sees it: its actor, whether it is signed, and the
    positions in the group of those of its deps that are in the group."""

    FIELDS = ("actor", "signed", "deps")

    def __init__(self, actor: bytes, signed: bool, deps: list[int]) -> None:
        self.actor: Final = actor
        self.signed: Final = signed
        self.deps: Final = deps


@dataclass
class Budget:
    """Steps left for finding vouchers in one pack, whatever its groups."""

    left: int


def vouchers(links: list[Link], needed: set[bytes] | None = None,
             budget: Budget | None = None) -> list[int | None]:
    """For each change of a group, the position of its voucher: the first signed change of the
    same actor after it in the group whose deps reach it through changes of the group (None
    if there is none). The first, not the last: evidence sent at a batch's end (a twin of a
    chain's change) then never vouches where the chain's own head does. Computed backwards:
    each change hands on, per actor, the first signed change that reaches it, so the cost is
    (changes x actors x deps), not quadratic. Only the actors in `needed` are followed (all
    without it); past the `budget`, PackError: a pack whose actors and deps are made to cost
    more than any honest one is refused."""
    # None for a change nothing reaches yet, not an empty dict for each (of every change of
    # every pack); a label handed to a change nothing reached is copied at once
    reach: list[dict[bytes, int] | None] = [None] * len(links)
    for i in range(len(links) - 1, -1, -1):
        link = links[i]
        label = reach[i]
        if link.signed and (needed is None or link.actor in needed):
            label = {link.actor: i} if label is None else {**label, link.actor: i}
        if not label:
            continue
        if budget is not None:
            budget.left -= len(label) * (len(link.deps) + 1)
            if budget.left < 0:
                raise PackError(f"finding a pack's vouchers takes over {LIMITS.vouch_steps} steps")
        for d in link.deps:
            target = reach[d]
            if target is None:
                reach[d] = label.copy()
                continue
            for actor, at in label.items():
                if target.get(actor, at + 1) > at:
                    target[actor] = at
    out: list[int | None] = []
    for i, link in enumerate(links):
        found = reach[i]
        out.append(found.get(link.actor) if found is not None else None)
    return out


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
    if len(raw) > PACK.max_objects:
        try:
            return unpack_value(unpack_bounded(raw, PACK))
        except WireLimitError as exc:
            raise PackError(exc.detail) from None
    return _unpack_small(raw)


def _unpack_small(raw: bytes) -> list[Envelope]:
    """`unpack` of a pack of at most PACK.max_objects bytes, which cannot hold more values than
    that (each takes a byte at least): it is built at once, and its bounds are scanned only if
    building or reading it fails, so that it fails as `unpack_bounded` would have (the bounds
    first). A pack read whole is never deeper than PACK allows: anything under a dep, a doc id,
    a body or a signature fails the reading. Measured: the scan was 1.1 of 5.4 ms for a pack
    of 500 changes."""
    try:
        groups = msgpack.unpackb(raw, raw=False, strict_map_key=True, max_bin_len=PACK.max_bin,
                                 max_str_len=PACK.max_str, max_array_len=PACK.max_array,
                                 max_map_len=PACK.max_map, max_ext_len=0)
        return unpack_value(groups)
    except Exception:  # msgpack raises many unrelated types for bad input
        try:
            unpack_bounded(raw, PACK)
        except WireLimitError as exc:
            raise PackError(exc.detail) from None
        raise


def unpack_value(groups: Any) -> list[Envelope]:
    """The envelopes of a pack's msgpack value: each change without a signature gets its
    voucher (Envelope.voucher) when the group has one, computed on the rebuilt hashes."""
    hashes: list[bytes] = []
    out: list[Envelope] = []
    budget = Budget(LIMITS.vouch_steps)
    most = LIMITS.pack_changes  # read once: an attribute of a Python object
    for group in _array(groups, "a pack"):
        doc, entries = _array(group, "a group", 2)
        if not isinstance(doc, str):
            raise PackError("a group's doc id is a string")
        position: dict[bytes, int] = {}  # hash -> position in this group
        built: list[tuple[bytes, bytes, bytes | None]] = []  # chunk, signer, signature
        digests: list[bytes] = []  # each chunk's hash, as join_chunk computed it
        links: list[Link] = []
        for entry in _array(entries, "a group's changes"):
            refs, rest, signature = _array(entry, "a change", 3)
            if not isinstance(rest, bytes) or not (signature is None or (
                    isinstance(signature, bytes) and len(signature) == SIGNATURE_BYTES)):
                raise PackError("a change is [deps, bytes, 64-byte signature or nil]")
            deps = [_dep(r, hashes) for r in _array(refs, "deps")]
            chunk, digest = join_chunk(deps, rest)
            if len(chunk) > MAX_CHUNK_BYTES:
                raise PackError(f"a change of over {MAX_CHUNK_BYTES} bytes")
            actor = _actor(rest)
            links.append(Link(actor, signature is not None,
                              [position[d] for d in deps if d in position]))
            position[digest] = len(built)
            hashes.append(digest)
            built.append((chunk, actor[:KEY_BYTES], signature))
            digests.append(digest)
            if len(hashes) > most:
                raise PackError(f"over {most} changes in a pack")
        out += _received(doc, built, digests, links, position, budget)
    return out


def _received(doc: str, built: list[tuple[bytes, bytes, bytes | None]], digests: list[bytes],
              links: list[Link], position: dict[bytes, int], budget: Budget) -> list[Envelope]:
    """The envelopes of one group of a pack, from its changes (chunk, signer, signature or
    None), their hashes (computed here from the chunks: each envelope carries its own, so
    that checking it does not hash it again), their links and each hash's position: each
    change without a signature gets its voucher when the group has one."""
    needed = {link.actor for link in links if not link.signed}
    found = vouchers(links, needed, budget) if needed else [None] * len(links)
    out: list[Envelope] = []
    cache: dict[int, Voucher] = {}
    seen: VouchGroup | None = None  # made for the group's first voucher
    for (chunk, signer, signature), digest, at in zip(built, digests, found, strict=True):
        if signature is not None or at is None:
            out.append(Envelope(doc, chunk, signer, signature or b"", None, digest))
            continue
        voucher = cache.get(at)
        if voucher is None:
            if seen is None:
                seen = VouchGroup(built, links, position)
            head, head_signer, head_signature = built[at]
            voucher = cache[at] = Voucher(Envelope(doc, head, head_signer, head_signature or b"",
                                                   None, digests[at]), seen, at)
        out.append(Envelope(doc, chunk, signer, b"", voucher, digest))
    return out


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


def _actor(rest: bytes) -> bytes:
    """The actor id, which opens the body after the deps; its first 32 bytes are the signer.
    A change whose actor is shorter gets a short signer, and ingest rejects it
    (actor-not-signer)."""
    try:
        length, start = _read_uleb(rest, 0)
    except (Rejected, IndexError):
        return b""
    return rest[start:start + min(length, ACTOR_BYTES)]
