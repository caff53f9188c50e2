"""Records as the API answers and `--json` prints them: by date, with outcome, names and bylaws.

One shape for both, so that a script reading `pnyx show decisions --json` and
one reading GET /api/v1/decisions see the same fields: every decision with
its tally (`for`, `against`, `abstain`), its outcome under the bylaws in force
at its date and why, and whether a later decision superseded it; every
mandate with the outcome of the decision that issued it and the adopted
recall, if any.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pnyx.federation.bylaws import Verdict, judge
from pnyx.federation.ledger import Decision, Ledger, Mandate
from pnyx.federation.reopening import reopenings
from pnyx.federation.rotation import breaches

from .jsonable import to_jsonable

Row = dict[str, Any]


def decision_row(decision: Decision, verdict: Verdict, superseded: bool) -> Row:
    row: Row = to_jsonable(decision)
    row.update(superseded=superseded, outcome=verdict.outcome.value, reason=verdict.reason,
               judged_by=verdict.bylaws, reopened_by=None, revote=None, ignored=None)
    return row


def decision_rows(ledger: Ledger) -> list[Row]:
    """Every decision, in order of (date, id), with its minority reopening (federation/reopening.py):
    a reopened decision names its valid reopening (`reopened_by`) and the new vote answering it
    (`revote`); a reopening that does not meet the bylaws says why it is `ignored`."""
    judged, superseded = judge(ledger), ledger.superseded()
    reopened, ignored = reopenings(ledger, judged)
    rows = []
    for d in sorted(ledger.decisions.values(), key=lambda d: (d.date, d.id)):
        row = decision_row(d, judged.verdicts[d.id], d.id in superseded)
        found = reopened.get(d.id)
        row.update(reopened_by=found.reopening if found else None, revote=found.revote if found else None)
        row["ignored"] = ignored.get(d.id)
        rows.append(row)
    return rows


def mandate_row(mandate: Mandate, issued: Decision | None, verdict: Verdict | None,
                recall: Decision | None) -> Row:
    """A mandate with `issued` and `outcome` (of its issuing decision) and `recalled_by`:
    its adopted recall."""
    row: Row = to_jsonable(mandate)
    row.update(outcome=verdict.outcome.value if verdict else None,
               issued=issued.date.isoformat() if issued else None,
               recalled_by=recall.id if recall else None)
    return row


def mandate_rows(ledger: Ledger) -> list[Row]:
    """Every mandate, in order of the date of its issuing decision; `rotation` says why one
    breaks the bylaws' rotation (federation/rotation.py), null when it does not."""
    judged = judge(ledger)
    recalls = judged.recalls(ledger)
    rotation = breaches(ledger, judged)
    rows = [mandate_row(m, ledger.decisions.get(m.decision), judged.verdicts.get(m.decision),
                        recalls.get(m.id)) | {"rotation": rotation.get(m.id)}
            for m in ledger.mandates.values()]
    return sorted(rows, key=lambda r: (r["issued"] or "", r["id"]))


def bylaws_row(ledger: Ledger, day: dt.date) -> Row:
    """The bylaws in force for a decision dated `day`, and every adopted change of them."""
    judged = judge(ledger)
    source, bylaws = judged.bylaws_at(day)
    return {"in_force": bylaws.plain(), "decision": source, "as_of": day.isoformat(),
            "history": [{"after": since.isoformat(), "decision": decision, "bylaws": b.plain()}
                        for since, decision, b in judged.history[1:]],
            "ill_formed": judged.ill_formed}
