"""Parity per council and member: whether each member's delegation meets its charter's parity.

The rule is federation/parity.py (protocol-spec/charter.md, "Parity"). A
member is an assembly the confederal view lists as `member` on the day; its
delegation is read from its ledger as held here, so a daemon that lacks a
member's ledger says so rather than guessing.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pnyx.federation.amvalues import read_root
from pnyx.federation.bylaws import judge
from pnyx.federation.charter import read_charter
from pnyx.federation.docids import ledger_id
from pnyx.federation.keys import parse_key
from pnyx.federation.ledger import read_ledger
from pnyx.federation.parity import parity_gap

from ..store.node import Node
from ..store.viewindex import ViewIndex

Row = dict[str, Any]


def delegation(node: Node, assembly: str, council: str, day: dt.date) -> list[Row] | None:
    """The delegates in office for `assembly` at `council` on `day`, None if its ledger is not held."""
    doc_id = ledger_id(parse_key(assembly))
    if not node.store.holds_document(doc_id):
        return None
    ledger = read_ledger(node.docs.get(doc_id))
    judged = judge(ledger)
    recalls = judged.recalls(ledger)
    out: list[Row] = []
    for m in sorted(ledger.mandates.values(), key=lambda m: m.id):
        recall = recalls.get(m.id)
        if m.council != council or not judged.adopted(m.decision) or not m.term_from <= day <= m.term_until \
                or (recall is not None and recall.date <= day):
            continue
        out.append({"mandate": m.id, "delegate": m.delegate, "delegate_key": m.delegate_key,
                    "attributes": dict(m.attributes or {})})
        out.extend({"mandate": m.id, "delegate": c.delegate, "delegate_key": c.delegate_key,
                    "attributes": dict(c.attributes)} for c in m.co_delegates)
    return out


def parity_rows(node: Node, view: ViewIndex, day: dt.date) -> list[Row]:
    """Per confederation held whose charter requires parity: each member's delegation and whether
    it meets it."""
    rendered = json.loads(view.render(day))
    out = []
    for confederation in rendered["confederations"]:
        doc = node.docs.get(f"charter/{confederation['id']}")
        charter = read_charter(confederation["id"], read_root(doc))
        if charter.parity is None:
            continue
        members = []
        for member in confederation["members"]:
            if member["kind"] != "assembly" or member["state"] != "member":
                continue
            delegates = delegation(node, member["member"], confederation["id"], day)
            gap = "its ledger is not held here" if delegates is None else \
                parity_gap(charter.parity, [d["attributes"] for d in delegates])
            members.append({"assembly": member["member"], "name": member.get("name"),
                            "delegates": delegates or [], "met": gap is None, "reason": gap})
        out.append({"confederation": confederation["id"], "name": confederation["rules"]["name"],
                    "as_of": day.isoformat(), "parity": charter.parity, "members": members,
                    "met": all(m["met"] for m in members)})
    return out
