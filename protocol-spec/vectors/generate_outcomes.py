"""Generate the outcome vectors: `python protocol-spec/vectors/generate_outcomes.py [DIR]`.

Each case is a ledger's `decisions` map as written (ledger.md), the number of
members in its profile, and what every reader must compute from them
(ledger.md "Bylaws and outcomes"): each decision's outcome, the reason, the
bylaws decision that judged it, and the bylaws in force after each adopted
change. tests/test_outcome_vectors.py checks every case and that regenerating
changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pnyx.federation.bylaws import judge
from pnyx.federation.ledger import Ledger, Profile, read_decisions

HERE = Path(__file__).resolve().parent
Record = dict[str, Any]


def decision(on: str, votes: tuple[int, int, int], kind: str = "decision", quorum: int | None = None,
             bylaws: Record | None = None, subject: str | None = None) -> Record:
    out: Record = {"title": f"{kind} of {on}", "text": "", "date": on, "for": votes[0],
                   "against": votes[1], "abstain": votes[2], "quorum": quorum, "dissent": "",
                   "supersedes": None, "kind": kind, "subject": subject}
    if bylaws is not None:
        out["bylaws"] = bylaws
    return out


CASES: dict[str, tuple[str, int | None, dict[str, Record]]] = {
    "default-simple-majority": ("no bylaws adopted: more for than against; a tie is rejected", 120, {
        "aaaaaaaaaaaaaaaa": decision("2026-01-10", (60, 40, 5)),
        "aaaaaaaaaaaaaaab": decision("2026-01-10", (40, 40, 20)),
        "aaaaaaaaaaaaaaac": decision("2026-01-11", (1, 20, 1), kind="recall", subject="mmmmmmmmmmmmmmmm")}),
    "qualified-rule-from-the-next-day": (
        "bylaws of 2026-01-10 set 2/3: a decision of the same day is judged by the defaults, one of "
        "the next day by 2/3", 120, {
            "bbbbbbbbbbbbbbba": decision("2026-01-10", (70, 10, 0), kind="bylaws", bylaws={"rule": "2/3"}),
            "bbbbbbbbbbbbbbbb": decision("2026-01-10", (60, 40, 0)),
            "bbbbbbbbbbbbbbbc": decision("2026-01-11", (60, 40, 0)),
            "bbbbbbbbbbbbbbbd": decision("2026-01-11", (80, 40, 0))}),
    "quorum-and-amendment": (
        "a quorum of 40 present, then the rule amended: keys not named are kept, unknown keys "
        "are kept and change nothing; a bylaws decision voted down changes nothing", 120, {
            "ccccccccccccccca": decision("2026-01-01", (50, 0, 0), kind="bylaws",
                                         bylaws={"quorum": 40, "petition": {"share": "1/4"}}),
            "cccccccccccccccb": decision("2026-01-02", (20, 5, 0)),
            "cccccccccccccccc": decision("2026-01-02", (20, 5, 0), quorum=45),
            "cccccccccccccccd": decision("2026-01-02", (30, 15, 0), kind="bylaws", bylaws={"rule": "3/4"}),
            "ccccccccccccccce": decision("2026-01-03", (10, 40, 0), kind="bylaws", bylaws={"quorum": 0}),
            "cccccccccccccccf": decision("2026-01-04", (30, 11, 0))}),
    "ill-formed-bylaws": ("an adopted bylaws decision whose map does not fit is not in force", None, {
        "ddddddddddddddda": decision("2026-01-01", (5, 0, 0), kind="bylaws", bylaws={"rule": "1/3"}),
        "dddddddddddddddb": decision("2026-01-02", (3, 2, 0))}),
}


def expected(members: int | None, decisions: dict[str, Record]) -> Record:
    read = read_decisions(decisions)
    judged = judge(Ledger(Profile("", "", "", members), {}, read, {}))
    return {"verdicts": {k: {"outcome": v.outcome.value, "reason": v.reason, "bylaws": v.bylaws}
                         for k, v in sorted(judged.verdicts.items())},
            "bylaws": [{"after": since.isoformat(), "decision": d, "in_force": b.plain()}
                       for since, d, b in judged.history],
            "ill_formed": judged.ill_formed}


def vectors() -> bytes:
    cases = [{"name": name, "description": description, "members": members, "decisions": decisions,
              "expected": expected(members, decisions)}
             for name, (description, members, decisions) in CASES.items()]
    return (json.dumps({"cases": cases}, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else HERE
    (target / "outcomes.json").write_bytes(vectors())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
