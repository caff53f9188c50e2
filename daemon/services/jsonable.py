"""Records as plain JSON values: what the API answers and `--json` prints are the same shape."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from typing import Any

from pnyx.federation.ledger import Tally


def to_jsonable(value: Any) -> Any:
    """Dataclasses, dates, enums and bytes made into plain JSON values.

    A tally is `{for, against, abstain}`, the one vocabulary of the API, the view and
    the ledger's own fields (Python only calls it `votes_for`, `for` being a keyword)."""
    if isinstance(value, Tally):
        return {"for": value.votes_for, "against": value.against, "abstain": value.abstain}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [to_jsonable(v) for v in value]
        return sorted(items) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    return value
