"""sync.json `evidence` checked from protocol-spec/ alone, as a second implementation would: no
pnyx code, only zlib, msgpack, SHA-256 and Ed25519 (PyNaCl). The pack is rebuilt (sync.md
"Packs"), the refused change's voucher found and its signature checked ("Vouched changes"),
its chain searched within the bounds, and the change shown to contradict the held one
(changes.md "Equivocation", "Evidence refused vouched")."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import deque
from pathlib import Path
from typing import Any

import msgpack
import pytest
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"
SYNC = json.loads((VECTORS / "sync.json").read_text())
HISTORY = json.loads((VECTORS / "history.json").read_text())
MAGIC = bytes.fromhex("856f4a83")


def uleb(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if byte < 0x80:
            return value, pos


def encode_uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


class Change:
    """One change of a pack, its chunk rebuilt as sync.md says."""

    def __init__(self, deps: list[bytes], rest: bytes, signature: bytes | None) -> None:
        body = encode_uleb(len(deps)) + b"".join(deps) + rest
        hashed = b"\x01" + encode_uleb(len(body)) + body
        self.hash = hashlib.sha256(hashed).digest()
        self.chunk = MAGIC + self.hash[:4] + hashed
        self.deps, self.signature = deps, signature
        length, pos = uleb(rest, 0)
        self.actor = rest[pos:pos + length]
        self.seq = uleb(rest, pos + length)[0]


def unpacked(pack: bytes) -> tuple[str, list[Change]]:
    inflater = zlib.decompressobj(-15)
    ((doc_id, entries),) = msgpack.unpackb(inflater.decompress(pack), raw=False)
    changes: list[Change] = []
    for refs, rest, signature in entries:
        deps = [r if isinstance(r, bytes) else changes[r].hash for r in refs]
        changes.append(Change(deps, rest, signature))
    return doc_id, changes


def reaches(changes: list[Change], start: int, target: int) -> bool:
    position = {c.hash: i for i, c in enumerate(changes[:start])}
    todo, seen = [start], {start}
    while todo:
        at = todo.pop()
        if at == target:
            return True
        for dep in changes[at].deps:
            if dep in position and position[dep] not in seen:
                seen.add(position[dep])
                todo.append(position[dep])
    return False


def voucher_of(changes: list[Change], i: int) -> int | None:
    """The first signed change after `i` of the same actor that reaches it in the group."""
    return next((j for j in range(i + 1, len(changes)) if changes[j].signature is not None
                 and changes[j].actor == changes[i].actor and reaches(changes, j, i)), None)


def signed(doc_id: str, change: Change) -> bool:
    try:
        VerifyKey(change.actor[:32]).verify(b"pnyx/change/v1" + doc_id.encode() + change.hash,
                                            change.signature)
    except BadSignatureError:
        return False
    return True


def chain(changes: list[Change], voucher: int, target: int, bounds: dict[str, int]) -> list[bytes] | None:
    """Breadth first from the voucher through the group's deps, in chunk order; the hashes
    strictly between, oldest first."""
    position = {c.hash: i for i, c in enumerate(changes)}
    parent = {voucher: voucher}
    queue = deque([voucher])
    while queue and target not in parent:
        at = queue.popleft()
        for dep in changes[at].deps:
            if dep in position and position[dep] not in parent:
                if len(parent) >= bounds["search_visits"]:
                    return None
                parent[position[dep]] = at
                queue.append(position[dep])
    if target not in parent:
        return None
    path, at = [], parent[target]
    while at != voucher:
        path.append(changes[at].hash)
        at = parent[at]
    return path if len(path) <= bounds["chain_changes"] else None


def held_change(name: str) -> Change:
    envelope = msgpack.unpackb(bytes.fromhex(next(e["envelope"] for e in HISTORY["envelopes"]
                                                  if e["name"] == name)), raw=False)
    raw = envelope[1]
    count, pos = uleb(raw, uleb(raw, 9)[1])
    return Change([raw[pos + 32 * i:pos + 32 * i + 32] for i in range(count)], raw[pos + 32 * count:], None)


@pytest.mark.parametrize("case", ["vouched", "forged"])
def test_the_evidence_vector_checks_from_the_spec_alone(case: str) -> None:
    vector: dict[str, Any] = SYNC["evidence"] if case == "vouched" else SYNC["evidence"]["forged"]
    doc_id, changes = unpacked(bytes.fromhex(vector["pack"]))
    assert [c.hash.hex() for c in changes] == SYNC["evidence"]["changes"]
    kept = held_change("decision-a1")
    refused = changes[0]
    assert (refused.actor, refused.seq) == (kept.actor, kept.seq) and refused.hash != kept.hash
    voucher = voucher_of(changes, 0)
    assert voucher is not None and refused.signature is None
    kept_rows = [{"hash": kept.hash.hex(), "reason": "equivocation", "vouch": None, "chain": []}]
    if not signed(doc_id, changes[voucher]):
        rows: list[dict[str, Any]] = []  # E4v.2: refused for its voucher's reason, nothing kept
        assert vector["outcomes"][0] == "bad-signature"
    else:
        path = chain(changes, voucher, 0, SYNC["evidence"]["bounds"])
        assert path is not None
        rows = [*kept_rows, {"hash": refused.hash.hex(), "reason": "equivocation",
                             "vouch": changes[voucher].hash.hex(), "chain": [h.hex() for h in path]}]
        # each later change descends from the refused one, so it is dropped, never left waiting
        # (changes.md "Pending changes")
        descend = {refused.hash}
        for change in changes[1:]:
            assert descend & set(change.deps)
            descend.add(change.hash)
        assert vector["outcomes"] == ["equivocation"] + ["dropped"] * (len(changes) - 1)
    assert rows == vector["evidence"]
