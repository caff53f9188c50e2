"""A Merkle tree over the documents a daemon holds, so that reconciling costs what differs.

Every document sits at the hex string of SHA-256(doc id), its **path**; a node
is a prefix of paths (protocol-spec/sync.md, "The digest tree"). A node with no
document under it is empty, a node with exactly one is a leaf (whatever its
depth), any other is internal and has up to 16 children, one per next hex
digit. The shape is a function of the set of documents alone, so two daemons
holding the same documents with the same heads have the same root digest, and
two peers that differ descend only into the children whose digests differ.

The tree keeps its paths sorted (the documents under a prefix are one slice,
found by bisection) and caches the digests of internal nodes. Setting a
document's digest drops the cached digests on its path only, so the next root
costs O(16 · depth) hashes: nothing is ever recomputed whole.

Nothing here is linear (see "Why not an XOR" in the spec): every digest is
SHA-256 over its children, so equal roots mean equal sets of (document, heads)
short of a SHA-256 collision.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import ChainMap
from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass

DIGEST_BYTES = 32
EMPTY = bytes(DIGEST_BYTES)
HEX = "0123456789abcdef"
PATH_CHARS = 2 * DIGEST_BYTES
DOC_DOMAIN = b"pnyx/doc/v2\0"
LEAF_DOMAIN = b"pnyx/leaf/v2\0"
NODE_DOMAIN = b"pnyx/node/v2\0"
EVIDENCE_MARK = b"pnyx/evidence/v2\0"
SHORT_DOMAIN = b"pnyx/short/v3\0"
SHORT_BYTES = 8  # a child's digest on the wire: salted and cut short (see `short`)
SALT_BYTES = 8
RECENT = 1  # documents a tree remembers as set last: the hints of a `roots` reply
_PAST_PREFIX = "g"  # sorts after every hex digit: the paths under p are [p, p + "g")


def doc_digest(heads: Iterable[bytes], evidence: Iterable[bytes] = ()) -> bytes:
    """The digest of one document: SHA-256 over its heads sorted bytewise, then, where the
    document has evidence (equivocation, a second genesis), EVIDENCE_MARK and the sorted
    hashes of the changes kept as evidence, so that two daemons differing only in evidence
    differ."""
    proof = b"".join(sorted(evidence))
    tail = EVIDENCE_MARK + proof if proof else b""
    return hashlib.sha256(DOC_DOMAIN + b"".join(sorted(heads)) + tail).digest()


def path_of(doc_id: str) -> str:
    return hashlib.sha256(doc_id.encode("utf-8")).hexdigest()


def leaf_digest(path: str, digest: bytes) -> bytes:
    return hashlib.sha256(LEAF_DOMAIN + bytes.fromhex(path) + digest).digest()


def short(salt: bytes, digest: bytes) -> bytes:
    """A child's digest as a `nodes` reply carries it: SHORT_BYTES of SHA-256 over the salt the
    responder drew for this exchange and the full digest. A quarter of the bytes per level of
    the descent; a collision (2^-64 per compared child, and nobody can aim for one without
    knowing the salt in advance) only makes the descent skip a subtree in this exchange, and
    the next exchange draws another salt: it delays, never loses. Roots in `hello` and
    documents' digests at leaves travel whole."""
    return hashlib.sha256(SHORT_DOMAIN + salt + digest).digest()[:SHORT_BYTES]


def node_digest(children: dict[str, bytes]) -> bytes:
    """An internal node's digest from its non-empty children (hex digit -> digest)."""
    bitmap = sum(1 << int(c, 16) for c in children)
    return hashlib.sha256(NODE_DOMAIN + bitmap.to_bytes(2, "big")
                          + b"".join(children[c] for c in sorted(children))).digest()


@dataclass(frozen=True)
class Leaf:
    doc_id: str
    digest: bytes  # the document digest


@dataclass(frozen=True)
class Internal:
    children: dict[str, bytes]  # hex digit -> digest of the non-empty child


Node = Leaf | Internal | None  # None: no document under the prefix


class DigestTree:
    """The documents held and their digests, with the tree over them kept up to date."""

    def __init__(self) -> None:
        self._paths: list[str] = []  # sorted
        self._docs: MutableMapping[str, Leaf] = {}  # path -> document
        # prefix -> digest, for internal nodes computed (b"": computed by the base, since stale)
        self._internal: MutableMapping[str, bytes] = {}
        self._forked = False  # sharing a base's structures: paths copied before a new document
        self.recent: tuple[str, ...] = ()  # the documents set last, the latest first

    def __len__(self) -> int:
        return len(self._paths)

    @classmethod
    def of(cls, docs: Iterable[tuple[str, bytes]]) -> DigestTree:
        """A tree of these (doc id, digest): sorted once, not inserted one by one."""
        tree = cls()
        tree._docs = {path_of(doc): Leaf(doc, digest) for doc, digest in docs}
        tree._paths = sorted(tree._docs)
        return tree

    def fork(self) -> DigestTree:
        """A tree that starts as this one and shares its structures (many simulated nodes
        holding the same documents); this one must not change afterwards."""
        self.root()  # every internal digest computed once, in the shared part
        other = DigestTree()
        other._paths = self._paths
        other._docs = ChainMap({}, self._docs)
        other._internal = ChainMap({}, self._internal)
        other._forked = True
        other.recent = self.recent
        return other

    def set(self, doc_id: str, digest: bytes) -> None:
        """Record a document's new digest: O(log D) to insert, cached digests on its path dropped."""
        path = path_of(doc_id)
        if path not in self._docs:
            if self._forked:  # the first new document: the sorted paths become this tree's own
                self._paths = list(self._paths)
                self._forked = False
            bisect.insort(self._paths, path)
        self._docs[path] = Leaf(doc_id, digest)
        self.recent = (doc_id, *(d for d in self.recent if d != doc_id))[:RECENT]
        for i in range(PATH_CHARS + 1):
            if isinstance(self._internal, ChainMap):
                if path[:i] in self._internal:
                    self._internal[path[:i]] = b""  # shadows the base's digest
            else:
                self._internal.pop(path[:i], None)

    def get(self, doc_id: str) -> bytes | None:
        leaf = self._docs.get(path_of(doc_id))
        return None if leaf is None else leaf.digest

    def root(self) -> bytes:
        return self.digest("")

    def digest(self, prefix: str) -> bytes:
        lo, hi = self._span(prefix)
        if hi == lo:
            return EMPTY
        if hi - lo == 1:
            path = self._paths[lo]
            return leaf_digest(path, self._docs[path].digest)
        cached = self._internal.get(prefix)
        if not cached:
            cached = self._internal[prefix] = node_digest(self._children(prefix))
        return cached

    def node(self, prefix: str) -> Node:
        """What a peer asking about `prefix` is told."""
        lo, hi = self._span(prefix)
        if hi == lo:
            return None
        if hi - lo == 1:
            return self._docs[self._paths[lo]]
        return Internal(self._children(prefix))

    def docs_under(self, prefix: str) -> Iterator[Leaf]:
        lo, hi = self._span(prefix)
        for path in self._paths[lo:hi]:
            yield self._docs[path]

    def _children(self, prefix: str) -> dict[str, bytes]:
        out = {}
        for c in HEX:
            d = self.digest(prefix + c)
            if d != EMPTY:
                out[c] = d
        return out

    def _span(self, prefix: str) -> tuple[int, int]:
        if not prefix:
            return 0, len(self._paths)
        return (bisect.bisect_left(self._paths, prefix),
                bisect.bisect_left(self._paths, prefix + _PAST_PREFIX))
