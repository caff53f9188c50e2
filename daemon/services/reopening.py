"""Reopening a decision by a minority, and the new vote that answers a reopening.

The rules are federation/reopening.py (protocol-spec/ledger.md, "Minority
reopening"); here they are applied before anything is written: a reopening
that does not meet the bylaws in force is refused with the reader's own
reason, so what this daemon writes, every reader counts.
"""

from __future__ import annotations

import datetime as dt

from pnyx.federation.indexrows import DECISIONS
from pnyx.federation.ledger import Decision, Ledger, Tally, read_decision, read_decisions
from pnyx.federation.reopening import REOPENING, refusal, reopenings

from .records import DecisionInput, Recorder, RecordError, UnknownRecord


def reopen(rec: Recorder, decision_id: str, by: str, asking: int, day: dt.date, why: str) -> str:
    """Record that `asking` members reopen `decision_id` by the condition `by`; its id."""
    target = read_decision(rec.node.docs.get(rec.node.ledger_id), decision_id)
    if target is None or target.kind == REOPENING:
        raise UnknownRecord(f"unknown decision: {decision_id}")
    d = DecisionInput(f"Reopening of {target.title}", why, day, Tally(asking, 0, 0))
    candidate = Decision("candidate", d.title, d.text, day, d.tally, None, "", None, REOPENING,
                         target.id, reopening={"by": by})
    refused = refusal(Ledger(None, {}, rec.decisions([decision_id]), {}, {}), rec.bylaws(), candidate)
    if refused is not None:
        raise RecordError(f"the reopening does not meet the bylaws: {refused}")
    return rec.decide(d, kind=REOPENING, subject=target.id, reopening={"by": by})


def revote(rec: Recorder, reopening_id: str, d: DecisionInput) -> str:
    """The new vote answering a valid reopening: it supersedes the decision reopened."""
    valid, ignored = reopenings(about(rec, reopening_id), rec.bylaws())
    found = [(decision, r) for decision, r in valid.items() if r.reopening == reopening_id]
    if not found:
        why = ignored.get(reopening_id, "no reopening of this ledger has that id")
        raise RecordError(f"{reopening_id} reopens nothing: {why}")
    (decision_id, reopened), = found
    if reopened.revote is not None:
        raise RecordError(f"the reopening {reopening_id} was answered by {reopened.revote}")
    if d.supersedes not in (None, decision_id):
        raise RecordError(f"a new vote on a reopening supersedes the decision reopened, {decision_id}")
    return rec.decide(DecisionInput(d.title, d.text, d.date, d.tally, d.quorum, d.dissent, decision_id),
                      revote_of=reopening_id)


def about(rec: Recorder, reopening_id: str) -> Ledger:
    """What `reopenings` needs of the ledger to judge one reopening, from the index of records:
    the decision it names, every reopening of that decision and the new votes answering
    them (reopenings are judged per decision reopened: federation/reopening.py)."""
    reopening = rec.decisions([reopening_id]).get(reopening_id)
    if reopening is None or reopening.kind != REOPENING or reopening.subject is None:
        return Ledger(None, {}, {}, {}, {})
    index, doc_id = rec.index(), rec.node.ledger_id
    with index.reading(doc_id):
        raw = index.referring(doc_id, DECISIONS, "subject", [reopening.subject])
        raw.update(index.referring(doc_id, DECISIONS, "revote_of", raw))
        raw.update(index.by_id(doc_id, DECISIONS, [reopening.subject]))
    return Ledger(None, {}, read_decisions(raw), {}, {})
