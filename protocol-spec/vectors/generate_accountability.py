"""Generate the accountability vectors: `python protocol-spec/vectors/generate_accountability.py [DIR]`.

Each case is a ledger's `decisions` and `mandates` maps as written (ledger.md),
the number of members in its profile, and what every reader must compute
from them: each decision's valid minority reopening and the new vote
answering it, each reopening ignored and why (ledger.md "Minority reopening",
RO1–RO3), and each adopted mandate that breaks the rotation and why
("Rotation", RT1–RT2). tests/test_accountability_vectors.py checks every case
and that regenerating changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pnyx.federation.bylaws import judge
from pnyx.federation.ledger import Ledger, Profile, read_decisions, read_mandates
from pnyx.federation.reopening import reopenings
from pnyx.federation.rotation import breaches

HERE = Path(__file__).resolve().parent
Record = dict[str, Any]


def decision(on: str, votes: tuple[int, int, int], kind: str = "decision", subject: str | None = None,
             supersedes: str | None = None, **fields: Any) -> Record:
    return {"title": f"{kind} of {on}", "text": "", "date": on, "for": votes[0], "against": votes[1],
            "abstain": votes[2], "quorum": None, "dissent": "", "supersedes": supersedes, "kind": kind,
            "subject": subject, **fields}


def mandate(who: str, key: str | None, term: tuple[str, str], issued_by: str) -> Record:
    return {"delegate": who, "delegate_key": key, "council": "Water council", "term_from": term[0],
            "term_until": term[1], "instructions": [], "decision": issued_by, "recalled_by": None}


BYLAWS = decision("2026-01-01", (20, 1, 0), "bylaws", bylaws={
    "members": 30, "reopening": {"share": "1/3", "dissent_days": 30},
    "rotation": {"consecutive_terms": 2, "days": 200, "period_days": 365}})
CASES: dict[str, tuple[str, dict[str, Record], dict[str, Record]]] = {
    "reopening": ("a decision reopened by its dissenting side in time and answered by a new vote; "
                  "reopenings too few, too late, by a condition the bylaws lack, or of nothing, ignored", {
        "aaaaaaaaaaaaaaaa": BYLAWS,
        "aaaaaaaaaaaaaaab": decision("2026-02-01", (20, 8, 0)),
        "aaaaaaaaaaaaaaac": decision("2026-02-05", (4, 0, 0), "reopening", "aaaaaaaaaaaaaaab",
                                     reopening={"by": "share"}),
        "aaaaaaaaaaaaaaad": decision("2026-02-06", (7, 0, 0), "reopening", "aaaaaaaaaaaaaaab",
                                     reopening={"by": "dissent"}),
        "aaaaaaaaaaaaaaae": decision("2026-03-15", (10, 0, 0), "reopening", "aaaaaaaaaaaaaaab",
                                     reopening={"by": "dissent"}),
        "aaaaaaaaaaaaaaaf": decision("2026-02-07", (8, 0, 0), "reopening", "aaaaaaaaaaaaaaab",
                                     reopening={"by": "dissent"}),
        "aaaaaaaaaaaaaaag": decision("2026-02-08", (12, 0, 0), "reopening", "aaaaaaaaaaaaaaab",
                                     reopening={"by": "lot"}),
        "aaaaaaaaaaaaaaah": decision("2026-02-08", (12, 0, 0), "reopening", "zzzzzzzzzzzzzzzz",
                                     reopening={"by": "share"}),
        "aaaaaaaaaaaaaaai": decision("2026-02-20", (22, 5, 0), supersedes="aaaaaaaaaaaaaaab",
                                     revote_of="aaaaaaaaaaaaaaaf"),
        "aaaaaaaaaaaaaaaj": decision("2026-01-20", (15, 10, 0)),
        "aaaaaaaaaaaaaaak": decision("2026-06-01", (10, 0, 0), "reopening", "aaaaaaaaaaaaaaaj",
                                     reopening={"by": "share"})}, {}),
    "rotation": ("two consecutive terms allowed, a third flagged; 200 days in 365: a term that "
                 "passes them flagged; a mandate voted down does not count; a later term never flags "
                 "an earlier one", {
        "bbbbbbbbbbbbbbba": BYLAWS,
        "bbbbbbbbbbbbbbbb": decision("2026-01-10", (9, 1, 0), "mandate", "mmmmmmmmmmmmmmma"),
        "bbbbbbbbbbbbbbbc": decision("2026-01-10", (9, 1, 0), "mandate", "mmmmmmmmmmmmmmmb"),
        "bbbbbbbbbbbbbbbd": decision("2026-01-10", (9, 1, 0), "mandate", "mmmmmmmmmmmmmmmc"),
        "bbbbbbbbbbbbbbbe": decision("2026-01-10", (1, 9, 0), "mandate", "mmmmmmmmmmmmmmmd"),
        "bbbbbbbbbbbbbbbf": decision("2026-01-10", (9, 1, 0), "mandate", "mmmmmmmmmmmmmmme"),
        "bbbbbbbbbbbbbbbg": decision("2026-01-10", (9, 1, 0), "mandate", "mmmmmmmmmmmmmmmf")}, {
        "mmmmmmmmmmmmmmma": mandate("Ana", None, ("2026-02-01", "2026-03-31"), "bbbbbbbbbbbbbbbb"),
        "mmmmmmmmmmmmmmmb": mandate("Ana", None, ("2026-04-01", "2026-05-31"), "bbbbbbbbbbbbbbbc"),
        "mmmmmmmmmmmmmmmc": mandate("Ana", None, ("2026-06-01", "2026-06-30"), "bbbbbbbbbbbbbbbd"),
        "mmmmmmmmmmmmmmmd": mandate("Bo", "bo-key", ("2026-02-01", "2026-08-31"), "bbbbbbbbbbbbbbbe"),
        "mmmmmmmmmmmmmmme": mandate("Bo", "bo-key", ("2026-02-01", "2026-06-30"), "bbbbbbbbbbbbbbbf"),
        "mmmmmmmmmmmmmmmf": mandate("Bo (renamed)", "bo-key", ("2026-08-01", "2026-09-30"),
                                    "bbbbbbbbbbbbbbbg")}),
}


def expected(members: int, decisions: dict[str, Record], mandates: dict[str, Record]) -> Record:
    ledger = Ledger(Profile("", "", "", members), {}, read_decisions(decisions), read_mandates(mandates))
    judged = judge(ledger)
    valid, ignored = reopenings(ledger, judged)
    return {"reopened": {k: {"reopening": r.reopening, "by": r.by, "revote": r.revote}
                         for k, r in sorted(valid.items())},
            "ignored": dict(sorted(ignored.items())),
            "rotation": dict(sorted(breaches(ledger, judged).items()))}


def vectors() -> Record:
    return {"cases": [{"name": name, "description": text, "members": 30, "decisions": decisions,
                       "mandates": mandates, "expected": expected(30, decisions, mandates)}
                      for name, (text, decisions, mandates) in CASES.items()]}


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else HERE
    (out / "accountability.json").write_text(json.dumps(vectors(), indent=2, sort_keys=True,
                                                        ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
