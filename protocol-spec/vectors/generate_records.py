"""Generate the raw-document vectors: `python protocol-spec/vectors/generate_records.py [DIR]`.

The view vectors (vectors/view/) start from normalized records; these start one
step earlier, from the documents themselves, so a second implementation can
check how it derives the records (view.md, "From raw documents to records"):
each case holds the saved bytes (Automerge `save()`, lowercase hex) of one
ledger and, for a mandate log, of the log, and the record that
federation/confed.py derives from them. Keys, actors, record ids and dates are
fixed and Automerge 1.0.0rc1 writes every change with time 0, so running this
again gives the same bytes; tests/test_records_vectors.py derives every record
again and checks that regenerating changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from automerge.core import ROOT, Document, Transaction
from pnyx.federation.amvalues import put_value
from pnyx.federation.confed import (
    Act,
    ActKind,
    ProposalBody,
    ProposalKind,
    ledger_records,
    mandate_log_records,
    proposal_id,
    write_act,
    write_proposal,
    write_recall_saw,
)
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import (
    Binding,
    Decision,
    Instruction,
    Mandate,
    Position,
    Profile,
    Tally,
    write_decision,
    write_genesis,
    write_mandate,
)

OUT = Path(__file__).resolve().parent / "records.json"
Edit = Callable[[Transaction], None]


def key(name: str) -> SigningKey:
    return SigningKey(hashlib.sha256(b"pnyx/vectors/seed/" + name.encode()).digest())


def rid(name: str) -> str:
    """A record id (16 base32 characters) derived from a name."""
    return key_text(hashlib.sha256(name.encode()).digest())[:16]


def cid(name: str) -> str:
    return hashlib.sha256(b"pnyx/vectors/charter/" + name.encode()).hexdigest()


def actor(name: str) -> bytes:
    return hashlib.sha256(b"pnyx/vectors/actor/" + name.encode()).digest()[:16]


def change(doc: Document, edit: Edit) -> list[bytes]:
    with doc.transaction() as tx:
        edit(tx)
    return [bytes(h) for h in doc.get_heads()]


def decision(name: str, day: int, kind: str = "decision", subject: str | None = None,
             tally: tuple[int, int, int] = (9, 1, 0), supersedes: str | None = None) -> Decision:
    return Decision(rid(name), name, f"The assembly adopted: {name}.", dt.date(2026, 3, day),
                    Tally(*tally), None, "", supersedes, kind, subject)


ASSEMBLY = key("Riverside")
OTHER = key("Hillside")
REGION = cid("Region")
MANDATE = rid("mandate region council")


def ledger_doc() -> tuple[Document, dict[str, list[bytes]]]:
    """A ledger with every kind the records read, including ones they must skip."""
    doc = Document(actor("Riverside ledger"))
    heads: dict[str, list[bytes]] = {}
    profile = Profile(key_text(ASSEMBLY.public), "Riverside", "By the river", 40)
    change(doc, lambda tx: write_genesis(tx, profile))

    def confederal(tx: Transaction) -> None:
        write_decision(tx, decision("join Region", 2, "charter-acceptance", REGION))
        write_decision(tx, decision("join Region again", 5, "charter-acceptance", REGION))
        write_decision(tx, decision("granary", 3, "proposal"))
        write_proposal(tx, rid("granary"), ProposalBody(REGION, ProposalKind.POLICY, None, None))
        write_decision(tx, decision("broken proposal", 3, "proposal"))  # no body: skipped
        theirs = proposal_id(OTHER.public, rid("their road"))
        write_decision(tx, decision("road, first count", 4, "ratification", theirs, (5, 5, 1)))
        write_decision(tx, decision("road, recount", 6, "ratification", theirs, (6, 4, 1)))
        write_decision(tx, decision("old wells", 1, "ratification", proposal_id(OTHER.public, rid("w"))))
        write_decision(tx, decision("old wells, withdrawn", 7, supersedes=rid("old wells")))

    change(doc, confederal)

    def mandate(tx: Transaction) -> None:
        write_decision(tx, decision("send Ana", 8, "mandate", MANDATE))
        write_mandate(tx, Mandate(MANDATE, "Ana", key_text(key("Ana").public), "Region",
                                  dt.date(2026, 3, 9), dt.date(2026, 6, 30),
                                  (Instruction(proposal_id(OTHER.public, rid("their road")),
                                               Position.FOR, Binding.IMPERATIVE),), rid("send Ana"),
                                  None))
        write_mandate(tx, Mandate(rid("orphan mandate"), "Bo", None, "Region", dt.date(2026, 3, 9),
                                  dt.date(2026, 4, 1), (), rid("never decided"), None))

    heads["before recall"] = change(doc, mandate)
    return doc, heads


def act(name: str, kind: ActKind, day: int, vote: Position | None = None) -> Act:
    pid = proposal_id(OTHER.public, rid("their road")) if vote else None
    return Act(rid(name), kind, dt.date(2026, 3, day), pid, vote,
               Binding.INDICATIVE if vote else None, "" if vote else f"{name}.")


def recall_case() -> tuple[Document, Document]:
    """view.md, "a recall while a delegate was away": a report the recall saw, a vote
    concurrent with it, and an act written after the recall was known."""
    ledger, heads = ledger_doc()
    log = Document(actor("Ana's device"))
    seen_report = change(log, lambda tx: write_act(tx, act("report back", ActKind.REPORT, 10),
                                                   heads["before recall"]))

    def recall(tx: Transaction) -> None:
        write_decision(tx, decision("recall Ana", 12, "recall", MANDATE))
        write_recall_saw(tx, rid("recall Ana"), seen_report)

    after_recall = change(ledger, recall)
    change(log, lambda tx: write_act(tx, act("vote at the council", ActKind.VOTE, 11, Position.AGAINST),
                                     heads["before recall"]))
    change(log, lambda tx: write_act(tx, act("late report", ActKind.REPORT, 13), after_recall))
    change(log, lambda tx: put_value(tx, ROOT, "notes", "not an act: skipped"))
    return ledger, log


def hexed(doc: Document) -> str:
    return bytes(doc.save()).hex()


def vectors() -> dict[str, Any]:
    plain_ledger, _ = ledger_doc()
    ledger, log = recall_case()
    assembly = ASSEMBLY.public
    return {
        "description": "raw ledgers and mandate logs (Automerge save(), hex) and the normalized "
                       "records derived from them (view.md, 'From raw documents to records')",
        "ledgers": [
            {"name": "before the recall", "assembly": key_text(assembly), "ledger": hexed(plain_ledger),
             "record": ledger_records(assembly, plain_ledger)},
            {"name": "after the recall", "assembly": key_text(assembly), "ledger": hexed(ledger),
             "record": ledger_records(assembly, ledger)}],
        "mandate_logs": [
            {"name": "a recall while the delegate was away", "assembly": key_text(assembly),
             "mandate": MANDATE, "ledger": hexed(ledger), "log": hexed(log),
             "record": mandate_log_records(assembly, MANDATE, log, ledger)},
            {"name": "no recall", "assembly": key_text(assembly), "mandate": MANDATE,
             "ledger": hexed(plain_ledger), "log": hexed(log),
             "record": mandate_log_records(assembly, MANDATE, log, plain_ledger)}],
    }


def main(out: Path = OUT) -> None:
    out.write_text(json.dumps(vectors(), indent=1, sort_keys=True, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
