"""Rotation: how long one person may hold a mandate to one council (protocol-spec/ledger.md,
"Rotation"; the charter's limits for its own council: charter.md, "Rotation").

A `rotation` map (the bylaws', or a charter's) limits a person's mandates to a
council to `consecutive_terms` terms in a row, and/or to `days` days held
within any `period_days` days. A person is the mandate's `delegate_key` when
it has one, else its `delegate` name; terms are consecutive when one starts at
the latest the day after the previous ends. Only adopted mandates count (a
mandate voted down confers nothing), and only the issuing ledger's: a mandate
is judged against the mandates of the same ledger whose terms start no later
than its own, so a later mandate never makes an earlier one break the rule.
The bylaws judging a mandate are those in force at the date of its issuing
decision; a charter's rotation never changes (a new charter is a new council).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .amvalues import Plain
from .ledger import Ledger, Mandate

if TYPE_CHECKING:
    from .bylaws import Judged

ONE_DAY = dt.timedelta(days=1)
ROTATION_KEYS = ("consecutive_terms", "days", "period_days")
MAX_LIMIT = 36500


def parse_rotation(value: Plain) -> dict[str, Any] | None:
    """A `rotation` map (the bylaws', or a charter's for its council), checked; ValueError
    for anything else. None: no limit."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value or set(value) - set(ROTATION_KEYS):
        raise ValueError(f"rotation: a map of {', '.join(ROTATION_KEYS)}")
    out: dict[str, Any] = {}
    for key in ROTATION_KEYS:
        if key in value:
            n = value[key]
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_LIMIT:
                raise ValueError(f"rotation.{key}: a whole number from 1, not {n!r}")
            out[key] = n
    if ("days" in out) != ("period_days" in out):
        raise ValueError("rotation: days and period_days go together")
    return out


@dataclass(frozen=True)
class Term:
    """One adopted mandate as rotation sees it: whose, to which council, from when to when."""

    id: str
    person: str
    council: str
    start: dt.date
    end: dt.date


def person(delegate_key: str | None, delegate: str) -> str:
    return delegate_key or f"name:{delegate.strip()}"


def term(m: Mandate) -> Term:
    return Term(m.id, person(m.delegate_key, m.delegate), m.council, m.term_from, m.term_until)


def exceeds(rules: Mapping[str, int], mandate: Term, pool: Iterable[Term], allows: str) -> str | None:
    """Why `mandate` breaks `rules` (RT1, RT2) given the other terms of its ledger, or None.
    `allows` names whose limit it is, as the reason says it ("the bylaws allow")."""
    held = sorted((t for t in pool if t.id != mandate.id and t.person == mandate.person
                   and t.council == mandate.council and t.start <= mandate.start),
                  key=lambda t: (t.start, t.id))
    limit = rules.get("consecutive_terms")
    if limit is not None:
        run, start = 1, mandate.start
        for t in reversed(held):
            if t.end + ONE_DAY < start:
                break
            run, start = run + 1, min(start, t.start)
        if run > limit:
            return f"{run} consecutive terms to {mandate.council}; {allows} {limit}"
    if "days" in rules:
        window_start = mandate.end - dt.timedelta(days=rules["period_days"] - 1)
        days = 0
        for t in [*held, mandate]:
            lo, hi = max(t.start, window_start), min(t.end, mandate.end)
            days += max(0, (hi - lo).days + 1)
        if days > rules["days"]:
            return (f"{days} days held in {rules['period_days']} to {mandate.council}; "
                    f"{allows} {rules['days']}")
    return None


def breach(ledger: Ledger, judged: Judged, mandate: Mandate, issued_on: dt.date | None = None,
           others: list[Mandate] | None = None) -> str | None:
    """Why `mandate` breaks the bylaws' rotation in force when it was issued (`issued_on`, by
    default the date of its decision), or None."""
    issued = ledger.decisions.get(mandate.decision)
    day = issued_on or (issued.date if issued else None)
    if day is None:
        return None
    rules = judged.bylaws_at(day)[1].rotation
    if not rules:
        return None
    pool = others if others is not None else [m for m in ledger.mandates.values()
                                              if judged.adopted(m.decision)]
    return exceeds(rules, term(mandate), map(term, pool), "the bylaws allow")


def charter_breach(rules: Mapping[str, int], council: str, names: set[str], mandate: Term,
                   pool: Iterable[Term]) -> str | None:
    """Why `mandate` breaks a charter's rotation for council `council` (its id), whose
    mandates name it by any of `names` (its id or its charter name), or None (RT3)."""
    def same(t: Term) -> Term:
        return Term(t.id, t.person, council, t.start, t.end)

    if mandate.council not in names:
        return None
    return exceeds(rules, same(mandate), (same(t) for t in pool if t.council in names),
                   "the charter allows")


def breaches(ledger: Ledger, judged: Judged) -> dict[str, str]:
    """mandate id -> why it breaks the bylaws' rotation, for every adopted mandate that does."""
    adopted = [m for m in ledger.mandates.values() if judged.adopted(m.decision)]
    out = {}
    for m in adopted:
        why = breach(ledger, judged, m, others=adopted)
        if why is not None:
            out[m.id] = why
    return out
