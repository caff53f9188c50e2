"""Generate the confederal plan vectors: `python protocol-spec/vectors/generate_plan.py [DIR]`.

Like the view vectors (generate_view.py, whose helpers these reuse), each is a
set of normalized records by document id and an as-of date
(`plan/<name>.json`), and the exact bytes of the plan (`plan/<name>.expected.json`).
A ledger's `economy` holds its chains: collection -> chain root -> versions
(protocol-spec/economy.md, "Records"). tests/test_plan_vectors.py checks every
vector and that regenerating changes nothing.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from pnyx.federation.plan import render_plan
from pnyx.federation.recordset import records_from

HERE = Path(__file__).resolve().parent / "plan"
Record = dict[str, Any]


def _view_helpers() -> Any:
    spec = importlib.util.spec_from_file_location("generate_view", HERE.parent / "generate_view.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


V = _view_helpers()
C = V.cid("Valley")


def version(name: str, on: str, supersedes: str | None = None, withdrawn: bool = False,
            **fields: Any) -> Record:
    return {"id": V.rid(name), "date": on, "supersedes": None if supersedes is None else V.rid(supersedes),
            "withdrawn": withdrawn, **fields}


def need(name: str, item: str, quantity: int, by: str, on: str = "2026-10-01", priority: str = "normal",
         **extra: Any) -> Record:
    return version(name, on, **{"confederation": C, "item": item, "quantity": quantity, "unit": "kg",
                                "by": by, "priority": priority, "cooperative": "", "note": "", **extra})


def offer(name: str, item: str, quantity: int, start: str, end: str, on: str = "2026-10-01",
          **extra: Any) -> Record:
    return version(name, on, **{"confederation": C, "item": item, "quantity": quantity, "unit": "kg",
                                "from": start, "until": end, "conditions": "", "cooperative": "",
                                **extra})


def act(name: str, item: str, need_ref: str, offer_ref: str, quantity: int, on: str = "2026-10-05",
        **extra: Any) -> Record:
    return version(name, on, **{"confederation": C, "item": item, "unit": "kg", "need": need_ref,
                                "offer": offer_ref, "quantity": quantity, **extra})


def ref(assembly: str, name: str) -> str:
    return f"{V.key(assembly)}/{V.rid(name)}"


def economy(**collections: list[list[Record]]) -> Record:
    """collection -> chains (each a list of versions, the first being the root)."""
    out: Record = {c: {} for c in ("needs", "offers", "pledges", "deliveries", "commons")}
    for collection, chains in collections.items():
        for chain in chains:
            out[collection][chain[0]["id"]] = sorted(chain, key=lambda v: (v["date"], v["id"]))
    return out


def valley(ledgers: dict[str, Record], members: str = "ABC", **view: Any) -> dict[str, Record]:
    """Valley (A, B, C accepted), each ledger given its economy; others are not members."""
    doc_id, charter = V.charter("Valley", list(members))
    docs = {doc_id: charter}
    for name, eco in ledgers.items():
        accepts = {C: "2026-01-02"} if name in members else {}
        doc_id, record = V.ledger(name, accepts=accepts, **view.get(name, {}))
        docs[doc_id] = {**record, "economy": eco}
    return docs


def needs_and_offers() -> tuple[str, dict[str, Record], str]:
    pair = (ref("A", "grain-a"), ref("B", "grain-b"))
    docs = valley({
        "A": economy(needs=[[need("grain-a", "grain", 300, "2027-03-15", priority="high")]],
                     pledges=[[act("pledge-a", "grain", *pair, 120)]],
                     deliveries=[[act("got-a", "grain", *pair, 30, "2026-10-21", note="")]]),
        "B": economy(offers=[[offer("grain-b", "grain", 250, "2026-12-01", "2027-06-30")],
                             [offer("spring-b", "grain", 500, "2027-04-01", "2027-09-30")]],
                     pledges=[[act("pledge-b", "grain", *pair, 150)]],
                     deliveries=[[act("sent-b", "grain", *pair, 40, "2026-10-20", note="")]]),
        "C": economy(needs=[[need("grain-c", "grain", 100, "2027-01-10", priority="urgent")],
                            [need("late-c", "grain", 50, "2026-12-01", priority="low")]]),
    })
    return ("C's urgent need first, then A's (after 120 agreed: the smaller side), C's low need "
            "uncovered; the spring offer is surplus"), docs, "2026-11-01"


def revisions() -> tuple[str, dict[str, Record], str]:
    docs = valley({
        "A": economy(needs=[[need("oil-1", "oil", 40, "2027-01-01"),
                             need("oil-2", "oil", 60, "2027-01-01", on="2026-10-10", supersedes="oil-1"),
                             need("oil-3", "oil", 70, "2027-01-01", on="2026-10-12", supersedes="oil-1"),
                             need("oil-4", "oil", 10, "2027-01-01", on="2026-12-01", supersedes="oil-3")]]),
        "B": economy(offers=[[offer("oil-b", "oil", 90, "2026-11-01", "2027-02-01"),
                              offer("oil-b2", "oil", 90, "2026-11-01", "2027-02-01", on="2026-10-20",
                                    supersedes="oil-b", withdrawn=True)]]),
        "C": economy(),
    })
    return ("two devices revised A's need at once: the later (70) is in force; the revision dated "
            "after the as-of date is left out; B's offer is withdrawn"), docs, "2026-11-01"


def strangers() -> tuple[str, dict[str, Record], str]:
    pair = (ref("A", "seed-a"), ref("B", "seed-b"))
    docs = valley({
        "A": economy(needs=[[need("seed-a", "seed", 10, "2027-02-01")]]),
        "B": economy(offers=[[offer("seed-b", "seed", 10, "2026-11-01", "2027-02-01")]],
                     pledges=[[act("pledge-b", "seed", *pair, 10)],
                              [act("ghost", "seed", ref("A", "unheld"), pair[1], 3)]]),
        "C": economy(pledges=[[act("pledge-c", "seed", *pair, 10)]]),
        "D": economy(needs=[[need("seed-d", "seed", 5, "2027-01-01")]]),
    })
    return ("a pledge by one side awaits the other; a pledge by C, by neither side, a pledge naming "
            "a need not held, and D's need (not a member) are ignored"), docs, "2026-11-01"


def commons() -> tuple[str, dict[str, Record], str]:
    tractor = {"confederation": C, "good": "tractor", "rules": "booked a week ahead"}
    adopt = V.pid("A", "tractor")
    ghost = V.pid("A", "ghost")
    proposals = {
        V.rid("tractor"): V.proposal(C, "2026-10-02", "The tractor", kind="commons",
                                     subject=ref("B", "tractor")),
        V.rid("ghost"): V.proposal(C, "2026-10-02", "A well", kind="commons", subject=ref("B", "well"))}
    votes = {n: {"ratifications": {adopt: V.ratified("2026-10-03", 10, 1),
                                   ghost: V.ratified("2026-10-03", 10, 1)}} for n in "ABC"}
    votes["A"]["proposals"] = proposals
    docs = valley({"A": economy(), "B": economy(commons=[[version("tractor", "2026-10-01", **tractor)]]),
                   "C": economy()}, **votes)
    return ("an adopted commons proposal puts B's tractor in the register; one naming a record not "
            "held is listed as ignored"), docs, "2026-10-10"


def village() -> tuple[str, dict[str, Record], str]:
    docs = valley({
        "A": economy(needs=[[need("salt-a", "salt", 5, "2027-06-01", on="2027-02-01")]]),
        "B": economy(offers=[[offer("salt-b", "salt", 20, "2026-06-01", "2027-12-31", on="2026-05-01")]]),
    })
    return ("a village back after months: C's ledger is not held, B's newest record is from May; "
            "the plan says so"), docs, "2027-03-01"


CASES = {"needs-offers": needs_and_offers, "revisions": revisions, "strangers": strangers,
         "commons": commons, "village": village}


def files() -> dict[str, bytes]:
    out = {}
    for name, build in CASES.items():
        description, documents, as_of = build()
        inputs = {"description": description, "as_of": as_of, "documents": documents}
        text = json.dumps(inputs, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        out[f"{name}.json"] = text.encode()
        out[f"{name}.expected.json"] = render_plan(records_from(documents), dt.date.fromisoformat(as_of))
    return out


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else HERE
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files().items():
        (target / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
