"""The sync messages and their msgpack wire form (protocol-spec/sync.md, "Messages").

Every message is a msgpack map with the protocol version `v` and a type `t`.
Decoding bounds sizes before anything is built, checks every field's type,
and raises ProtocolError with a stable code, which the daemon turns into an
HTTP 4xx: a peer speaking badly gets a clear answer and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from .envelope import Envelope, envelope_from_wire
from .errors import Rejected
from .keys import KEY_BYTES
from .syncdigest import BUCKETS, DIGEST_BYTES
from .wirelimits import SYNC_MESSAGE, WireLimitError, unpack

PROTOCOL_VERSION = 1
MAX_BODY_BYTES = SYNC_MESSAGE.max_bytes
MAX_URL_CHARS = 512
MAX_REASONS = 16

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
    digest: bytes
    key: bytes
    url: str | None = None


@dataclass(frozen=True)
class DocsRequest:
    buckets: tuple[int, ...]
    docs: tuple[tuple[str, bytes], ...]  # the initiator's (doc id, doc digest) in those buckets


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
class Buckets:
    key: bytes
    digest: bytes
    buckets: tuple[bytes, ...]


@dataclass(frozen=True)
class Vectors:
    vectors: DocVectors


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


Request = Hello | DocsRequest | Pull | Push | PeersRequest
Reply = Same | Buckets | Vectors | Changes | Pushed | Peers


def encode(message: Request | Reply) -> bytes:
    return bytes(msgpack.packb(to_wire(message), use_bin_type=True))


def to_wire(m: Request | Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"v": PROTOCOL_VERSION}
    if isinstance(m, Hello):
        out |= {"t": "hello", "digest": m.digest, "key": m.key}
        if m.url is not None:
            out["url"] = m.url
    elif isinstance(m, DocsRequest):
        out |= {"t": "docs", "buckets": list(m.buckets), "docs": [list(d) for d in m.docs]}
    elif isinstance(m, Pull):
        out |= {"t": "pull", "wants": vectors_to_wire(m.wants), "cursor": m.cursor, "limit": m.limit}
    elif isinstance(m, Push):
        out |= {"t": "push", "envelopes": [e.to_wire() for e in m.envelopes]}
    elif isinstance(m, PeersRequest):
        out["t"] = "peers"
        if m.url is not None:
            out["url"] = m.url
    elif isinstance(m, Same):
        out |= {"t": "same", "key": m.key}
    elif isinstance(m, Buckets):
        out |= {"t": "buckets", "key": m.key, "digest": m.digest, "buckets": list(m.buckets)}
    elif isinstance(m, Vectors):
        out |= {"t": "vectors", "vectors": vectors_to_wire(m.vectors)}
    elif isinstance(m, Changes):
        out |= {"t": "changes", "envelopes": [e.to_wire() for e in m.envelopes], "cursor": m.cursor,
                "more": m.more}
    elif isinstance(m, Pushed):
        out |= {"t": "pushed", "accepted": m.accepted, "duplicate": m.duplicate,
                "pending": m.pending, "rejected": m.rejected, "reasons": list(m.reasons)}
        if m.deferred:
            out["deferred"] = m.deferred
    else:
        out |= {"t": "peer-list", "urls": list(m.urls)}
    return out


def vectors_to_wire(vectors: DocVectors) -> list[Any]:
    return [[doc, [[actor, seq] for actor, seq in vector]] for doc, vector in vectors]


# --- decoding ------------------------------------------------------------------------------


REQUEST_TYPES = ("hello", "docs", "pull", "push", "peers")
REPLY_TYPES = ("same", "buckets", "vectors", "changes", "pushed", "peer-list")


def decode_request(data: bytes) -> Request:
    return _decode(data, REQUEST_TYPES)  # type: ignore[return-value]


def decode_reply(data: bytes) -> Reply:
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
    except Rejected as exc:
        raise ProtocolError("bad-message", f"an envelope: {exc.detail}") from None
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
        if url is not None and len(url) > MAX_URL_CHARS:
            raise ProtocolError("bad-message", f"url longer than {MAX_URL_CHARS} characters")
        return url

    def count(self, name: str) -> int:
        n: int = self.get(name, int)
        if not 0 <= n < 1 << 63:
            raise ProtocolError("bad-message", f"{name} is 0 .. 2^63-1")
        return n

    def envelopes(self) -> tuple[Envelope, ...]:
        return tuple(envelope_from_wire(e) for e in self.get("envelopes", list))

    def vectors(self, name: str) -> DocVectors:
        out = []
        for item in self.get(name, list):
            doc, vector = _pair(item, name)
            out.append((_typed(doc, str, name), tuple(
                (_typed(a, bytes, name), _seq(s, name)) for a, s in
                (_pair(entry, name) for entry in _typed(vector, list, name)))))
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


def _docs_request(f: Fields) -> DocsRequest:
    buckets = tuple(_typed(b, int, "buckets") for b in f.get("buckets", list))
    if not all(0 <= b < BUCKETS for b in buckets):
        raise ProtocolError("bad-message", f"a bucket is 0..{BUCKETS - 1}")
    docs = []
    for item in f.get("docs", list):
        doc, digest = _pair(item, "docs")
        docs.append((_typed(doc, str, "docs"), _sized(_typed(digest, bytes, "docs"), DIGEST_BYTES, "docs")))
    return DocsRequest(buckets, tuple(docs))


def _buckets(f: Fields) -> Buckets:
    buckets = tuple(_sized(_typed(b, bytes, "buckets"), DIGEST_BYTES, "buckets")
                    for b in f.get("buckets", list))
    if len(buckets) != BUCKETS:
        raise ProtocolError("bad-message", f"buckets holds {BUCKETS} digests")
    return Buckets(f.key("key"), f.digest("digest"), buckets)


def _pushed(f: Fields) -> Pushed:
    reasons = tuple(_typed(r, str, "reasons") for r in f.get("reasons", list))[:MAX_REASONS]
    deferred = 0 if f.get("deferred", int, optional=True) is None else f.count("deferred")
    return Pushed(f.count("accepted"), f.count("duplicate"), f.count("pending"), f.count("rejected"),
                  reasons, deferred)


_PARSERS: dict[str, Any] = {
    "hello": lambda f: Hello(f.digest("digest"), f.key("key"), f.url()),
    "docs": _docs_request,
    "pull": lambda f: Pull(f.vectors("wants"), f.count("cursor"), f.count("limit")),
    "push": lambda f: Push(f.envelopes()),
    "peers": lambda f: PeersRequest(f.url()),
    "same": lambda f: Same(f.key("key")),
    "buckets": _buckets,
    "vectors": lambda f: Vectors(f.vectors("vectors")),
    "changes": lambda f: Changes(f.envelopes(), f.count("cursor"), f.get("more", bool)),
    "pushed": _pushed,
    "peer-list": lambda f: Peers(tuple(_typed(u, str, "urls")[:MAX_URL_CHARS]
                                       for u in f.get("urls", list))),
}
