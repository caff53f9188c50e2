"""Parity per council and member: whether each member's delegation meets its charter's parity.

The rule is federation/parity.py (protocol-spec/charter.md, "Parity"), computed
inside the confederal view (view.md, a confederation's `parity`); this module
serves it per council, as `GET /api/v1/parity` and `pnyx parity` show it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..store.viewindex import ViewIndex

Row = dict[str, Any]


def parity_rows(view: ViewIndex, day: dt.date) -> list[Row]:
    """Per confederation held whose charter requires parity: each member's delegation and whether
    it meets it, as the view judges it on `day`."""
    rendered = json.loads(view.render(day))
    return [{"confederation": c["id"], "name": c["rules"]["name"], "as_of": day.isoformat(),
             "parity": c["parity"]["rule"], "members": c["parity"]["members"], "met": c["parity"]["met"]}
            for c in rendered["confederations"] if c["parity"] is not None]
