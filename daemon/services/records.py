"""Recording on this assembly's ledger: what a secretary does, as one signed change each.

Every operation validates its input against the ledger as held before
writing anything, then makes one Automerge change with this run's fresh
actor, signs it with the device key and stores it through the same checks as
a received change, inside one store transaction: it returns only after the
commit, and on any error nothing is written.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from automerge.core import Document, Transaction
from pnyx.federation.amvalues import read_entry
from pnyx.federation.bylaws import (
    BYLAWS,
    FIELDS,
    MAX_COUNT,
    RECALL,
    Bylaws,
    Judged,
    Outcome,
    Verdict,
    judge,
    outcome,
)
from pnyx.federation.charter import Charter, charter_change
from pnyx.federation.chunk import parse_change
from pnyx.federation.confed import (
    ACCEPTANCE,
    PROPOSAL,
    RATIFICATION,
    Act,
    ActKind,
    ProposalBody,
    Record,
    act_records,
    proposal_id,
    write_act,
    write_proposal,
    write_recall_saw,
)
from pnyx.federation.delegates import standing_act
from pnyx.federation.docids import charter_doc_id, ledger_id, mandate_doc_id
from pnyx.federation.envelope import check_envelope, run_actor, sign_change
from pnyx.federation.indexrows import DECISIONS, MANDATES
from pnyx.federation.keys import SigningKey, key_text, parse_key
from pnyx.federation.ledger import (
    MAX_TEXT_CHARS,
    CoDelegate,
    Decision,
    Instruction,
    Ledger,
    Mandate,
    Profile,
    Tally,
    read_decision,
    read_decisions,
    read_device,
    read_ledger,
    read_mandate,
    read_mandates,
    write_decision,
    write_device,
    write_genesis,
    write_mandate,
    write_revocation,
)
from pnyx.federation.rotation import breach, charter_breach, term

from ..store.ledgerindex import LedgerIndex
from ..store.node import Node
from ..store.viewindex import ViewIndex, indexed_ledger_records
from .errors import RecordError, UnknownRecord
from .judging import ViewCheck
from .names import charter_rotations, held_decision

__all__ = ["DecisionInput", "RecordError", "Recorder", "UnknownRecord", "new_record_id", "utc_today"]


def check_lengths(**texts: str) -> None:
    """Longer texts would be written but skipped by every reader of the ledger."""
    for name, text in texts.items():
        if len(text) > MAX_TEXT_CHARS:
            raise RecordError(f"the {name} is longer than {MAX_TEXT_CHARS} characters")


def utc_today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def new_record_id() -> str:
    return base64.b32encode(os.urandom(10)).decode("ascii").lower()


@dataclass(frozen=True)
class DecisionInput:
    title: str
    text: str
    date: dt.date
    tally: Tally
    quorum: int | None = None
    dissent: str = ""
    supersedes: str | None = None


class Recorder:
    """Writes this device's changes; one fresh actor id per Recorder (per run).

    `today` is the clock records are checked against (no decision after today);
    `view` is the daemon's view index, if it has one, to judge what a new record
    would count for before it is written."""

    def __init__(self, node: Node, today: Callable[[], dt.date] = utc_today,
                 view: ViewIndex | None = None) -> None:
        self.node = node
        self.today = today
        self._view = view
        self._actors: dict[bytes, bytes] = {}

    def view(self) -> ViewCheck:
        if self._view is None:
            self._view = ViewIndex(self.node.store, self.node.docs)
        return ViewCheck(self._view, self.node.ledger_id, self.today())

    def _actor(self, key: SigningKey) -> bytes:
        """This run's actor id for `key`: fresh per run, bound to the key."""
        if key.public not in self._actors:
            self._actors[key.public] = run_actor(key.public, os.urandom(8))
        return self._actors[key.public]

    def ledger(self) -> Ledger:
        return read_ledger(self.node.docs.get(self.node.ledger_id))

    def judged(self) -> tuple[Ledger, Judged]:
        """The whole ledger with every decision judged (reads every record: for reads)."""
        ledger = self.ledger()
        return ledger, judge(ledger)

    def index(self) -> LedgerIndex:
        """The index of records (daemon/store/ledgerindex.py), which the checks of a write read
        instead of the whole ledger: each lookup costs the same whatever the ledger's size."""
        return self.node.ingestor.ledgers

    def bylaws(self) -> Judged:
        """The bylaws through time, judged from the ledger's `bylaws` decisions alone: only they
        decide the bylaws, so a write reads just them, from the index of records, never the
        whole ledger."""
        index, doc_id = self.index(), self.node.ledger_id
        with index.reading(doc_id):
            found = read_decisions(index.bylaws(doc_id))
        return judge(Ledger(self.node.docs.profile(doc_id), {}, found, {}))

    def verdict(self, decision: Decision, bylaws: Judged | None = None) -> Verdict:
        """A decision's outcome under the bylaws in force at its date (`bylaws`, if the caller
        has them, else read)."""
        source, rules = (bylaws or self.bylaws()).bylaws_at(decision.date)
        result, reason = outcome(decision.tally, decision.quorum, rules)
        return Verdict(result, reason, source)

    def decisions(self, ids: list[str]) -> dict[str, Decision]:
        """The decisions of these ids that every reader shows (not void, well-formed)."""
        index, doc_id = self.index(), self.node.ledger_id
        with index.reading(doc_id):
            return read_decisions(index.by_id(doc_id, DECISIONS, ids))

    def standing_about(self, subject: str, kind: str) -> list[Decision]:
        """The decisions of `kind` about `subject` (a mandate, a charter, a proposal) that no
        decision supersedes, by id: what judge() and Ledger.superseded() would find among
        the whole ledger, read from the index of records."""
        index, doc_id = self.index(), self.node.ledger_id
        with index.reading(doc_id):
            about = {k: d for k, d in read_decisions(index.referring(
                doc_id, DECISIONS, "subject", [subject])).items() if d.kind == kind}
            superseding = read_decisions(index.referring(doc_id, DECISIONS, "supersedes", about))
        superseded = {d.supersedes for d in superseding.values()}
        return [d for k, d in sorted(about.items()) if k not in superseded]

    def adopted_recall(self, mandate_id: str, bylaws: Judged) -> Decision | None:
        """The adopted recall in force of a mandate, the earliest by (date, id), as
        Judged.recall_of finds it."""
        recalls = sorted((d.date, d.id, d) for d in self.standing_about(mandate_id, RECALL)
                         if self.verdict(d, bylaws).outcome is Outcome.ADOPTED)
        return recalls[0][2] if recalls else None

    def write(self, doc_id: str, edit: Callable[[Transaction], None],
              key: SigningKey | None = None, check: Callable[[Document], None] | None = None) -> bytes:
        """Make, sign (by default with the device key) and store one change to `doc_id`.

        `check` sees the document with the change made and may refuse it (RecordError):
        then nothing is written."""
        node = self.node
        signer = key or node.device_key
        with node.store.transaction():
            doc = node.docs.get(doc_id)
            doc.set_actor(self._actor(signer))
            heads = doc.get_heads()
            try:
                with doc.transaction() as tx:
                    edit(tx)
                if check is not None:
                    check(doc)
            except BaseException:
                node.docs.forget(doc_id)
                raise
            changes = doc.get_changes(heads)
            if len(changes) != 1:
                node.docs.forget(doc_id)
                raise RecordError("nothing to record")
            envelope = sign_change(signer, doc_id, changes[0].raw_bytes)
            node.ingestor.record_local(check_envelope(envelope))
            return bytes(changes[0].hash)

    # --- the assembly ---------------------------------------------------------------

    def found(self, profile: Profile) -> None:
        """The genesis change: profile and this device's certificate, by the assembly key."""
        assembly_key = self._assembly_key()
        device = self.node.device_key.public

        def edit(tx: Transaction) -> None:
            write_genesis(tx, profile)
            write_device(tx, assembly_key, device, "founding device")

        self.write(self.node.ledger_id, edit, key=assembly_key)

    def _assembly_key(self) -> SigningKey:
        if self.node.assembly_key is None:
            raise RecordError("this device does not hold the assembly key")
        return self.node.assembly_key

    def _ledger_doc(self) -> Document:
        return self.node.docs.get(self.node.ledger_id)

    def require_certified(self) -> None:
        if read_device(self._ledger_doc(), key_text(self.node.device_key.public)) is None:
            raise RecordError(
                "this device is not certified by its assembly yet: run `pnyx device add "
                f"{key_text(self.node.device_key.public)}` where the assembly key is, then sync")

    # --- decisions ------------------------------------------------------------------

    def decide(self, d: DecisionInput, kind: str = "decision", subject: str | None = None,
               extra: Callable[[Transaction, str], None] | None = None,
               check: Callable[[Document, str], None] | None = None, **fields: Any) -> str:
        """Record a decision; `extra` writes more in the same change, `check` judges the
        ledger with it (both given the decision's id); `fields` are the decision's fields of
        its kind (`bylaws`, `sortition`, `reopening`, `revote_of`: federation/ledger.py)."""
        self.require_certified()
        if d.supersedes is not None and read_decision(self._ledger_doc(), d.supersedes) is None:
            raise RecordError(f"unknown decision to supersede: {d.supersedes}")
        if not d.title.strip():
            raise RecordError("a decision needs a title")
        check_lengths(title=d.title, text=d.text, dissent=d.dissent)
        check_vote(d, self.bylaws().bylaws_at(d.date)[1], self.today())
        decision = Decision(new_record_id(), d.title, d.text, d.date, d.tally, d.quorum, d.dissent,
                            d.supersedes, kind, subject, **fields)

        def edit(tx: Transaction) -> None:
            write_decision(tx, decision)
            if extra is not None:
                extra(tx, decision.id)

        self.write(self.node.ledger_id, edit,
                   check=None if check is None else lambda doc: check(doc, decision.id))
        return decision.id

    def will_adopt(self, d: DecisionInput) -> Outcome:
        """The outcome `d` will have under the bylaws in force at its date."""
        return outcome(d.tally, d.quorum, self.bylaws().bylaws_at(d.date)[1])[0]

    def adopt_bylaws(self, changes: dict[str, object], d: DecisionInput) -> str:
        """A decision of kind `bylaws`: adopts or amends the keys of `changes`.

        Only keys this version knows are written (federation/bylaws.py FIELDS); keys of
        later versions are read and kept, never invented here."""
        unknown = sorted(set(changes) - set(FIELDS))
        if unknown:
            raise RecordError(f"unknown bylaws key{'s' if len(unknown) > 1 else ''}: "
                              f"{', '.join(repr(k) for k in unknown)} (this version sets "
                              f"{', '.join(FIELDS)})")
        try:
            self.bylaws().bylaws_at(d.date)[1].amended(changes)
        except (TypeError, ValueError) as exc:
            raise RecordError(str(exc)) from None
        return self.decide(d, kind=BYLAWS, bylaws=dict(changes))

    # --- mandates -------------------------------------------------------------------

    def issue_mandate(self, d: DecisionInput, delegate: str, delegate_key: str | None,
                      council: str, term_from: dt.date, term_until: dt.date,
                      instructions: tuple[Instruction, ...], attributes: dict[str, str] | None = None,
                      co_delegates: tuple[CoDelegate, ...] = ()) -> str:
        if term_until < term_from:
            raise RecordError("the term ends before it starts")
        if term_until < d.date:
            raise RecordError(f"the term ended on {term_until}, before the decision of {d.date}")
        if not delegate.strip() or not council.strip():
            raise RecordError("a mandate names a delegate and a council")
        check_lengths(delegate=delegate, council=council,
                      **{f"instruction {n + 1}": i.question for n, i in enumerate(instructions)},
                      **{f"co-delegate {n + 1}": c.delegate for n, c in enumerate(co_delegates)})
        if any(not c.delegate.strip() for c in co_delegates):
            raise RecordError("a co-delegate needs a name")
        mandate_id = new_record_id()
        if self.will_adopt(d) is Outcome.ADOPTED:
            self._check_rotation(d, Mandate(mandate_id, delegate, delegate_key, council, term_from,
                                            term_until, instructions, "", None))

        def extra(tx: Transaction, decision_id: str) -> None:
            write_mandate(tx, Mandate(mandate_id, delegate, delegate_key, council, term_from,
                                      term_until, instructions, decision_id, None, attributes,
                                      co_delegates))

        self.decide(d, kind="mandate", subject=mandate_id, extra=extra)
        return mandate_id

    def _check_rotation(self, d: DecisionInput, mandate: Mandate) -> None:
        """Refuse a mandate that would break the rotation of the bylaws in force (RT1, RT2) or
        of the charter of its council (RT3), against this ledger's adopted mandates of the same
        person (rotation compares no others: federation/rotation.py exceeds), found by the
        index of records."""
        index, doc_id = self.index(), self.node.ledger_id
        with index.reading(doc_id):
            same = read_mandates(index.referring(doc_id, MANDATES, "person", [term(mandate).person]))
            issuing = read_decisions(index.by_id(doc_id, DECISIONS, [m.decision for m in same.values()]))
        judged = self.bylaws()
        adopted = [m for m in same.values() if m.decision in issuing
                   and self.verdict(issuing[m.decision], judged).outcome is Outcome.ADOPTED]
        why = breach(Ledger(None, {}, {}, {}, {}), judged, mandate, d.date, others=adopted)
        for name, names, rules in charter_rotations(self.node, mandate.council):
            why = why or charter_breach(rules, name, names, term(mandate), map(term, adopted))
        if why is not None:
            raise RecordError(f"the mandate breaks the rotation: {why}")

    def mandate_in_force(self, mandate_id: str) -> Mandate:
        """A mandate of this ledger that was adopted and not recalled by an adopted recall in
        force; RecordError otherwise."""
        doc = self._ledger_doc()
        mandate = read_mandate(doc, mandate_id)
        if mandate is None:
            raise UnknownRecord(f"unknown mandate: {mandate_id}")
        issued = read_decision(doc, mandate.decision)
        verdict = None if issued is None else self.verdict(issued)
        if verdict is None or verdict.outcome is not Outcome.ADOPTED:
            raise RecordError(f"mandate {mandate_id} was not adopted "
                              f"({verdict.outcome.value if verdict else 'no decision'}): it confers nothing")
        recall = self.adopted_recall(mandate_id, self.bylaws())
        if recall is not None:
            raise RecordError(f"mandate {mandate_id} was recalled by {recall.id} on {recall.date}")
        return mandate

    def recall_mandate(self, mandate_id: str, d: DecisionInput) -> str:
        """A recall: a decision naming the mandate; only an adopted one recalls (ledger.md)."""
        mandate = self.mandate_in_force(mandate_id)
        issued = read_decision(self._ledger_doc(), mandate.decision)
        assert issued is not None  # mandate_in_force read it
        if d.date < issued.date:
            raise RecordError(f"the recall ({d.date}) is dated before the mandate was issued ({issued.date})")
        log_heads = self.node.docs.get(mandate_doc_id(self.node.assembly, mandate_id)).get_heads()

        def extra(tx: Transaction, decision_id: str) -> None:
            write_recall_saw(tx, decision_id, log_heads)

        return self.decide(d, kind="recall", subject=mandate_id, extra=extra)

    # --- devices --------------------------------------------------------------------

    def add_device(self, device: bytes, label: str) -> None:
        assembly_key = self._assembly_key()
        if read_device(self._ledger_doc(), key_text(device)) is not None:
            raise RecordError(f"device {key_text(device)} is already certified")
        self.require_certified()
        check_lengths(label=label)
        self.write(self.node.ledger_id, lambda tx: write_device(tx, assembly_key, device, label))

    def revoke_device(self, device: bytes) -> dict[str, int]:
        assembly_key = self._assembly_key()
        entry = read_device(self._ledger_doc(), key_text(device))
        if entry is None:
            raise UnknownRecord(f"unknown device: {key_text(device)}")
        if entry.revoked_cut is not None:
            raise RecordError(f"device {key_text(device)} is already revoked")
        if device == self.node.device_key.public:
            raise RecordError("a device cannot revoke itself; revoke it from another device")
        self.require_certified()
        cut = self.node.store.actor_cut(self.node.ledger_id, device)
        self.write(self.node.ledger_id, lambda tx: write_revocation(tx, assembly_key, device, cut))
        return cut

    # --- confederations ---------------------------------------------------------------

    def found_confederation(self, charter: Charter) -> str:
        """Write a charter: its one change is made first, and its hash names the document."""
        raw = charter_change(charter, self._actor(self.node.device_key))
        doc_id = charter_doc_id(parse_change(raw).hash)
        report = self.node.ingestor.ingest([sign_change(self.node.device_key, doc_id, raw)])
        if report.accepted != 1:
            raise RecordError(f"the charter was not stored: {report.rejected}")
        return doc_id.removeprefix("charter/")

    def charter_held(self, charter_id: str) -> dt.date:
        """The founding date of a confederation whose charter is held here."""
        found = self.node.docs.charter(charter_id)
        if found is None:
            raise UnknownRecord(f"confederation {charter_id} is not held here: bring its charter "
                                "(sync or import) first")
        return dt.date.fromisoformat(found["founded"])

    def accept_charter(self, charter_id: str, d: DecisionInput) -> str:
        founded = self.charter_held(charter_id)
        if d.date < founded:
            raise RecordError(f"the charter was founded on {founded}: it cannot be accepted "
                              f"on {d.date}")
        bylaws = self.bylaws()
        earlier = [x for x in self.standing_about(charter_id, ACCEPTANCE)
                   if self.verdict(x, bylaws).outcome is Outcome.ADOPTED]
        if earlier:
            raise RecordError(f"this assembly already accepted the charter {charter_id} ({earlier[0].id})")
        return self.decide(d, kind=ACCEPTANCE, subject=charter_id)

    def propose(self, body: ProposalBody, d: DecisionInput, ratify: bool = False) -> str:
        """Put a proposal to a confederation; returns its id (assembly key / decision id)."""
        return self.propose_and_ratify(body, d, ratify)[0]

    def propose_and_ratify(self, body: ProposalBody, d: DecisionInput,
                           ratify: bool) -> tuple[str, str | None]:
        """Put a proposal; with `ratify`, the same change also records the assembly's
        ratification of its own proposal, with the same date and tally: the vote that put it
        is its citizens' vote. Returns the proposal's id and the ratification's, if any."""
        self.charter_held(body.confederation)
        adopted = self.will_adopt(d) is Outcome.ADOPTED
        if ratify and not adopted:
            raise RecordError("the assembly did not adopt the proposal: there is nothing to ratify")
        ratification = new_record_id()

        def extra(tx: Transaction, decision_id: str) -> None:
            write_proposal(tx, decision_id, body)
            if ratify:
                write_decision(tx, Decision(
                    ratification, f"Ratification of {d.title}", d.text, d.date, d.tally, d.quorum,
                    d.dissent, None, RATIFICATION, proposal_id(self.node.assembly, decision_id)))

        view = self.view()  # made before the write's transaction (it may create its table)

        def check(doc: Document, decision_id: str) -> None:
            if adopted:
                view.refuse_ignored(self.ledger_record(doc, [decision_id, ratification]),
                                    proposal_id(self.node.assembly, decision_id),
                                    ratification if ratify else None)

        decision_id = self.decide(d, kind=PROPOSAL, extra=extra, check=check)
        return proposal_id(self.node.assembly, decision_id), ratification if ratify else None

    def ledger_record(self, doc: Document, written: list[str]) -> Record:
        """What this ledger gives the view (federation/confed.py ledger_records) with the change
        being made in `doc`, which writes the decisions `written`: the records held are read
        from the index of records, the new ones from the change (void if this device is
        revoked, as the ledger's readers would find them)."""
        index, doc_id = self.index(), self.node.ledger_id
        with index.reading(doc_id):
            void = self.node.device_key.public in index.revoked(doc_id)
        new = {} if void else {k: read_entry(doc, "decisions", k) for k in written}
        return indexed_ledger_records(index, doc_id, self.node.docs.profile(doc_id),
                                      {k: v for k, v in new.items() if v is not None})

    def ratify(self, pid: str, d: DecisionInput) -> str:
        """The assembly's own vote on a confederal proposal held here."""
        proposer, _, decision_id = pid.partition("/")
        found = held_decision(self.node, ledger_id(parse_key(proposer)), decision_id)
        if found is None or found.kind != PROPOSAL:
            raise UnknownRecord(f"proposal {pid} is not held here: bring its assembly's ledger first")
        earlier = [x.id for x in self.standing_about(pid, RATIFICATION)]
        if earlier and d.supersedes not in earlier:
            raise RecordError(f"already ratified by {earlier[0]}; pass --supersedes {earlier[0]} "
                              "to record a new vote")
        counts = self.will_adopt(d) is not Outcome.NO_QUORUM

        view = self.view()  # made before the write's transaction (it may create its table)

        def check(doc: Document, decision_id: str) -> None:
            if counts:
                view.refuse_ignored(self.ledger_record(doc, [decision_id]), pid, decision_id)

        return self.decide(d, kind=RATIFICATION, subject=pid, check=check)

    # --- a delegate's own device ------------------------------------------------------

    def delegate_act(self, mandate_id: str | None, act: Act) -> str:
        """Record an act in the mandate log of a mandate naming this device's key, as its
        delegate or a co-delegate; the act names the key in `by`.

        A vote on a proposal the delegate already voted on replaces the standing act (the
        new act names it in `replaces`); a withdrawal names the act it withdraws."""
        me = key_text(self.node.device_key.public)
        index, doc_id = self.index(), self.node.ledger_id
        with index.reading(doc_id):
            mine = {k: m for k, m in read_mandates(index.written_by(doc_id, me)).items()
                    if mandate_id is None or k == mandate_id}
        if len(mine) > 1:
            with index.reading(doc_id):
                issuing = read_decisions(index.by_id(doc_id, DECISIONS, [m.decision for m in mine.values()]))
            bylaws = self.bylaws()
            mine = {k: m for k, m in mine.items() if m.decision in issuing
                    and self.verdict(issuing[m.decision], bylaws).outcome is Outcome.ADOPTED
                    and self.adopted_recall(k, bylaws) is None}
        if len(mine) != 1:
            raise RecordError(f"{'no' if not mine else 'more than one'} mandate held here names "
                              f"this key {me}" + ("" if not mine else "; pass --mandate ID"))
        (chosen_id, mandate), = mine.items()
        self.mandate_in_force(chosen_id)
        if not mandate.term_from <= act.date <= mandate.term_until:
            raise RecordError(f"{act.date} is outside the mandate's term "
                              f"{mandate.term_from}..{mandate.term_until}")
        if act.date > self.today():
            raise RecordError(f"{act.date} is after today ({self.today()})")
        log_id = mandate_doc_id(self.node.assembly, chosen_id)
        if act.proposal is not None:
            act = self._standing(log_id, act)
        saw = self.node.docs.get(self.node.ledger_id).get_heads()
        act = replace(act, by=me)
        self.write(log_id, lambda tx: write_act(tx, act, saw))
        return act.id

    def _standing(self, log_id: str, act: Act) -> Act:
        """`act` naming the delegate's standing act on its proposal, which it replaces."""
        log = act_records(self.node.docs.get(log_id))
        standing = standing_act(log, act.proposal or "", self.today())
        if act.kind is ActKind.WITHDRAW and standing is None:
            raise RecordError(f"no standing vote on {act.proposal} to withdraw")
        if standing is None:
            return act
        if log[standing]["kind"] == ActKind.WITHDRAW.value and act.kind is ActKind.WITHDRAW:
            raise RecordError(f"the vote on {act.proposal} was already withdrawn by {standing}")
        if act.date.isoformat() < log[standing]["date"]:
            raise RecordError(f"the standing act {standing} is dated {log[standing]['date']}; "
                              f"a later act cannot be dated {act.date}")
        return replace(act, replaces=standing)


def check_vote(d: DecisionInput, bylaws: Bylaws, today: dt.date) -> None:
    """Refuse a vote that cannot have happened: after today, more votes than members,
    fewer present than voted."""
    if d.date > today:
        raise RecordError(f"the decision is dated {d.date}, after today ({today})")
    if d.quorum is not None and d.quorum < 0:
        raise RecordError("a quorum cannot be negative")
    cast = d.tally.votes_for + d.tally.against + d.tally.abstain
    if max(cast, d.quorum or 0) > MAX_COUNT:
        raise RecordError(f"a count above {MAX_COUNT} is not an assembly's")
    if d.quorum is not None and d.quorum < cast:
        raise RecordError(f"{cast} votes were cast but the quorum (members present) says {d.quorum}")
    if bylaws.members is not None and max(cast, d.quorum or 0) > bylaws.members:
        raise RecordError(f"{max(cast, d.quorum or 0)} members voted or were present, but the "
                          f"assembly has {bylaws.members} members")
