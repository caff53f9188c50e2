"""Minority reopening: what a minority needs to bring a decision back, and whether it had it.

protocol-spec/ledger.md "Minority reopening" is normative. The bylaws key
`reopening` sets the conditions, either or both of:

- `share`: a share `p/q` of the members (the bylaws' `members` at the
  reopening's date) asks for it, whenever;
- `dissent_days`: the dissenting side (at least as many members as voted
  against the decision) asks for it within that many days of the decision.

A reopening is a record of kind `reopening` in the decisions of the same
ledger: `subject` names the decision, `for` counts the members asking, and
its `reopening` map says which condition it claims (`{"by": "share"}` or
`{"by": "dissent"}`). It is not a vote of the assembly: its outcome is not a
majority's but whether the condition was met, under the bylaws in force at
its date. The writer refuses one that does not meet it; every reader ignores
it (and says why). The new vote on a reopened decision is a decision that
names the reopening in `reopening` and supersedes the decision reopened, so
the history stays readable: decision, reopening, new vote.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from .bylaws import BY_DISSENT, BY_SHARE, Judged
from .ledger import Decision, Ledger

REOPENING = "reopening"  # the decision kind, and the bylaws key


@dataclass(frozen=True)
class Reopened:
    reopening: str  # the reopening's id
    by: str  # the condition it met
    revote: str | None  # the new vote naming it, if any


def refusal(ledger: Ledger, judged: Judged, reopening: Decision) -> str | None:
    """Why `reopening` does not reopen its subject, or None when it does."""
    target = ledger.decisions.get(reopening.subject or "")
    if target is None or target.kind == REOPENING:
        return "it names no decision of this ledger"
    if reopening.date < target.date:
        return f"it is dated before the decision ({target.date})"
    conditions = judged.bylaws_at(reopening.date)[1].reopening
    by = (reopening.reopening or {}).get("by")
    asking = reopening.tally.votes_for
    if not conditions or by not in ((BY_SHARE,) if BY_SHARE in conditions else ()) + \
            ((BY_DISSENT,) if "dissent_days" in conditions else ()):
        return f"the bylaws in force on {reopening.date} allow no reopening by {by!r}"
    if by == BY_SHARE:
        members = judged.bylaws_at(reopening.date)[1].members
        if members is None:
            return "the bylaws do not say how many members there are"
        if asking < Fraction(conditions[BY_SHARE]) * members:
            return f"{asking} members asked; the bylaws require {conditions[BY_SHARE]} of {members}"
        return None
    last = target.date + dt.timedelta(days=conditions["dissent_days"])
    if reopening.date > last:
        return f"the dissenting side could reopen it until {last}"
    if asking < max(1, target.tally.against):
        return f"{asking} members asked; the dissenting side was {target.tally.against}"
    return None


def reopenings(ledger: Ledger, judged: Judged) -> tuple[dict[str, Reopened], dict[str, str]]:
    """(decision id -> its first valid reopening by (date, id), reopening id -> why ignored)."""
    valid: dict[str, Reopened] = {}
    ignored: dict[str, str] = {}
    revotes: dict[str, str] = {}
    for d in sorted(ledger.decisions.values(), key=lambda d: (d.date, d.id)):
        if d.revote_of:
            revotes.setdefault(d.revote_of, d.id)
    for d in sorted(ledger.decisions.values(), key=lambda d: (d.date, d.id)):
        if d.kind != REOPENING:
            continue
        why = refusal(ledger, judged, d)
        if why is not None:
            ignored[d.id] = why
        elif d.subject not in valid:
            valid[d.subject or ""] = Reopened(d.id, str((d.reopening or {}).get("by")), revotes.get(d.id))
    return valid, ignored
