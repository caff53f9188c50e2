"""What a daemon says about itself: GET /pnyx/v1/status and `pnyx status` print the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pnyx.federation.keys import key_text

from ..store.node import Node


def node_status(node: Node) -> dict[str, Any]:
    """The status a daemon reports at GET /pnyx/v1/status and `pnyx status` prints."""
    profile = node.docs.profile(node.ledger_id)
    return {
        "assembly": key_text(node.assembly),
        "assembly_name": profile.name if profile else None,
        "device": key_text(node.device_key.public),
        "documents": len(node.store.documents()),
        "changes": node.store.count_changes(),
        "pending": node.store.pending.count(),
        "evidence": node.store.count_evidence(),
        "equivocations": flagged_keys(node),
        "as_of": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def flagged_keys(node: Node) -> list[dict[str, Any]]:
    """Keys that signed contradicting changes (the same actor and seq, or a second genesis),
    per document, with the evidence's hashes: the same on every daemon holding it."""
    flagged: dict[tuple[str, str], dict[str, Any]] = {}
    for doc, change_hash, signer, reason, _ in node.store.evidence():
        entry = flagged.setdefault((key_text(signer), doc), {
            "key": key_text(signer), "doc": doc, "reason": reason, "changes": []})
        if change_hash.hex() not in entry["changes"]:
            entry["changes"].append(change_hash.hex())
    return [{**e, "changes": sorted(e["changes"])} for _, e in sorted(flagged.items())]
