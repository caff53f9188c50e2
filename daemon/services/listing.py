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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from pnyx.federation.bylaws import Verdict, judge
from pnyx.federation.indexrows import DECISIONS, MANDATES
from pnyx.federation.ledger import (
    Decision,
    Ledger,
    Mandate,
    Profile,
    ledger_of,
    read_decisions,
    read_mandates,
)
from pnyx.federation.reopening import REOPENING, reopenings
from pnyx.federation.rotation import breaches, person

from ..store.ledgerindex import LedgerIndex
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


# --- from the index of records (daemon/store/ledgerindex.py), a page at a time --------------


@dataclass(frozen=True)
class Listing:
    """Rows of one collection, `total` how many there are in all, and every void record."""

    rows: list[Row]
    total: int
    void: dict[str, str]


class Lister(Protocol):
    """decision_listing or mandate_listing."""

    def __call__(self, index: LedgerIndex, doc_id: str, profile: Profile | None,
                 limit: int | None = None, ids: Iterable[str] | None = None) -> Listing: ...


def decision_listing(index: LedgerIndex, doc_id: str, profile: Profile | None,
                     limit: int | None = None, ids: Iterable[str] | None = None) -> Listing:
    """The decisions `decision_rows` gives for the whole ledger: the newest `limit` (all with
    None), or those of `ids`. Only the records their rows depend on are read: the page,
    every bylaws decision (which judge them), the decisions superseding them, reopening
    them or answering their reopenings, and the decisions the page's reopenings name."""
    with index.reading(doc_id):
        total, void = index.count(doc_id, DECISIONS), index.void(doc_id)
        if limit is None and ids is None:
            every = ledger_of(profile, {}, index.records(doc_id, DECISIONS), {}, {})
            return Listing(decision_rows(every), total, void)
        page = (index.by_id(doc_id, DECISIONS, ids) if ids is not None
                else index.newest(doc_id, DECISIONS, limit or 0))
        reopening = index.referring(doc_id, DECISIONS, "subject", page)
        answering = index.referring(doc_id, DECISIONS, "revote_of", {*page, *reopening})
        named = index.by_id(doc_id, DECISIONS, [d.subject for d in read_decisions(page).values()
                                                if d.kind == REOPENING and d.subject])
        needed = {**index.bylaws(doc_id), **index.referring(doc_id, DECISIONS, "supersedes", page),
                  **reopening, **answering, **named, **page}
    rows = decision_rows(ledger_of(profile, {}, needed, {}, {}))
    return Listing([row for row in rows if row["id"] in page], total, void)


def mandate_listing(index: LedgerIndex, doc_id: str, profile: Profile | None,
                    limit: int | None = None, ids: Iterable[str] | None = None) -> Listing:
    """The mandates `mandate_rows` gives for the whole ledger: the newest `limit` by the date
    of their issuing decision (all with None), or those of `ids`. Read besides the page: the
    bylaws decisions, the issuing decisions, the recalls naming the page and what supersedes
    them, and, once the bylaws limit rotation, the same person's other mandates with their
    issuing decisions."""
    with index.reading(doc_id):
        total, void = index.count(doc_id, MANDATES), index.void(doc_id)
        if limit is None and ids is None:
            every = ledger_of(profile, {}, index.records(doc_id, DECISIONS),
                              index.records(doc_id, MANDATES), {})
            return Listing(mandate_rows(every), total, void)
        page = (index.by_id(doc_id, MANDATES, ids) if ids is not None
                else index.newest(doc_id, MANDATES, limit or 0))
        bylaws = index.bylaws(doc_id)
        judged = judge(ledger_of(profile, {}, bylaws, {}, {}))
        persons = {person(m.delegate_key, m.delegate) for m in read_mandates(page).values()
                   if any(b.rotation for _, _, b in judged.history)}  # else no mandate breaks it
        mandates = {**index.referring(doc_id, MANDATES, "person", persons), **page}
        recalls = index.referring(doc_id, DECISIONS, "subject", page)
        issuing = index.by_id(doc_id, DECISIONS, [m.decision for m in read_mandates(mandates).values()])
        needed = {**bylaws, **issuing, **recalls,
                  **index.referring(doc_id, DECISIONS, "supersedes", recalls)}
    rows = mandate_rows(ledger_of(profile, {}, needed, mandates, {}))
    return Listing([row for row in rows if row["id"] in page], total, void)


def delegate_rows(index: LedgerIndex, doc_id: str, profile: Profile | None) -> Row:
    """What the page's Delegates view shows of a ledger beside the confederal view, whatever
    page of its records it lists: every mandate's row (the view lists every mandate) and the
    rows of the adopted recalls they name. Read by id: no plain decision is read but those."""
    with index.reading(doc_id):
        mandates = mandate_listing(index, doc_id, profile, ids=index.ids(doc_id, MANDATES)).rows
        recalls = decision_listing(index, doc_id, profile,
                                   ids=[m["recalled_by"] for m in mandates if m["recalled_by"]]).rows
    return {"mandates": mandates, "recalls": recalls}


def device_rows(index: LedgerIndex, doc_id: str) -> list[Row]:
    """Every device of a ledger, by key, from the table of devices kept beside the index of
    records (daemon/store/devicesindex.py): as read_devices reads the document, without it."""
    with index.reading(doc_id):
        rows: list[Row] = to_jsonable(list(index.devices.devices(doc_id).values()))
    return rows


def indexed_bylaws_row(index: LedgerIndex, doc_id: str, profile: Profile | None, day: dt.date) -> Row:
    """`bylaws_row` from the bylaws decisions alone: only they make the bylaws."""
    with index.reading(doc_id):
        bylaws = index.bylaws(doc_id)
    return bylaws_row(ledger_of(profile, {}, bylaws, {}, {}), day)
