"""Keeping equivocation evidence (protocol-spec/changes.md, "Equivocation").

Ingest calls `keep_evidence` for a change refused with a conflict (an equivocation, a second
genesis): the change kept and the one refused are both kept, and travel by sync and bundles
(StoreHoldings.changes_after, export_bundle) so that every daemon flags the key.
"""

from __future__ import annotations

from pnyx.federation.envelope import VerifiedChange
from pnyx.federation.errors import Rejected

from .sqlite import Store


def keep_evidence(store: Store, vc: VerifiedChange, exc: Rejected, kept_hash: bytes) -> None:
    """Keep the pair once per kept change and reason: one pair proves it, and more would let a
    key fill the disk. The refused change is what travels as the evidence, so it must be
    provable alone: by its own signature, or, refused vouched, by its voucher and the chain
    between them in its pack group, within federation/evidence.py's bounds (kept here beside
    it; beyond them, or released from the pending set with no group, it is not kept). The kept
    change may be held vouched: its voucher is kept beside it."""
    kept = store.envelope(kept_hash)
    if kept is None or store.holds_evidence(kept_hash, exc.reason.value):
        return
    vouch: bytes | None = None
    chain: list[bytes] = []
    if not vc.envelope.signature:
        voucher = vc.envelope.voucher
        found = None if voucher is None else voucher.chain_to(vc.change.hash)
        if voucher is None or vc.vouch is None or found is None:
            return
        store.keep_voucher(voucher.envelope, vc.vouch)
        vouch, chain = vc.vouch, found
    store.add_evidence(kept, kept_hash, exc.reason.value, f"kept; {vc.change.hash.hex()} contradicts it")
    store.add_evidence(vc.envelope, vc.change.hash, exc.reason.value, exc.detail, vouch, chain)
