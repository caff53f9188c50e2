"""Keeping equivocation evidence (protocol-spec/changes.md, "Equivocation").

Ingest calls `keep_evidence` for a change refused with a conflict (an equivocation, a second
genesis): the change kept and the one refused are both kept, and travel by sync and bundles
(StoreHoldings.changes_after, export_bundle) so that every daemon flags the key.
"""

from __future__ import annotations

from collections import deque

from pnyx.federation.changepack import split_chunk
from pnyx.federation.envelope import Envelope, VerifiedChange
from pnyx.federation.errors import Rejected
from pnyx.federation.evidence import SEARCH_VISITS, VouchGroup

from .sqlite import Store


def keep_evidence(store: Store, vc: VerifiedChange, exc: Rejected, kept_hash: bytes) -> None:
    """Keep the pair once per kept change and reason: one pair proves it, and more would let a
    key fill the disk. The refused change is what travels as the evidence, so it must be
    provable alone: by its own signature, or, refused vouched, by its voucher and the chain
    between them (kept beside it), found within federation/evidence.py's bounds; beyond them
    it is not kept. The kept change may be held vouched: its voucher is kept beside it."""
    kept = store.envelope(kept_hash)
    if kept is None or store.holds_evidence(kept_hash, exc.reason.value):
        return
    vouch = None if vc.envelope.signature else vc.vouch
    chain: list[bytes] = []
    if not vc.envelope.signature:
        proof = None if vouch is None else _proof(store, vc, vouch)
        if proof is None or vouch is None:
            return
        voucher, chain = proof
        store.keep_voucher(voucher, vouch)
    store.add_evidence(kept, kept_hash, exc.reason.value, f"kept; {vc.change.hash.hex()} contradicts it")
    store.add_evidence(vc.envelope, vc.change.hash, exc.reason.value, exc.detail, vouch, chain)


def _proof(store: Store, vc: VerifiedChange, vouch: bytes) -> tuple[Envelope, list[bytes]] | None:
    """The voucher of a change refused vouched and the chain down to it: searched in the pack
    group it arrived in, or, released from the pending set (its group gone), among the
    changes waiting there."""
    voucher = vc.envelope.voucher
    if voucher is not None:
        chain = voucher.chain_to(vc.change.hash)
        return None if chain is None else (voucher.envelope, chain)
    head = store.voucher(vouch)
    if head is None:
        return None
    chain = _waiting_group(store, vc, head.change, vouch).chain(0, vc.change.hash)
    return None if chain is None else (head, chain)


class _Linked:
    """A change of a group built from the pending set: its deps' positions in the group."""

    def __init__(self) -> None:
        self.deps: list[int] = []


def _waiting_group(store: Store, vc: VerifiedChange, voucher: bytes, vouch: bytes) -> VouchGroup:
    """The voucher (position 0) and what it reaches through deps among the changes waiting in
    the pending set and the refused change itself, breadth first, deps in chunk order, at most
    SEARCH_VISITS changes: searched as a pack group would be. The changes between a vouched
    change and its voucher descend from it, so they waited for it with it."""
    built: list[tuple[bytes, bytes, bytes | None]] = [(voucher, b"", None)]
    links = [_Linked()]
    position = {vouch: 0}
    queue = deque([0])
    while queue:
        at = queue.popleft()
        for dep in split_chunk(built[at][0])[0]:
            if dep not in position:
                chunk = vc.change.raw if dep == vc.change.hash else \
                    store.pending.chunk(dep, vc.envelope.doc_id)
                if chunk is None:
                    continue
                if len(built) >= SEARCH_VISITS:
                    return VouchGroup(built, links, position)
                position[dep] = len(built)
                built.append((chunk, b"", None))
                links.append(_Linked())
                queue.append(position[dep])
            links[at].deps.append(position[dep])
    return VouchGroup(built, links, position)
