"""Generate the sortition vectors: `python protocol-spec/vectors/generate_sortition.py [DIR]`.

One draw worked through (pool, post, a portfolio, the exact chances, the
participants' secrets and commitments, the seed and the panel) and
portfolios that each break one rule of sortition.md. The portfolio is
written here by hand, not solved, so the vector does not depend on a solver:
a reader checks portfolios, it does not make them. tests/test_sortition.py
checks every vector and that regenerating changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from pnyx.federation.draws import COMMIT, REVEAL, Declaration, draw_result, step_record
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.sortition import (
    Candidate,
    Post,
    Quota,
    chances,
    check_portfolio,
    commitment,
    pick,
    seed,
)

HERE = Path(__file__).resolve().parent
DRAW = "vwxyzabcdefghijk"
AREAS = {"ana": "north", "bo": "north", "chen": "south", "dara": "south", "eli": "south", "femi": "east"}
GENDERS = {"ana": "woman", "bo": "man", "chen": "woman", "dara": "man", "eli": "man", "femi": "woman"}
POOL = {cid: Candidate(cid, {"area": AREAS[cid], "gender": GENDERS[cid]}) for cid in AREAS}
POST = Post(2, (Quota("gender", "woman", 1, 1), Quota("gender", "man", 1, 1), Quota("area", "south", 0, 1)))
PORTFOLIO = ((("ana", "bo"), 3), (("ana", "dara"), 1), (("bo", "chen"), 2), (("bo", "femi"), 2),
             (("chen", "bo"), 0), (("dara", "femi"), 2), (("eli", "femi"), 2))
CANONICAL = tuple((tuple(sorted(p)), w) for p, w in PORTFOLIO if w > 0)


def participant(name: str) -> tuple[bytes, bytes]:
    """A participant's public key and its secret, both derived from a name."""
    key = SigningKey(hashlib.sha256(b"pnyx/vectors/seed/" + name.encode()).digest()).public
    return key, hashlib.sha256(b"pnyx/vectors/sortition-secret/" + name.encode()).digest()


def jsonable_portfolio(portfolio: Any) -> list[dict[str, Any]]:
    return [{"panel": list(panel), "weight": weight} for panel, weight in portfolio]


def broken() -> list[dict[str, Any]]:
    """One portfolio per rule, each breaking only that rule."""
    cases: list[tuple[str, str, Any]] = [
        ("SR1", "a panel gives both seats to men", ((("bo", "dara"), 1),)),
        ("SR1", "a panel names someone outside the pool", ((("ana", "zed"), 1),)),
        ("SR1", "a panel has too few seats", ((("ana",), 1),)),
        ("SR1", "a panel is not sorted", ((("bo", "ana"), 1),)),
        ("SR2", "panels out of order", ((("bo", "chen"), 1), (("ana", "bo"), 1))),
        ("SR2", "a panel twice", ((("ana", "bo"), 1), (("ana", "bo"), 1))),
        ("SR3", "a weight of zero", ((("ana", "bo"), 0),)),
        ("SR4", "no panel at all", ()),
    ]
    out = []
    for rule, why, portfolio in cases:
        try:
            check_portfolio(POOL, POST, portfolio)
        except ValueError as exc:
            assert getattr(exc, "rule", None) == rule, (why, exc)
            out.append({"rule": rule, "why": why, "portfolio": jsonable_portfolio(portfolio)})
        else:
            raise AssertionError(f"{why} was accepted")
    return out


def ledger_draw(people: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """The draw as ledger records (SL1–SL5): declared by the first participant on 2026-10-01,
    commitments by 10-05, reveals by 10-10; a late commitment and a wrong reveal are ignored."""
    ref = f"{key_text(people[0][0])}/{DRAW}"
    declared = dt.date(2026, 10, 1)
    declaration = Declaration(POOL, POST, CANONICAL, tuple(sorted(k for k, _ in people)),
                              dt.date(2026, 10, 5), dt.date(2026, 10, 10)).plain()
    steps: dict[bytes, dict[str, Any]] = {}
    for n, (key, secret) in enumerate(people):
        day = dt.date(2026, 10, 2 + n)
        records = {f"c{n}aaaaaaaaaaaaaa": step_record(ref, COMMIT, commitment(ref, key, secret), day),
                   f"r{n}aaaaaaaaaaaaaa": step_record(ref, REVEAL, secret, dt.date(2026, 10, 6 + n))}
        if n == 0:  # ignored: after commit_by (SL3), and a secret that is not the committed one (SL4)
            records["latecommitaaaaaa"] = step_record(ref, COMMIT, bytes(32), dt.date(2026, 10, 6))
            records["wrongrevealaaaaa"] = step_record(ref, REVEAL, bytes(32), dt.date(2026, 10, 6))
        steps[key] = records
    results = {day: draw_result(ref, declaration, declared, True, steps, dt.date.fromisoformat(day))
               for day in ("2026-10-03", "2026-10-07", "2026-10-20")}
    return {"draw": ref, "declared": declared.isoformat(), "sortition": declaration,
            "steps": {key_text(k): v for k, v in sorted(steps.items())}, "results": results}


def vectors() -> dict[str, Any]:
    check_portfolio(POOL, POST, CANONICAL)
    people = [participant(n) for n in ("Barrio Sur", "Barrio Norte", "Villa Alta")]
    committed = {key: commitment(DRAW, key, secret) for key, secret in people}
    revealed = dict(people)
    draw_seed = seed(DRAW, committed, revealed)
    return {
        "draw": DRAW,
        "pool": [{"id": c.id, "attributes": dict(c.attributes)} for c in POOL.values()],
        "post": {"seats": POST.seats, "quotas": [vars(q) for q in POST.quotas]},
        "portfolio": jsonable_portfolio(CANONICAL),
        "chances": {cid: f"{f.numerator}/{f.denominator}" for cid, f in chances(POOL, CANONICAL).items()},
        "participants": [{"assembly": key.hex(), "secret": secret.hex(), "commitment": committed[key].hex()}
                         for key, secret in sorted(people)],
        "seed": draw_seed.hex(),
        "panel": list(pick(CANONICAL, draw_seed)),
        "invalid_portfolios": broken(),
        "ledger": ledger_draw(people),
    }


def main(out: Path) -> None:
    (out / "sortition.json").write_text(json.dumps(vectors(), indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
