"""What a daemon says about itself: GET /pnyx/v1/status and `pnyx status` print the same."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pnyx.federation.keys import key_text

from ..store.node import Node


def node_status(node: Node) -> dict[str, Any]:
    """The status a daemon reports at GET /pnyx/v1/status and `pnyx status` prints."""
    from pnyx.federation.ledger import read_profile

    profile = read_profile(node.docs.get(node.ledger_id))
    return {
        "assembly": key_text(node.assembly),
        "assembly_name": profile.name if profile else None,
        "device": key_text(node.device_key.public),
        "documents": len(node.store.documents()),
        "changes": node.store.count_changes(),
        "pending": node.store.count_pending(),
        "evidence": node.store.count_evidence(),
        "as_of": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
