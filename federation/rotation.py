"""Rotation: how long one person may hold a mandate to one council (protocol-spec/ledger.md,
"Rotation").

The bylaws' `rotation` map limits a person's mandates to a council to
`consecutive_terms` terms in a row, and/or to `days` days held within any
`period_days` days. A person is the mandate's `delegate_key` when it has one,
else its `delegate` name; terms are consecutive when one starts at the latest
the day after the previous ends. Only adopted mandates count (a mandate voted
down confers nothing). A mandate is judged by the bylaws in force at the date
of the decision that issued it, against the adopted mandates of the same
ledger whose terms start no later than its own: a later mandate never makes
an earlier one break the rule.
"""

from __future__ import annotations

import datetime as dt

from .bylaws import Judged
from .ledger import Ledger, Mandate

ONE_DAY = dt.timedelta(days=1)


def person(m: Mandate) -> str:
    return m.delegate_key or f"name:{m.delegate.strip()}"


def breach(ledger: Ledger, judged: Judged, mandate: Mandate, issued_on: dt.date | None = None,
           others: list[Mandate] | None = None) -> str | None:
    """Why `mandate` breaks the rotation in force when it was issued (`issued_on`, by default
    the date of its decision), or None."""
    issued = ledger.decisions.get(mandate.decision)
    day = issued_on or (issued.date if issued else None)
    if day is None:
        return None
    rules = judged.bylaws_at(day)[1].rotation
    if not rules:
        return None
    pool = others if others is not None else [m for m in ledger.mandates.values()
                                              if judged.adopted(m.decision)]
    held = sorted((m for m in pool if m.id != mandate.id and person(m) == person(mandate)
                   and m.council == mandate.council and m.term_from <= mandate.term_from),
                  key=lambda m: (m.term_from, m.id))
    limit = rules.get("consecutive_terms")
    if limit is not None:
        run, start = 1, mandate.term_from
        for m in reversed(held):
            if m.term_until + ONE_DAY < start:
                break
            run, start = run + 1, min(start, m.term_from)
        if run > limit:
            return f"{run} consecutive terms to {mandate.council}; the bylaws allow {limit}"
    if "days" in rules:
        window_start = mandate.term_until - dt.timedelta(days=rules["period_days"] - 1)
        days = 0
        for m in [*held, mandate]:
            lo, hi = max(m.term_from, window_start), min(m.term_until, mandate.term_until)
            days += max(0, (hi - lo).days + 1)
        if days > rules["days"]:
            return (f"{days} days held in {rules['period_days']} to {mandate.council}; "
                    f"the bylaws allow {rules['days']}")
    return None


def breaches(ledger: Ledger, judged: Judged) -> dict[str, str]:
    """mandate id -> why it breaks the rotation, for every adopted mandate that does."""
    adopted = [m for m in ledger.mandates.values() if judged.adopted(m.decision)]
    out = {}
    for m in adopted:
        why = breach(ledger, judged, m, others=adopted)
        if why is not None:
            out[m.id] = why
    return out
