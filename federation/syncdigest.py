"""Digests of what a daemon holds, so that two peers in step learn it in one round trip.

A document's held changes are closed under dependencies (a change is stored
only after its deps), so its heads name its whole history: the document
digest hashes the sorted heads, and is exactly as collision-resistant as
SHA-256. Documents fall into BUCKETS buckets by the hash of their id; a bucket
digest hashes its documents' ids and digests, and the state digest hashes the
bucket digests. Unlike an XOR or a sum of change hashes, which anyone able to
sign changes could steer to a collision (protocol-spec/sync.md, "Digest"),
nothing here is linear.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from .chunk import encode_uleb

BUCKETS = 64
DIGEST_BYTES = 32
EMPTY_BUCKET = bytes(DIGEST_BYTES)
DOC_DOMAIN = b"pnyx/doc/v1\0"
BUCKET_DOMAIN = b"pnyx/bucket/v1\0"
STATE_DOMAIN = b"pnyx/state/v1\0"
EVIDENCE_MARK = b"pnyx/evidence/v1\0"


def doc_digest(heads: Iterable[bytes], evidence: Iterable[bytes] = ()) -> bytes:
    """The digest of one document: SHA-256 over its sorted heads, then, where the document
    has evidence (equivocation, a second genesis), EVIDENCE_MARK and the sorted hashes of
    the changes kept as evidence, so that two daemons differing only in evidence differ."""
    proof = b"".join(sorted(evidence))
    tail = EVIDENCE_MARK + proof if proof else b""
    return hashlib.sha256(DOC_DOMAIN + b"".join(sorted(heads)) + tail).digest()


def bucket_of(doc_id: str) -> int:
    return hashlib.sha256(doc_id.encode("utf-8")).digest()[0] % BUCKETS


def bucket_digests(doc_digests: Mapping[str, bytes]) -> list[bytes]:
    """One digest per bucket; a bucket without documents is all zeros."""
    members: list[list[str]] = [[] for _ in range(BUCKETS)]
    for doc_id in doc_digests:
        members[bucket_of(doc_id)].append(doc_id)
    out = []
    for docs in members:
        if not docs:
            out.append(EMPTY_BUCKET)
            continue
        h = hashlib.sha256(BUCKET_DOMAIN)
        for doc_id in sorted(docs):
            raw = doc_id.encode("utf-8")
            h.update(encode_uleb(len(raw)) + raw + doc_digests[doc_id])
        out.append(h.digest())
    return out


def state_digest(buckets: list[bytes]) -> bytes:
    return hashlib.sha256(STATE_DOMAIN + b"".join(buckets)).digest()
