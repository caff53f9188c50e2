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
from dataclasses import dataclass

from automerge.core import Document, Transaction
from pnyx.federation.charter import Charter, charter_change
from pnyx.federation.chunk import parse_change
from pnyx.federation.confed import (
    ACCEPTANCE,
    PROPOSAL,
    RATIFICATION,
    Act,
    ProposalBody,
    proposal_id,
    write_act,
    write_proposal,
    write_recall_saw,
)
from pnyx.federation.docids import charter_doc_id, ledger_id, mandate_doc_id
from pnyx.federation.envelope import check_envelope, run_actor, sign_change
from pnyx.federation.keys import SigningKey, key_text, parse_key
from pnyx.federation.ledger import (
    MAX_TEXT_CHARS,
    Decision,
    Instruction,
    Ledger,
    Mandate,
    Profile,
    Tally,
    read_decision,
    read_device,
    read_ledger,
    write_decision,
    write_device,
    write_genesis,
    write_mandate,
    write_revocation,
)

from ..store.node import Node


class RecordError(ValueError):
    """Input a secretary can correct; nothing was written."""


class UnknownRecord(RecordError):
    """The decision, mandate or device named is not on the ledger; nothing was written."""


MAX_COUNT = 10**9  # votes, members present: far above any assembly, far below Automerge's int64


def check_lengths(**texts: str) -> None:
    """Longer texts would be written but skipped by every reader of the ledger."""
    for name, text in texts.items():
        if len(text) > MAX_TEXT_CHARS:
            raise RecordError(f"the {name} is longer than {MAX_TEXT_CHARS} characters")


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
    """Writes this device's changes; one fresh actor id per Recorder (per run)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._actors: dict[bytes, bytes] = {}

    def _actor(self, key: SigningKey) -> bytes:
        """This run's actor id for `key`: fresh per run, bound to the key."""
        if key.public not in self._actors:
            self._actors[key.public] = run_actor(key.public, os.urandom(8))
        return self._actors[key.public]

    def ledger(self) -> Ledger:
        return read_ledger(self.node.docs.get(self.node.ledger_id))

    def write(self, doc_id: str, edit: Callable[[Transaction], None],
              key: SigningKey | None = None) -> bytes:
        """Make, sign (by default with the device key) and store one change to `doc_id`."""
        node = self.node
        signer = key or node.device_key
        with node.store.transaction():
            doc = node.docs.get(doc_id)
            doc.set_actor(self._actor(signer))
            heads = doc.get_heads()
            try:
                with doc.transaction() as tx:
                    edit(tx)
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
               extra: Callable[[Transaction, str], None] | None = None) -> str:
        self.require_certified()
        if d.supersedes is not None and read_decision(self._ledger_doc(), d.supersedes) is None:
            raise RecordError(f"unknown decision to supersede: {d.supersedes}")
        if d.quorum is not None and d.quorum < 0:
            raise RecordError("a quorum cannot be negative")
        if max(d.tally.votes_for, d.tally.against, d.tally.abstain, d.quorum or 0) > MAX_COUNT:
            raise RecordError(f"a count above {MAX_COUNT} is not an assembly's")
        if not d.title.strip():
            raise RecordError("a decision needs a title")
        check_lengths(title=d.title, text=d.text, dissent=d.dissent)
        decision = Decision(new_record_id(), d.title, d.text, d.date, d.tally, d.quorum, d.dissent,
                            d.supersedes, kind, subject)

        def edit(tx: Transaction) -> None:
            write_decision(tx, decision)
            if extra is not None:
                extra(tx, decision.id)

        self.write(self.node.ledger_id, edit)
        return decision.id

    # --- mandates -------------------------------------------------------------------

    def issue_mandate(self, d: DecisionInput, delegate: str, delegate_key: str | None,
                      council: str, term_from: dt.date, term_until: dt.date,
                      instructions: tuple[Instruction, ...]) -> str:
        if term_until < term_from:
            raise RecordError("the term ends before it starts")
        if not delegate.strip() or not council.strip():
            raise RecordError("a mandate names a delegate and a council")
        check_lengths(delegate=delegate, council=council,
                      **{f"instruction {n + 1}": i.question for n, i in enumerate(instructions)})
        mandate_id = new_record_id()

        def extra(tx: Transaction, decision_id: str) -> None:
            write_mandate(tx, Mandate(mandate_id, delegate, delegate_key, council, term_from,
                                      term_until, instructions, decision_id, None))

        self.decide(d, kind="mandate", subject=mandate_id, extra=extra)
        return mandate_id

    def recall_mandate(self, mandate_id: str, d: DecisionInput) -> str:
        mandate = self.ledger().mandates.get(mandate_id)
        if mandate is None:
            raise UnknownRecord(f"unknown mandate: {mandate_id}")
        if mandate.recalled_by is not None:
            raise RecordError(f"mandate {mandate_id} was already recalled by {mandate.recalled_by}")
        log_heads = self.node.docs.get(mandate_doc_id(self.node.assembly, mandate_id)).get_heads()

        def extra(tx: Transaction, decision_id: str) -> None:
            write_recall_saw(tx, decision_id, log_heads)

        return self.decide(d, kind="recall", subject=mandate_id, extra=extra)

    # --- devices --------------------------------------------------------------------

    def add_device(self, device: bytes, label: str) -> None:
        assembly_key = self._assembly_key()
        if key_text(device) in self.ledger().devices:
            raise RecordError(f"device {key_text(device)} is already certified")
        self.require_certified()
        check_lengths(label=label)
        self.write(self.node.ledger_id, lambda tx: write_device(tx, assembly_key, device, label))

    def revoke_device(self, device: bytes) -> dict[str, int]:
        assembly_key = self._assembly_key()
        entry = self.ledger().devices.get(key_text(device))
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

    def charter_held(self, charter_id: str) -> None:
        if not self.node.store.holds(bytes.fromhex(charter_id)):
            raise UnknownRecord(f"confederation {charter_id} is not held here: bring its charter "
                              "(sync or import) first")

    def accept_charter(self, charter_id: str, d: DecisionInput) -> str:
        self.charter_held(charter_id)
        if any(x.kind == ACCEPTANCE and x.subject == charter_id for x in self.ledger().decisions.values()):
            raise RecordError(f"this assembly already accepted the charter {charter_id}")
        return self.decide(d, kind=ACCEPTANCE, subject=charter_id)

    def propose(self, body: ProposalBody, d: DecisionInput) -> str:
        """Put a proposal to a confederation; returns its id (assembly key / decision id)."""
        self.charter_held(body.confederation)
        decision_id = self.decide(d, kind=PROPOSAL,
                                  extra=lambda tx, decision_id: write_proposal(tx, decision_id, body))
        return proposal_id(self.node.assembly, decision_id)

    def ratify(self, pid: str, d: DecisionInput) -> str:
        """The assembly's own vote on a confederal proposal held here."""
        proposer, _, decision_id = pid.partition("/")
        held = self.node.docs.get(ledger_id(parse_key(proposer)))
        found = read_ledger(held).decisions.get(decision_id)
        if found is None or found.kind != PROPOSAL:
            raise UnknownRecord(f"proposal {pid} is not held here: bring its assembly's ledger first")
        superseded = self.ledger().superseded()
        earlier = [x.id for x in self.ledger().decisions.values()
                   if x.kind == RATIFICATION and x.subject == pid and x.id not in superseded]
        if earlier and d.supersedes not in earlier:
            raise RecordError(f"already ratified by {earlier[0]}; pass --supersedes {earlier[0]} "
                              "to record a new vote")
        return self.decide(d, kind=RATIFICATION, subject=pid)

    # --- a delegate's own device ------------------------------------------------------

    def delegate_act(self, mandate_id: str | None, act: Act) -> str:
        """Record an act in the mandate log of a mandate naming this device's key."""
        me = key_text(self.node.device_key.public)
        ledger = self.ledger()
        mine = {k: m for k, m in ledger.mandates.items() if m.delegate_key == me
                and (mandate_id is None or k == mandate_id)}
        if len(mine) > 1:
            mine = {k: m for k, m in mine.items() if m.recalled_by is None}
        if len(mine) != 1:
            raise RecordError(f"{'no' if not mine else 'more than one'} mandate held here names "
                              f"this key {me}" + ("" if not mine else "; pass --mandate ID"))
        (chosen_id, mandate), = mine.items()
        if mandate.recalled_by is not None:
            raise RecordError(f"mandate {chosen_id} was recalled by {mandate.recalled_by}")
        if not mandate.term_from <= act.date <= mandate.term_until:
            raise RecordError(f"{act.date} is outside the mandate's term "
                              f"{mandate.term_from}..{mandate.term_until}")
        saw = self.node.docs.get(self.node.ledger_id).get_heads()
        self.write(mandate_doc_id(self.node.assembly, chosen_id), lambda tx: write_act(tx, act, saw))
        return act.id
