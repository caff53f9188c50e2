"""The sync messages and their msgpack wire form (protocol-spec/sync.md, "Messages").

Every message is a msgpack map with the protocol version `v` and a type `t`.
Decoding bounds sizes before anything is built (federation/wirelimits.py),
checks every field's type, and raises ProtocolError with a stable code, which
the daemon turns into an HTTP 4xx: a peer speaking badly gets a clear answer
and changes nothing. Batches of changes travel as packs (federation/changepack.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from .changepack import PackError, pack
from .changepack import unpack as unpack_pack
from .envelope import Envelope
from .keys import KEY_BYTES
from .synctree import DIGEST_BYTES, HEX, PATH_CHARS, Internal, Leaf
from .wirelimits import LIMITS, SYNC_MESSAGE, WireLimitError, unpack

PROTOCOL_VERSION = 3
MAX_BODY_BYTES = SYNC_MESSAGE.max_bytes

Vector = tuple[tuple[bytes, int], ...]  # (actor, seq), sorted by actor
DocVectors = tuple[tuple[str, Vector], ...]


class ProtocolError(Exception):
    """A message that breaks the wire format; `code` is stable (protocol-spec/sync.md)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


# --- requests (initiator -> responder) ---------------------------------------------------


@dataclass(frozen=True)
class Hello:
    root: bytes  # the initiator's root digest
    key: bytes
    url: str | None = None


@dataclass(frozen=True)
class Descend:
    prefixes: tuple[str, ...]  # nodes of the responder's tree the initiator asks about


@dataclass(frozen=True)
class Pull:
    wants: DocVectors  # (doc, ((actor, after seq), ...)): send seqs above these
    cursor: int  # the responder's arrival number to continue after
    limit: int


@dataclass(frozen=True)
class Push:
    envelopes: tuple[Envelope, ...]


@dataclass(frozen=True)
class PeersRequest:
    url: str | None = None


# --- replies -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Same:
    key: bytes


@dataclass(frozen=True)
class Told:
    """One node of the responder's tree: empty (None), a leaf with its document's vector,
    or internal with its children's digests."""

    prefix: str
    node: Leaf | Internal | None
    vector: Vector = ()


@dataclass(frozen=True)
class Nodes:
    key: bytes
    nodes: tuple[Told, ...]  # answers to the first prefixes asked, in order


@dataclass(frozen=True)
class Changes:
    envelopes: tuple[Envelope, ...]
    cursor: int
    more: bool


@dataclass(frozen=True)
class Pushed:
    accepted: int
    duplicate: int
    pending: int
    rejected: int
    reasons: tuple[str, ...]
    deferred: int = 0  # not judged or no room to wait: offered again later, never "duplicate"


@dataclass(frozen=True)
class Peers:
    urls: tuple[str, ...]


Request = Hello | Descend | Pull | Push | PeersRequest
Reply = Same | Nodes | Changes | Pushed | Peers


def encode(message: Request | Reply) -> bytes:
    return bytes(msgpack.packb(to_wire(message), use_bin_type=True))


def to_wire(m: Request | Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"v": PROTOCOL_VERSION}
    if isinstance(m, Hello):
        out |= {"t": "hello", "root": m.root, "key": m.key}
        if m.url is not None:
            out["url"] = m.url
    elif isinstance(m, Descend):
        out |= {"t": "descend", "prefixes": list(m.prefixes)}
    elif isinstance(m, Pull):
        out |= {"t": "pull", "wants": vectors_to_wire(m.wants), "cursor": m.cursor, "limit": m.limit}
    elif isinstance(m, Push):
        out |= {"t": "push", "pack": pack(m.envelopes)}
    elif isinstance(m, PeersRequest):
        out["t"] = "peers"
        if m.url is not None:
            out["url"] = m.url
    elif isinstance(m, Same):
        out |= {"t": "same", "key": m.key}
    elif isinstance(m, Nodes):
        out |= {"t": "nodes", "key": m.key, "nodes": [told_to_wire(n) for n in m.nodes]}
    elif isinstance(m, Changes):
        out |= {"t": "changes", "pack": pack(m.envelopes), "cursor": m.cursor, "more": m.more}
    elif isinstance(m, Pushed):
        out |= {"t": "pushed", "accepted": m.accepted, "duplicate": m.duplicate,
                "pending": m.pending, "rejected": m.rejected, "reasons": list(m.reasons)}
        if m.deferred:
            out["deferred"] = m.deferred
    else:
        out |= {"t": "peer-list", "urls": list(m.urls)}
    return out


def told_to_wire(told: Told) -> list[Any]:
    node = told.node
    if node is None:
        return [told.prefix]
    if isinstance(node, Leaf):
        return [told.prefix, node.doc_id, node.digest, vector_to_wire(told.vector)]
    bitmap = sum(1 << int(c, 16) for c in node.children)
    return [told.prefix, bitmap, b"".join(node.children[c] for c in sorted(node.children))]


def vector_to_wire(vector: Vector) -> list[Any]:
    return [[actor, seq] for actor, seq in vector]


def vectors_to_wire(vectors: DocVectors) -> list[Any]:
    return [[doc, vector_to_wire(vector)] for doc, vector in vectors]


# --- decoding ------------------------------------------------------------------------------


REQUEST_TYPES = ("hello", "descend", "pull", "push", "peers")
REPLY_TYPES = ("same", "nodes", "changes", "pushed", "peer-list")


def decode_request(data: bytes) -> Request:
    """Decode one request body; raises only ProtocolError."""
    return _decode(data, REQUEST_TYPES)  # type: ignore[return-value]


def decode_reply(data: bytes) -> Reply:
    """Decode one reply body; raises only ProtocolError."""
    return _decode(data, REPLY_TYPES)  # type: ignore[return-value]


def _decode(data: bytes, allowed: tuple[str, ...]) -> Request | Reply:
    try:
        value = unpack(data, SYNC_MESSAGE)
    except WireLimitError as exc:
        raise ProtocolError(exc.code, exc.detail) from None
    if not isinstance(value, dict):
        raise ProtocolError("bad-message", "a message is a msgpack map")
    version = value.get("v")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ProtocolError("bad-message", "v (protocol version) must be an integer")
    if version != PROTOCOL_VERSION:
        raise ProtocolError("unsupported-version",
                            f"protocol version {version}; this daemon speaks {PROTOCOL_VERSION}")
    kind = value.get("t")
    if kind not in allowed:
        raise ProtocolError("bad-message", f"t must be one of {', '.join(allowed)}")
    try:
        message: Request | Reply = _PARSERS[kind](Fields(value))
    except PackError as exc:
        raise ProtocolError("bad-message", f"the pack: {exc}") from None
    return message


class Fields:
    """Typed access to a message's fields; anything else is a bad-message error."""

    def __init__(self, value: Mapping[str, Any]) -> None:
        self.value = value

    def get(self, name: str, kind: type, optional: bool = False) -> Any:
        item = self.value.get(name)
        if item is None and optional:
            return None
        return _typed(item, kind, name)

    def key(self, name: str) -> bytes:
        return _sized(self.get(name, bytes), KEY_BYTES, name)

    def digest(self, name: str) -> bytes:
        return _sized(self.get(name, bytes), DIGEST_BYTES, name)

    def url(self) -> str | None:
        url: str | None = self.get("url", str, optional=True)
        if url is not None and len(url) > LIMITS.url_chars:
            raise ProtocolError("bad-message", f"url longer than {LIMITS.url_chars} characters")
        return url

    def count(self, name: str) -> int:
        n: int = self.get(name, int)
        if not 0 <= n < 1 << 63:
            raise ProtocolError("bad-message", f"{name} is 0 .. 2^63-1")
        return n

    def envelopes(self) -> tuple[Envelope, ...]:
        return tuple(unpack_pack(self.get("pack", bytes)))

    def vectors(self, name: str) -> DocVectors:
        out = []
        for item in self.get(name, list):
            doc, vector = _pair(item, name)
            out.append((_typed(doc, str, name), _vector(vector, name)))
        return tuple(out)


def _typed(item: Any, kind: type, name: str) -> Any:
    if not isinstance(item, kind) or (kind is int and isinstance(item, bool)):
        raise ProtocolError("bad-message", f"{name} must be {kind.__name__}")
    return item


def _sized(item: bytes, size: int, name: str) -> bytes:
    if len(item) != size:
        raise ProtocolError("bad-message", f"{name} must be {size} bytes")
    return item


def _pair(item: Any, name: str) -> tuple[Any, Any]:
    if not isinstance(item, list) or len(item) != 2:
        raise ProtocolError("bad-message", f"each entry of {name} is an array of 2")
    return item[0], item[1]


def _seq(item: Any, name: str) -> int:
    n: int = _typed(item, int, name)
    if not 0 <= n < 1 << 63:
        raise ProtocolError("bad-message", f"a seq in {name} is out of range")
    return n


def _vector(value: Any, name: str) -> Vector:
    entries = _typed(value, list, name)
    if len(entries) > LIMITS.actors:
        raise ProtocolError("bad-message", f"a vector in {name} lists over {LIMITS.actors} actors")
    return tuple((_typed(a, bytes, name), _seq(s, name)) for a, s in (_pair(e, name) for e in entries))


def _prefix(item: Any) -> str:
    prefix: str = _typed(item, str, "prefix")
    if len(prefix) > PATH_CHARS or prefix.strip(HEX):
        raise ProtocolError("bad-message", f"a prefix is 0 to {PATH_CHARS} lowercase hex digits")
    return prefix


def _descend(f: Fields) -> Descend:
    prefixes = tuple(_prefix(p) for p in f.get("prefixes", list))
    if len(prefixes) > LIMITS.prefixes:
        raise ProtocolError("bad-message", f"at most {LIMITS.prefixes} prefixes")
    return Descend(prefixes)


def _told(item: Any) -> Told:
    if not isinstance(item, list) or len(item) not in (1, 3, 4):
        raise ProtocolError("bad-message", "a node is an array of 1, 3 or 4")
    prefix = _prefix(item[0])
    if len(item) == 1:
        return Told(prefix, None)
    if len(item) == 4:
        doc = _typed(item[1], str, "a leaf's doc id")
        digest = _sized(_typed(item[2], bytes, "a leaf's digest"), DIGEST_BYTES, "a leaf's digest")
        return Told(prefix, Leaf(doc, digest), _vector(item[3], "a leaf's vector"))
    bitmap = _typed(item[1], int, "a node's bitmap")
    digests = _typed(item[2], bytes, "a node's digests")
    present = [c for i, c in enumerate(HEX) if bitmap >> i & 1]
    if not 0 < bitmap < 1 << 16 or len(digests) != DIGEST_BYTES * len(present):
        raise ProtocolError("bad-message", "a node's bitmap names the children its digests hold")
    return Told(prefix, Internal({c: digests[i * DIGEST_BYTES:(i + 1) * DIGEST_BYTES]
                                  for i, c in enumerate(present)}))


def _pushed(f: Fields) -> Pushed:
    reasons = tuple(_typed(r, str, "reasons") for r in f.get("reasons", list))[:LIMITS.reasons]
    deferred = 0 if f.get("deferred", int, optional=True) is None else f.count("deferred")
    return Pushed(f.count("accepted"), f.count("duplicate"), f.count("pending"), f.count("rejected"),
                  reasons, deferred)


_PARSERS: dict[str, Any] = {
    "hello": lambda f: Hello(f.digest("root"), f.key("key"), f.url()),
    "descend": _descend,
    "pull": lambda f: Pull(f.vectors("wants"), f.count("cursor"), f.count("limit")),
    "push": lambda f: Push(f.envelopes()),
    "peers": lambda f: PeersRequest(f.url()),
    "same": lambda f: Same(f.key("key")),
    "nodes": lambda f: Nodes(f.key("key"), tuple(_told(n) for n in f.get("nodes", list))),
    "changes": lambda f: Changes(f.envelopes(), f.count("cursor"), f.get("more", bool)),
    "pushed": _pushed,
    "peer-list": lambda f: Peers(tuple(_typed(u, str, "urls")[:LIMITS.url_chars]
                                       for u in f.get("urls", list))),
}
