"""Confederal records in ledgers and mandate logs, and their normalized form for the view.

Written by an assembly in its ledger, as decisions (so each carries its tally,
date and dissent, and can be superseded like any other):
- `charter-acceptance`: subject = the charter id; the assembly consents to membership;
- `proposal`: the assembly puts a proposal to a confederation; the decision entry
  gains a `proposal` map (confederation, kind, subject, amendment);
- `ratification`: subject = the proposal id; the tally is the assembly's own vote;
- `recall` (ledger.py) gains `saw`: the mandate log heads the recalling device held.
Only adopted decisions take effect (federation/bylaws.py judges them); the
records say each one's outcome so that the view can tell why one is ignored.
Written by a delegate in `mandate/<assembly>/<mandate>`: one root entry per act
(vote, withdraw, sign, report) with `saw`, the ledger heads the delegate's device
held, `replaces`, the earlier act on the same proposal it stands in for, and `by`,
the key of the delegate or co-delegate who acted (the change's signer).

`ledger_records` and `mandate_log_records` turn documents into plain, JSON-ready
records (protocol-spec/view.md, "Records"): everything the view needs and
nothing else, so the view is a pure function of them, and the daemon can keep
them indexed per document head.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from automerge.core import ROOT, Document, ObjType, Transaction

from .amvalues import Plain, ensure_map, entry_op, put_value, read_entry, read_map, read_root
from .bylaws import judge
from .charter import AMENDABLE, CHARTER_ID_RE, read_charter
from .docids import RECORD_ID_RE
from .draws import SORTITION, steps_of
from .economy import RECORD_REF_RE, economy_of
from .keys import KEY_TEXT_CHARS, key_text, parse_key
from .ledger import ECONOMY_COLLECTIONS, MAX_TEXT_CHARS, Binding, Decision, Ledger, Position, read_ledger
from .rotation import breaches

ACCEPTANCE = "charter-acceptance"
PROPOSAL = "proposal"
RATIFICATION = "ratification"
PROPOSAL_ID_RE = re.compile(rf"^[a-z2-7]{{{KEY_TEXT_CHARS}}}/[a-z2-7]{{16}}$")
Record = dict[str, Any]


class ProposalKind(str, Enum):
    POLICY = "policy"
    ADMIT = "admit"  # subject: an assembly key or a confederation id
    AMEND = "amend"  # amendment: the rules it changes
    SUSPEND = "suspend"  # subject: a member
    JOIN = "join"  # subject: a higher confederation this one joins (its consent)
    COMMONS = "commons"  # subject: ASSEMBLY_KEY/RECORD_ID of a `commons` record: adopts its rules of use


class ActKind(str, Enum):
    VOTE = "vote"
    WITHDRAW = "withdraw"  # withdraws the delegate's standing vote on a proposal
    SIGN = "sign"
    REPORT = "report"


def proposal_id(assembly: bytes, decision_id: str) -> str:
    """A proposal's id names the proposing assembly, so no assembly can forge another's."""
    return f"{key_text(assembly)}/{decision_id}"


def is_member_unit(text: str) -> bool:
    """An assembly key or a confederation (charter) id."""
    if CHARTER_ID_RE.match(text):
        return True
    try:
        parse_key(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ProposalBody:
    confederation: str
    kind: ProposalKind
    subject: str | None
    amendment: dict[str, Plain] | None

    def __post_init__(self) -> None:
        if not CHARTER_ID_RE.match(self.confederation):
            raise ValueError(f"not a confederation id: {self.confederation!r}")
        needs_subject = self.kind in (ProposalKind.ADMIT, ProposalKind.SUSPEND, ProposalKind.JOIN,
                                      ProposalKind.COMMONS)
        if needs_subject != (self.subject is not None):
            raise ValueError(f"a {self.kind.value} proposal {'needs' if needs_subject else 'takes no'}"
                             " subject")
        if self.kind is ProposalKind.COMMONS:
            if not RECORD_REF_RE.match(self.subject or ""):
                raise ValueError("a commons proposal names the commons record ASSEMBLY_KEY/RECORD_ID")
        elif self.subject is not None and not is_member_unit(self.subject):
            raise ValueError(f"not an assembly key or confederation id: {self.subject!r}")
        if self.kind is ProposalKind.JOIN and not CHARTER_ID_RE.match(self.subject or ""):
            raise ValueError("a join proposal names the confederation to join")
        if (self.kind is ProposalKind.AMEND) != (self.amendment is not None):
            raise ValueError("an amend proposal, and only it, carries an amendment")
        if self.amendment is not None and (not self.amendment or not set(self.amendment) <= set(AMENDABLE)):
            raise ValueError(f"an amendment changes some of {', '.join(AMENDABLE)}")


# --- writing ---------------------------------------------------------------------------


def _decision_entry(tx: Transaction, decision_id: str) -> bytes:
    found = tx.get(ensure_map(tx, "decisions"), decision_id)
    if found is None or found[0] != ObjType.Map:
        raise ValueError(f"unknown decision {decision_id}")
    return bytes(found[1])


def write_proposal(tx: Transaction, decision_id: str, body: ProposalBody) -> None:
    """Add the proposal to the decision (of kind `proposal`) that puts it."""
    put_value(tx, _decision_entry(tx, decision_id), "proposal", {
        "confederation": body.confederation, "kind": body.kind.value, "subject": body.subject,
        "amendment": body.amendment})


def write_recall_saw(tx: Transaction, decision_id: str, heads: Sequence[bytes]) -> None:
    """Which acts of the mandate log the recall was made knowing of (their heads)."""
    put_value(tx, _decision_entry(tx, decision_id), "saw", sorted(h.hex() for h in heads))


@dataclass(frozen=True)
class Act:
    id: str
    kind: ActKind
    date: dt.date
    proposal: str | None  # votes
    position: Position | None  # votes
    binding: Binding | None  # votes
    text: str  # the text id co-signed, or the report
    replaces: str | None = None  # votes and withdrawals: the earlier act on the proposal
    by: str | None = None  # the acting delegate's key; None: the mandate's first delegate

    def __post_init__(self) -> None:
        is_vote = self.kind is ActKind.VOTE
        if is_vote != (self.position is not None and self.binding is not None):
            raise ValueError("a vote, and only a vote, names a position and a binding")
        if (is_vote or self.kind is ActKind.WITHDRAW) != (self.proposal is not None):
            raise ValueError("a vote or a withdrawal, and only they, name a proposal")
        if self.replaces is not None and (self.proposal is None or not RECORD_ID_RE.match(self.replaces)):
            raise ValueError(f"not an act a vote or withdrawal can replace: {self.replaces!r}")
        if self.proposal is not None and not PROPOSAL_ID_RE.match(self.proposal):
            raise ValueError(f"not a proposal id: {self.proposal!r}")
        if self.kind in (ActKind.SIGN, ActKind.REPORT) and not self.text.strip():
            raise ValueError(f"a {self.kind.value} needs a text")
        if len(self.text) > MAX_TEXT_CHARS:
            raise ValueError("text too long")
        if self.by is not None and not isinstance(self.by, str):
            raise ValueError("by: a delegate's key")


def write_act(tx: Transaction, act: Act, saw: Sequence[bytes]) -> None:
    put_value(tx, ROOT, act.id, {
        "kind": act.kind.value, "date": act.date.isoformat(), "proposal": act.proposal,
        "position": act.position.value if act.position else None,
        "binding": act.binding.value if act.binding else None, "text": act.text,
        "replaces": act.replaces, "saw": sorted(h.hex() for h in saw),
        **({"by": act.by} if act.by is not None else {})})


# --- normalized records ------------------------------------------------------------------


def charter_record(charter_id: str, doc: Document) -> Record | None:
    """The charter as the view reads it, None if the document is not a valid charter."""
    try:
        charter = read_charter(charter_id, read_root(doc))
    except (KeyError, TypeError, ValueError):
        return None
    return {"id": charter.id, "founded": charter.founded.isoformat(),
            "members": list(charter.members), "confederations": list(charter.confederations),
            "rules": charter.rules.plain(), "parity": charter.parity, "rotation": charter.rotation}


def ledger_records(assembly: bytes, doc: Document) -> Record:
    """What one ledger contributes to the view: acceptances, proposals, ratifications, mandates
    (with their rotation breach under the bylaws), draws by lot declared and its commitments
    and reveals; and to the plan: its economy records (federation/economy.py).

    Each decision comes with its outcome under the assembly's bylaws (federation/bylaws.py):
    only an adopted acceptance consents, only an adopted mandate confers anything and only
    an adopted recall recalls; proposals and ratifications carry their outcome for the view."""
    return records_of_ledger(assembly, read_ledger(doc), lambda k: read_entry(doc, "decisions", k),
                             {c: read_map(doc, c) for c in (*ECONOMY_COLLECTIONS, SORTITION)})


def records_of_ledger(assembly: bytes, ledger: Ledger, decision_entry: Callable[[str], Plain],
                      entries: Mapping[str, Mapping[str, Plain]]) -> Record:
    """ledger_records from a Ledger that holds at least every decision of a kind other than
    plain `decision`, the decisions superseding those, every mandate and the decisions that
    issued them (the rest changes nothing here: daemon/store/ledgerindex.py reads no more);
    `decision_entry` gives a decision's plain entry, `entries` the plain entries of the
    economy's collections and of `sortition`, by collection."""
    judged = judge(ledger)
    superseded = ledger.superseded()
    in_force = {k: d for k, d in ledger.decisions.items() if k not in superseded}
    acceptances: dict[str, str] = {}
    proposals: dict[str, Record] = {}
    ratifications: dict[str, Record] = {}
    for decision_id, d in sorted(in_force.items(), key=lambda kv: (kv[1].date, kv[0])):
        tally = {"for": d.tally.votes_for, "against": d.tally.against, "abstain": d.tally.abstain,
                 "outcome": judged.verdicts[decision_id].outcome.value}
        if d.kind == ACCEPTANCE and d.subject and CHARTER_ID_RE.match(d.subject):
            if judged.adopted(decision_id):
                acceptances.setdefault(d.subject, d.date.isoformat())
        elif d.kind == RATIFICATION and d.subject and PROPOSAL_ID_RE.match(d.subject):
            ratifications[d.subject] = {"decision": decision_id, "date": d.date.isoformat(),
                                        **tally, "dissent": d.dissent}
        elif d.kind == PROPOSAL:
            raw = decision_entry(decision_id)
            body = _proposal_body(raw.get("proposal") if isinstance(raw, dict) else None)
            if body is not None:
                proposals[decision_id] = {
                    "confederation": body.confederation, "kind": body.kind.value,
                    "subject": body.subject, "amendment": body.amendment, "title": d.title,
                    "text": d.text, "date": d.date.isoformat(), **tally}
    mandates: dict[str, Record] = {}
    recalls = judged.recalls(ledger)
    broken = breaches(ledger, judged)
    for mandate_id, m in ledger.mandates.items():
        issued = ledger.decisions.get(m.decision)
        if issued is None:
            continue
        recall = recalls.get(mandate_id)
        mandates[mandate_id] = {
            "delegate": m.delegate, "delegate_key": m.delegate_key, "council": m.council,
            "from": m.term_from.isoformat(), "until": m.term_until.isoformat(),
            "issued": issued.date.isoformat(), "outcome": judged.verdicts[issued.id].outcome.value,
            "instructions": [{"question": i.question, "position": i.position.value,
                              "binding": i.binding.value} for i in m.instructions],
            "recall": None if recall is None else {"decision": recall.id,
                                                   "date": recall.date.isoformat()},
            "attributes": dict(sorted((m.attributes or {}).items())),
            "co_delegates": [{"delegate": c.delegate, "delegate_key": c.delegate_key,
                              "attributes": dict(sorted(c.attributes.items()))} for c in m.co_delegates],
            "rotation": broken.get(mandate_id)}
    profile = ledger.profile
    return {"assembly": key_text(assembly), "name": profile.name if profile else None,
            "acceptances": acceptances, "proposals": proposals, "ratifications": ratifications,
            "mandates": mandates, "economy": economy_of(entries),
            "draws": {d.id: {"title": d.title, "date": d.date.isoformat(),
                             "adopted": judged.adopted(d.id), "sortition": d.sortition}
                      for d in ledger.decisions.values() if d.kind == SORTITION},
            "sortition": steps_of(entries.get(SORTITION, {}))}


def _proposal_body(raw: Plain) -> ProposalBody | None:
    if not isinstance(raw, dict):
        return None
    try:
        return ProposalBody(str(raw["confederation"]), ProposalKind(raw["kind"]), raw.get("subject"),
                            raw.get("amendment"))
    except (KeyError, TypeError, ValueError):
        return None


def mandate_log_records(assembly: bytes, mandate_id: str, log: Document,
                        ledger: Document) -> Record:
    """The acts of one mandate log, each with what its writer and the recall had seen.

    The recall is the mandate's adopted recall in force (federation/bylaws.py).
    `saw_recall`: the ledger, read at the heads the act names, already held that recall.
    `seen_by_recall`: the mandate log, read at the heads the recall names, held the act.
    Heads that this machine does not hold are left out (they cannot be read)."""
    read = read_ledger(ledger)
    return log_records(assembly, mandate_id, log, judge(read).recall_of(read, mandate_id),
                       lambda recall_id: LedgerDocumentRecall(ledger, recall_id))


class RecallHistory(Protocol):
    """What a mandate log's acts are read against once the mandate has an adopted recall in
    force: that recall's entry in the ledger as held now, and whether the ledger read at some
    heads (the act's `saw`) holds that same entry, made by the same operation. The ledger's
    document answers both (LedgerDocumentRecall); a daemon answers from its index of
    records and its store, without loading the ledger."""

    def entry(self) -> Plain: ...

    def seen_at(self, heads: list[bytes]) -> bool:
        """Whether the ledger read at `heads` (only those held count; none: false) holds the
        recall's entry as `entry` reads it now."""
        ...


class LedgerDocumentRecall:
    """RecallHistory read from the ledger's whole document."""

    def __init__(self, ledger: Document, recall_id: str) -> None:
        self.ledger = ledger
        self.recall_id = recall_id
        self._held: set[bytes] | None = None

    def entry(self) -> Plain:
        return read_entry(self.ledger, "decisions", self.recall_id)

    def seen_at(self, heads: list[bytes]) -> bool:
        if self._held is None:
            self._held = _held_hashes(self.ledger)
        seen = [h for h in heads if h in self._held]
        made = entry_op(self.ledger, "decisions", self.recall_id)
        return bool(seen) and made is not None and entry_op(self.ledger, "decisions", self.recall_id,
                                                            seen) == made


def log_records(assembly: bytes, mandate_id: str, log: Document, adopted_recall: Decision | None,
                history: Callable[[str], RecallHistory]) -> Record:
    """mandate_log_records given the mandate's adopted recall in force; `history` gives what
    the ledger held of that recall (by its id), asked for only when there is one."""
    held = None if adopted_recall is None else history(adopted_recall.id)
    recall = None if held is None else held.entry()
    recall_saw = _heads(recall.get("saw") if isinstance(recall, dict) else None, _held_hashes(log))
    acts_seen_by_recall = set(log.keys(ROOT, recall_saw)) if recall_saw else set()
    acts = act_records(log)
    for act_id, act in acts.items():
        seen = _hashes(act.pop("saw"))
        saw_recall = held is not None and recall is not None and bool(seen) and held.seen_at(seen)
        act.update(saw_recall=saw_recall, seen_by_recall=act_id in acts_seen_by_recall)
    return {"assembly": key_text(assembly), "mandate": mandate_id, "acts": acts}


def act_records(log: Document) -> dict[str, Record]:
    """The well-formed acts of a mandate log by id, with the `saw` heads as written."""
    acts: dict[str, Record] = {}
    for act_id, raw in read_root(log).items():
        act = _act(act_id, raw)
        if act is not None:
            acts[act_id] = {
                "kind": act.kind.value, "date": act.date.isoformat(), "proposal": act.proposal,
                "position": act.position.value if act.position else None,
                "binding": act.binding.value if act.binding else None, "text": act.text,
                "replaces": act.replaces, "by": act.by, "saw": raw.get("saw")}
    return acts


def _held_hashes(doc: Document) -> set[bytes]:
    return {bytes(c.hash) for c in doc.get_changes([])}


def _heads(raw: Plain, held: set[bytes]) -> list[bytes]:
    return [head for head in _hashes(raw) if head in held]


def _hashes(raw: Plain) -> list[bytes]:
    """The hashes a `saw` list names (hex texts; any other item is skipped)."""
    if not isinstance(raw, list):
        return []
    heads = []
    for item in raw:
        try:
            head = bytes.fromhex(item) if isinstance(item, str) else b""
        except ValueError:
            continue
        if head:
            heads.append(head)
    return heads


def _act(act_id: str, raw: Plain) -> Act | None:
    if not RECORD_ID_RE.match(act_id) or not isinstance(raw, dict):
        return None
    try:
        return Act(act_id, ActKind(raw["kind"]), dt.date.fromisoformat(raw["date"]),
                   raw.get("proposal"),
                   None if raw.get("position") is None else Position(raw["position"]),
                   None if raw.get("binding") is None else Binding(raw["binding"]),
                   str(raw.get("text", "")), raw.get("replaces"), raw.get("by"))
    except (KeyError, TypeError, ValueError):
        return None
