"""What the confederal view would make of a record, asked before the record is written.

A proposal or ratification that the view would ignore (a ratification outside
the proposal's window or by an assembly outside the electorate, an amendment
outside the charter's limits, the suspension of a non-member) is refused where
it is written, with the view's own reason: the rules are written once, in
federation/view.py, and the writer asks them rather than copying them. The view
is rendered as of today with the assembly's ledger as it would be after the
write, then the records held are put back as they were.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pnyx.federation.confed import Record
from pnyx.federation.view import render_view

from ..store.viewindex import ViewIndex
from .errors import RecordError


class ViewCheck:
    def __init__(self, index: ViewIndex, ledger_doc_id: str, today: dt.date) -> None:
        self.index = index
        self.ledger_doc_id = ledger_doc_id
        self.today = today

    def refuse_ignored(self, ledger: Record, pid: str, decision: str | None) -> None:
        """RecordError with the view's reason if, with this ledger record, the view would
        ignore proposal `pid` or its ratification `decision`."""
        self.index.refresh()
        records = self.index.records
        before = records.ledgers.get(ledger["assembly"])
        records.put(self.ledger_doc_id, ledger)
        try:
            confederation = records.proposals.get(pid, {}).get("confederation")
            view: dict[str, Any] = json.loads(render_view(records, self.today, confederation))
        finally:
            records.put(self.ledger_doc_id, before)
        for c in view["confederations"]:
            for ignored in c["ignored_proposals"]:
                if ignored["proposal"] == pid:
                    raise RecordError(f"the confederation would ignore this proposal: {ignored['reason']}")
            for p in c["proposals"]:
                for ignored in p["ignored"] if p["id"] == pid else ():
                    if ignored["decision"] == decision:
                        raise RecordError("the confederation would not count this ratification: "
                                          f"{ignored['reason']}")
