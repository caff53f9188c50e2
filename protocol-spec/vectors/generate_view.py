"""Generate the confederal view vectors: `python protocol-spec/vectors/generate_view.py [DIR]`.

Each vector is a set of normalized records (view.md, "Records") by document
id, an as-of date, and the exact bytes of the expected view:
`view/<name>.json` holds the inputs, `view/<name>.expected.json` the bytes.
At this layer ids are taken as given (a charter id here is any 64 hex digits),
so a second implementation of the view can be checked on its own.
tests/test_view_vectors.py checks every vector and that regenerating changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from pnyx.federation.keys import SigningKey, key_text, parse_key
from pnyx.federation.recordset import records_from
from pnyx.federation.sortition import commitment
from pnyx.federation.view import render_view

HERE = Path(__file__).resolve().parent / "view"
Record = dict[str, Any]


def key(name: str) -> str:
    return key_text(SigningKey(hashlib.sha256(b"pnyx/vectors/seed/" + name.encode()).digest()).public)


def rid(name: str) -> str:
    """A record id (16 base32 characters) derived from a name."""
    return key_text(hashlib.sha256(name.encode()).digest())[:16]


def cid(name: str) -> str:
    return hashlib.sha256(b"pnyx/vectors/charter/" + name.encode()).hexdigest()


def charter(name: str, members: list[str], confederations: tuple[str, ...] = (), threshold: str = "simple",
            qualified: str = "2/3", quorum: str = "0/1", days: int = 30) -> tuple[str, Record]:
    return f"charter/{cid(name)}", {
        "id": cid(name), "founded": "2026-01-01", "members": sorted(key(m) for m in members),
        "confederations": sorted(confederations),
        "rules": {"name": name, "threshold": threshold, "qualified": qualified,
                  "assembly_quorum": quorum, "deadline_days": days, "protected": []},
        "parity": None, "rotation": None}


def ledger(name: str, accepts: dict[str, str] | None = None, proposals: dict[str, Record] | None = None,
           ratifications: dict[str, Record] | None = None,
           mandates: dict[str, Record] | None = None) -> tuple[str, Record]:
    return f"ledger/{key(name)}", {
        "assembly": key(name), "name": name, "acceptances": accepts or {},
        "proposals": proposals or {}, "ratifications": ratifications or {}, "mandates": mandates or {},
        "draws": {}, "sortition": {}}


def proposal(confederation: str, on: str, title: str, kind: str = "policy", subject: str | None = None,
             amendment: Record | None = None, outcome: str = "adopted") -> Record:
    return {"confederation": confederation, "kind": kind, "subject": subject, "amendment": amendment,
            "title": title, "text": "", "date": on, "for": 1, "against": 0, "abstain": 0,
            "outcome": outcome}


def ratified(on: str, votes_for: int, against: int, abstain: int = 0, dissent: str = "",
             outcome: str | None = None) -> Record:
    """An assembly's ratification; its outcome under simple majority unless given."""
    return {"decision": rid(f"{on}{votes_for}{against}{abstain}"), "date": on, "for": votes_for,
            "against": against, "abstain": abstain, "dissent": dissent,
            "outcome": outcome or ("adopted" if votes_for > against else "rejected")}


def pid(assembly: str, name: str) -> str:
    return f"{key(assembly)}/{rid(name)}"


def valley(**rules: Any) -> tuple[str, dict[str, Record]]:
    """Valley: assemblies A, B, C, all accepted on 2026-01-02."""
    doc_id, record = charter("Valley", ["A", "B", "C"], **rules)
    return record["id"], {doc_id: record}


def members_accepting(confederation: str, names: str, **extra: dict[str, Any]) -> dict[str, Record]:
    docs = {}
    for name in names:
        doc_id, record = ledger(name, accepts={confederation: "2026-01-02"}, **extra.get(name, {}))
        docs[doc_id] = record
    return docs


def tally_97_23() -> tuple[str, dict[str, Record], str]:
    c, docs = valley()
    p = pid("A", "water")
    water = proposal(c, "2026-02-01", "Water plan")
    docs |= members_accepting(c, "ABC", A={"proposals": {rid("water"): water},
                                           "ratifications": {p: ratified("2026-02-05", 90, 10)}},
                              B={"ratifications": {p: ratified("2026-02-06", 4, 6, 0, "Ours first")}},
                              C={"ratifications": {p: ratified("2026-02-07", 3, 7)}})
    return "A 90/10, B 4/6, C 3/7 under a simple majority: adopted 97 to 23", docs, "2026-02-10"


def amendment(share_for: int) -> tuple[str, dict[str, Record], str]:
    c, docs = valley()
    p = pid("A", "amend")
    body = proposal(c, "2026-02-01", "Longer deadline", kind="amend", amendment={"deadline_days": 60})
    votes = {n: {"ratifications": {p: ratified("2026-02-03", share_for, 100 - share_for)}} for n in "ABC"}
    votes["A"]["proposals"] = {rid("amend"): body}
    docs |= members_accepting(c, "ABC", **votes)
    outcome = "rejected" if share_for < 67 else "adopted"
    return f"an amendment under qualified 2/3 at {share_for}%: {outcome}", docs, "2026-02-10"


def admission() -> tuple[str, dict[str, Record], str]:
    c, docs = valley()
    p = pid("A", "admit")
    later = pid("D", "later")
    votes: dict[str, Any] = {n: {"ratifications": {p: ratified("2026-02-03", 10, 1)}} for n in "ABC"}
    votes["A"]["proposals"] = {rid("admit"): proposal(c, "2026-02-01", "Admit D", "admit", key("D"))}
    docs |= members_accepting(c, "ABC", **votes)
    doc_id, record = ledger("D", accepts={c: "2026-02-05"},
                            proposals={rid("later"): proposal(c, "2026-02-06", "D's first proposal")},
                            ratifications={later: ratified("2026-02-07", 20, 0)})
    docs[doc_id] = record
    return "D admitted by A, B, C, accepts, and proposes once a member", docs, "2026-02-08"


def suspension() -> tuple[str, dict[str, Record], str]:
    c, docs = valley()
    s, after = pid("A", "suspend"), pid("A", "after")
    votes: dict[str, Any] = {"A": {"ratifications": {s: ratified("2026-02-03", 60, 40)}},
                             "B": {"ratifications": {s: ratified("2026-02-03", 6, 4)}},
                             "C": {"ratifications": {s: ratified("2026-02-03", 0, 10),
                                                     after: ratified("2026-02-11", 500, 0)}}}
    votes["A"]["proposals"] = {rid("suspend"): proposal(c, "2026-02-01", "Suspend C", "suspend", key("C")),
                               rid("after"): proposal(c, "2026-02-10", "After the suspension")}
    docs |= members_accepting(c, "ABC", **votes)
    return "C suspended: its later ratification does not count", docs, "2026-02-12"


def non_member() -> tuple[str, dict[str, Record], str]:
    c, docs = valley()
    p = pid("A", "p")
    votes: dict[str, Any] = {n: {"ratifications": {p: ratified("2026-02-02", 1, 2)}} for n in "ABC"}
    votes["A"]["proposals"] = {rid("p"): proposal(c, "2026-02-01", "A proposal")}
    docs |= members_accepting(c, "ABC", **votes)
    doc_id, record = ledger("Z", ratifications={p: ratified("2026-02-02", 1000, 0)})
    docs[doc_id] = record
    return "Z, not a member, ratifies with 1000 votes: ignored; rejected 3 to 6", docs, "2026-02-03"


def lapse() -> tuple[str, dict[str, Record], str]:
    c, docs = valley(quorum="1/2", days=10)
    p = pid("A", "p")
    votes: dict[str, Any] = {"A": {"ratifications": {p: ratified("2026-02-02", 50, 1)}},
                             "B": {"ratifications": {p: ratified("2026-02-20", 50, 1)}}}
    votes["A"]["proposals"] = {rid("p"): proposal(c, "2026-02-01", "A proposal")}
    docs |= members_accepting(c, "ABC", **votes)
    return "one of three voted by the deadline under quorum 1/2: lapsed", docs, "2026-03-01"


def mandate(council: str, recall: Record | None, *instructions: tuple[str, str, str],
            outcome: str = "adopted") -> Record:
    return {"delegate": "Ana", "delegate_key": key("ana"), "council": council, "from": "2026-01-15",
            "until": "2026-03-01", "issued": "2026-01-10", "outcome": outcome,
            "instructions": [{"question": q, "position": p, "binding": b} for q, p, b in instructions],
            "recall": recall, "attributes": {}, "co_delegates": [], "rotation": None}


def act(kind: str, on: str, proposal_id: str | None = None, position: str | None = None,
        binding: str | None = None, text: str = "", saw_recall: bool = False,
        seen_by_recall: bool = False, replaces: str | None = None) -> Record:
    return {"kind": kind, "date": on, "proposal": proposal_id, "position": position, "binding": binding,
            "text": text, "replaces": replaces, "by": None, "saw_recall": saw_recall,
            "seen_by_recall": seen_by_recall}


def delegates() -> tuple[str, dict[str, Record], str]:
    c, docs = valley()
    water, bus = pid("A", "water"), pid("A", "bus")
    m1, m2 = rid("mandate-1"), rid("mandate-2")
    recall = {"decision": rid("recall"), "date": "2026-02-04"}
    votes: dict[str, Any] = {
        "A": {"proposals": {rid("water"): proposal(c, "2026-02-01", "Water plan"),
                            rid("bus"): proposal(c, "2026-02-01", "Bus line")}},
        "B": {"mandates": {m1: mandate(c, None, ("Water plan", "for", "imperative"),
                                       ("treaty-7", "for", "imperative"))}},
        "C": {"mandates": {m2: mandate(c, recall)}}}
    docs |= members_accepting(c, "ABC", **votes)
    docs[f"mandate/{key('B')}/{m1}"] = {"assembly": key("B"), "mandate": m1, "acts": {
        rid("a1"): act("vote", "2026-02-02", water, "for", "imperative"),
        rid("a2"): act("vote", "2026-02-02", bus, "against", "indicative"),
        rid("a3"): act("vote", "2026-02-02", bus, "for", "imperative"),
        rid("a4"): act("sign", "2026-02-02", text="treaty-7"),
        rid("a5"): act("sign", "2026-02-02", text="treaty-8"),
        rid("a6"): act("vote", "2026-01-10", water, "against", "imperative")}}
    docs[f"mandate/{key('C')}/{m2}"] = {"assembly": key("C"), "mandate": m2, "acts": {
        rid("c1"): act("report", "2026-02-02", text="first council", seen_by_recall=True),
        rid("c2"): act("vote", "2026-02-03", bus, "for", "indicative"),
        rid("c3"): act("vote", "2026-02-05", bus, "for", "indicative", saw_recall=True)}}
    return ("acts within, exceeding and outside a mandate; a recall concurrent with a vote", docs,
            "2026-02-06")


def outcomes() -> tuple[str, dict[str, Record], str]:
    c, docs = valley()
    counted = pid("A", "counted")
    votes: dict[str, Any] = {
        "A": {"proposals": {rid("counted"): proposal(c, "2026-02-01", "Counted"),
                            rid("refused"): proposal(c, "2026-02-01", "Voted down at home",
                                                     outcome="rejected")},
              "ratifications": {counted: ratified("2026-02-02", 30, 5)}},
        "B": {"ratifications": {counted: ratified("2026-02-02", 4, 9)},
              "mandates": {rid("m-down"): mandate(c, None, outcome="rejected")}},
        "C": {"ratifications": {counted: ratified("2026-02-02", 50, 0, outcome="no-quorum")}}}
    docs |= members_accepting(c, "ABC", **votes)
    docs[f"mandate/{key('B')}/{rid('m-down')}"] = {"assembly": key("B"), "mandate": rid("m-down"), "acts": {
        rid("b1"): act("vote", "2026-02-02", counted, "for", "indicative")}}
    return ("a proposal its assembly voted down is not put; B's rejected ratification counts its votes "
            "against, C's without quorum does not count; a mandate voted down confers nothing"), docs, \
        "2026-02-03"


def standing_acts() -> tuple[str, dict[str, Record], str]:
    c, docs = valley()
    water, bus = pid("A", "water"), pid("A", "bus")
    m = rid("mandate-1")
    votes: dict[str, Any] = {
        "A": {"proposals": {rid("water"): proposal(c, "2026-02-01", "Water plan"),
                            rid("bus"): proposal(c, "2026-02-01", "Bus line")}},
        "B": {"mandates": {m: mandate(c, None)}}}
    docs |= members_accepting(c, "ABC", **votes)
    docs[f"mandate/{key('B')}/{m}"] = {"assembly": key("B"), "mandate": m, "acts": {
        rid("w1"): act("vote", "2026-02-02", water, "for", "indicative"),
        rid("w2"): act("vote", "2026-02-02", water, "against", "indicative", replaces=rid("w1")),
        rid("b1"): act("vote", "2026-02-02", bus, "for", "indicative"),
        rid("b2"): act("withdraw", "2026-02-03", bus, replaces=rid("b1"))}}
    return ("one standing act per proposal: a vote replaced by a later one, a vote withdrawn"), docs, \
        "2026-02-04"


def nested() -> tuple[str, dict[str, Record], str]:
    docs = {}
    north_id, north = charter("North", ["A", "B"])
    south_id, south = charter("South", ["C", "D"], quorum="1/1")
    region_id, region = charter("Region", ["E"], (north["id"], south["id"]))
    docs |= {north_id: north, south_id: south, region_id: region}
    n, s, r = north["id"], south["id"], region["id"]
    p = pid("E", "granary")
    joins = {"A": pid("A", "join"), "C": pid("C", "join")}
    ledgers: dict[str, Any] = {
        "A": {"accepts": {n: "2026-01-02"},
              "proposals": {rid("join"): proposal(n, "2026-01-02", "Join", "join", r)},
              "ratifications": {joins["A"]: ratified("2026-01-03", 5, 0), p: ratified("2026-02-02", 10, 0)}},
        "B": {"accepts": {n: "2026-01-02"},
              "ratifications": {joins["A"]: ratified("2026-01-03", 5, 0), p: ratified("2026-02-02", 0, 8)}},
        "C": {"accepts": {s: "2026-01-02"},
              "proposals": {rid("join"): proposal(s, "2026-01-02", "Join", "join", r)},
              "ratifications": {joins["C"]: ratified("2026-01-03", 5, 0), p: ratified("2026-02-02", 7, 0)}},
        "D": {"accepts": {s: "2026-01-02"}, "ratifications": {joins["C"]: ratified("2026-01-03", 5, 0)}},
        "E": {"accepts": {r: "2026-01-02"},
              "proposals": {rid("granary"): proposal(r, "2026-02-01", "Regional granary")},
              "ratifications": {p: ratified("2026-02-02", 1, 1)}}}
    for name, fields in ledgers.items():
        doc_id, record = ledger(name, **fields)
        docs[doc_id] = record
    return ("North and South nested in Region: citizens below are summed; South (quorum 1/1) "
            "has not voted as a council while D is silent"), docs, "2026-02-03"


def reasons() -> tuple[str, dict[str, Record], str]:
    """Every reason text no other vector shows (view.md, "Reason texts")."""
    c, docs = valley(days=10)
    early, home = pid("A", "early"), pid("A", "home")
    m_b, m_c = rid("mandate-b"), rid("mandate-c")
    votes: dict[str, Any] = {
        "A": {"proposals": {
            rid("bad-amend"): proposal(c, "2026-02-01", "No deadline", "amend",
                                       amendment={"deadline_days": 0}),
            rid("admit-b"): proposal(c, "2026-02-01", "Admit B", "admit", key("B")),
            rid("suspend-z"): proposal(c, "2026-02-01", "Suspend Z", "suspend", key("Z")),
            rid("early"): proposal(c, "2026-02-05", "Early ratification"),
            rid("nobody"): proposal(c, "2026-02-01", "Nobody votes"),
            rid("home"): proposal(c, "2026-02-01", "Ratified at home")},
            "ratifications": {early: ratified("2026-02-06", 5, 1), home: ratified("2026-02-02", 3, 0)}},
        "B": {"ratifications": {early: ratified("2026-02-03", 9, 0), home: ratified("2026-02-02", 2, 0)},
              "mandates": {m_b: mandate("Elsewhere", None)}},
        "C": {"ratifications": {early: ratified("2026-02-07", 1, 4), home: ratified("2026-02-02", 4, 1)},
              "mandates": {m_c: mandate(c, None, ("Early ratification", "for", "imperative"))}}}
    docs |= members_accepting(c, "ABC", **votes)
    doc_id, record = ledger("Z", proposals={rid("from-z"): proposal(c, "2026-02-01", "Proposed by Z")})
    docs[doc_id] = record
    docs[f"mandate/{key('B')}/{m_b}"] = {"assembly": key("B"), "mandate": m_b, "acts": {
        rid("b1"): act("vote", "2026-02-06", early, "for", "indicative")}}
    docs[f"mandate/{key('C')}/{m_c}"] = {"assembly": key("C"), "mandate": m_c, "acts": {
        rid("c1"): act("vote", "2026-02-06", early, "against", "imperative"),
        rid("c2"): act("vote", "2026-02-01", home, "for", "indicative")}}
    return ("proposals ignored (proposer not in the electorate, invalid amendment, admitting a "
            "member, suspending a non-member), a ratification dated before its proposal, decided "
            "at the deadline, lapsed with nothing counted; acts for another council, against an "
            "instruction, indicative once ratified"), docs, "2026-03-01"

def accountability() -> tuple[str, dict[str, Record], str]:
    """Co-delegates acting, a charter's parity and rotation for its council, a draw by lot."""
    c_doc, valley_charter = charter("Valley", ["A", "B", "C", "D"])
    valley_charter |= {"parity": {"attribute": "gender", "min": {"man": 1, "woman": 1}, "share": "1/2"},
                       "rotation": {"consecutive_terms": 1, "days": 200, "period_days": 365}}
    c = valley_charter["id"]
    water = pid("A", "water")
    ana, bo = mandate(c, None), rid("mandate-ana")
    ana |= {"attributes": {"gender": "woman"}, "co_delegates": [
        {"delegate": "Bo", "delegate_key": key("bo"), "attributes": {"gender": "man"}}]}
    carl = {"delegate": "Carl", "delegate_key": None, "attributes": {"gender": "man"}}
    first = mandate("Valley", None) | carl | {"from": "2025-11-01", "until": "2026-01-14",
                                              "issued": "2025-10-20"}
    second = mandate(c, None) | carl
    def person(name: str, gender: str) -> Record:
        return {"delegate": name, "delegate_key": key(name), "attributes": {"gender": gender}}

    dee = mandate(c, None) | person("Dee", "woman") | {"from": "2025-03-01", "issued": "2025-02-20",
                                                        "co_delegates": [person("Eve", "woman"),
                                                                         person("Finn", "man")]}
    ref, draw = f"{key('A')}/{rid('draw')}", rid("draw")
    secrets = {n: hashlib.sha256(b"pnyx/vectors/view-secret/" + n.encode()).digest() for n in "AB"}
    steps = {n: {rid(f"commit-{n}"): {"draw": ref, "step": "commit", "date": "2026-02-02",
                                      "value": commitment(ref, parse_key(key(n)), secrets[n]).hex()},
                 rid(f"reveal-{n}"): {"draw": ref, "step": "reveal", "date": "2026-02-04",
                                      "value": secrets[n].hex()}} for n in "AB"}
    declaration = {"pool": [{"id": p, "attributes": {}} for p in ("dee", "eli", "fay", "gus")], "seats": 2,
                   "quotas": [], "portfolio": [{"panel": list(pair), "weight": 1} for pair in (
                       ("dee", "eli"), ("dee", "fay"), ("dee", "gus"), ("eli", "fay"), ("eli", "gus"),
                       ("fay", "gus"))],
                   "participants": sorted([key("A"), key("B")]), "commit_by": "2026-02-03",
                   "reveal_by": "2026-02-05"}
    docs = {c_doc: valley_charter}
    docs |= members_accepting(c, "ABCD", C={"mandates": {rid("dee"): dee}}, A={
        "mandates": {bo: ana}, "proposals": {rid("water"): proposal(c, "2026-02-01", "Water plan")}},
                              B={"mandates": {rid("carl-1"): first, rid("carl-2"): second}})
    docs[f"ledger/{key('A')}"] |= {"sortition": steps["A"], "draws": {draw: {
        "title": "Water council", "date": "2026-02-01", "adopted": True, "sortition": declaration}}}
    docs[f"ledger/{key('B')}"]["sortition"] = steps["B"]
    docs[f"mandate/{key('A')}/{bo}"] = {"assembly": key("A"), "mandate": bo, "acts": {
        rid("ana-1"): act("vote", "2026-02-02", water, "for", "indicative"),
        rid("bo-1"): act("report", "2026-02-03", text="council of 3 February") | {"by": key("bo")}}}
    return ("Ana and her co-delegate Bo act in one log; Valley requires a woman and a man in each "
            "delegation, each at least half of it (A meets it, B sends only Carl, C two women and "
            "a man, D nobody), one term in a row (Carl's second breaks it) and 200 days in 365 "
            "(Dee's year breaks it); A's draw by lot, with B, is drawn"), docs, "2026-02-10"


CASES = {"tally-97-23": tally_97_23, "amendment-60": lambda: amendment(60),
         "amendment-70": lambda: amendment(70), "admission": admission, "suspension": suspension,
         "non-member": non_member, "lapse": lapse, "delegates": delegates, "nested": nested,
         "outcomes": outcomes, "standing-acts": standing_acts, "reasons": reasons,
         "accountability": accountability}


def files() -> dict[str, bytes]:
    out = {}
    for name, build in CASES.items():
        description, documents, as_of = build()
        inputs = {"description": description, "as_of": as_of, "documents": documents}
        text = json.dumps(inputs, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        out[f"{name}.json"] = text.encode()
        out[f"{name}.expected.json"] = render_view(records_from(documents), dt.date.fromisoformat(as_of))
    return out


def main(argv: list[str]) -> int:
    target = Path(argv[0]) if argv else HERE
    target.mkdir(parents=True, exist_ok=True)
    for name, data in files().items():
        (target / name).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
