"""The confederal view on real records: tallies of citizens, thresholds, membership, mandates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from automerge.core import ROOT, Document
from pnyx.daemon.services.records import RecordError
from pnyx.federation.amvalues import ensure_map, put_value
from pnyx.federation.chunk import parse_change
from pnyx.federation.confed import Act, ActKind, write_act
from pnyx.federation.docids import charter_doc_id, mandate_doc_id
from pnyx.federation.envelope import run_actor, sign_change
from pnyx.federation.ledger import Binding, Position

from tests.confedkit import World, day, members, proposal, vote


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


def valley(world: World, **rules: object) -> str:
    for name in "ABC":
        world.assembly(name)
    charter = world.found("A", "Valley", ["A", "B", "C"], **rules)  # type: ignore[arg-type]
    for name in "ABC":
        world.accept(name, charter)
    return charter


def test_tally_sums_citizens_not_assemblies(world: World) -> None:
    charter = valley(world)
    pid = world.propose("A", charter, "2026-02-01", title="Shared water plan")
    world.ratify("A", pid, "2026-02-05", 90, 10)
    world.ratify("B", pid, "2026-02-06", 4, 6)
    world.ratify("C", pid, "2026-02-07", 3, 7)
    p = proposal(world.view("2026-02-10"), pid)
    assert p["outcome"] == "adopted"
    assert p["tally"] == {"for": 97, "against": 23, "abstain": 0}
    assert p["decided_on"] == "2026-02-07"
    majorities = {b["assembly"]: b["majority"] for b in p["breakdown"]}
    assert sorted(majorities.values()) == ["against", "against", "for"]
    assert majorities[world.key("A")] == "for"


def test_open_until_every_assembly_voted_or_the_deadline(world: World) -> None:
    charter = valley(world, deadline_days=10)
    pid = world.propose("A", charter, "2026-02-01")
    world.ratify("A", pid, "2026-02-02", 5, 1)
    p = proposal(world.view("2026-02-05"), pid)
    assert p["outcome"] == "open"
    assert set(p["not_voted"]) == {world.key("B"), world.key("C")}
    assert proposal(world.view("2026-02-12"), pid)["outcome"] == "adopted"


def test_deadline_lapse_when_too_few_assemblies_voted(world: World) -> None:
    charter = valley(world, quorum="1/2", deadline_days=10)
    pid = world.propose("A", charter, "2026-02-01")
    world.ratify("A", pid, "2026-02-02", 50, 1)
    world.ratify("B", pid, "2026-02-20", 50, 1, elsewhere=True)  # after the deadline: not counted
    p = proposal(world.view("2026-03-01"), pid)
    assert p["outcome"] == "lapsed"
    assert p["decided_on"] == "2026-02-11"
    assert p["tally"]["for"] == 50
    assert [i["reason"] for i in p["ignored"]] == ["after the deadline"]


@pytest.mark.parametrize(("share_for", "outcome"), [(60, "rejected"), (70, "adopted")])
def test_amendment_needs_the_qualified_majority(world: World, share_for: int, outcome: str) -> None:
    charter = valley(world, qualified="2/3")
    pid = world.propose("A", charter, "2026-02-01", kind="amend",
                        amendment={"deadline_days": 60, "protected": ["water is a commons"]})
    for name in "ABC":
        world.ratify(name, pid, "2026-02-03", share_for, 100 - share_for)
    view = world.view("2026-02-10")
    p = proposal(view, pid)
    assert (p["outcome"], p["threshold"]) == (outcome, "2/3")
    rules = next(c["rules"] for c in view["confederations"] if c["id"] == charter)
    assert rules["deadline_days"] == (60 if outcome == "adopted" else 30)
    # an ordinary proposal after it is judged by the rules then in force
    later = world.propose("B", charter, "2026-02-20")
    assert proposal(world.view("2026-02-21"), later)["deadline"] == (
        "2026-04-21" if outcome == "adopted" else "2026-03-22")


def test_admission_counts_after_adoption_and_acceptance(world: World) -> None:
    charter = valley(world)
    world.assembly("D")
    before = world.propose("A", charter, "2026-02-01", title="Before D")
    admit = world.propose("A", charter, "2026-02-01", kind="admit", subject=world.key("D"))
    for name in "ABC":
        world.ratify(name, admit, "2026-02-03", 10, 1)
    world.spread()
    assert members(world.view("2026-02-04"), charter)[world.key("D")] == "awaiting-acceptance"
    world.accept("D", charter, on="2026-02-05")
    after = world.propose("D", charter, "2026-02-06", title="After D")
    world.ratify("D", before, "2026-02-07", 100, 0, elsewhere=True)
    view = world.view("2026-02-08")
    assert members(view, charter)[world.key("D")] == "member"
    assert proposal(view, admit)["outcome"] == "adopted"
    assert world.key("D") in proposal(view, after)["not_voted"] + [
        b["assembly"] for b in proposal(view, after)["breakdown"]]
    ignored = proposal(view, before)["ignored"]
    assert [i["assembly"] for i in ignored] == [world.key("D")]
    assert "not in the electorate" in ignored[0]["reason"]


def test_suspended_member_no_longer_counts(world: World) -> None:
    charter = valley(world)
    suspend = world.propose("A", charter, "2026-02-01", kind="suspend", subject=world.key("C"))
    for name, votes in (("A", (60, 40)), ("B", (6, 4)), ("C", (0, 10))):
        world.ratify(name, suspend, "2026-02-03", *votes)
    pid = world.propose("A", charter, "2026-02-10")
    world.ratify("C", pid, "2026-02-11", 500, 0, elsewhere=True)
    view = world.view("2026-02-12")
    assert proposal(view, suspend)["outcome"] == "adopted"
    assert members(view, charter)[world.key("C")] == "suspended"
    p = proposal(view, pid)
    assert p["tally"]["for"] == 0 and world.key("C") not in p["not_voted"]
    assert p["ignored"][0]["reason"].endswith("suspended")


def test_ratification_by_a_non_member_is_ignored(world: World) -> None:
    charter = valley(world)
    world.assembly("Z")
    pid = world.propose("A", charter, "2026-02-01")
    world.ratify("Z", pid, "2026-02-02", 1000, 0, elsewhere=True)
    for name in "ABC":
        world.ratify(name, pid, "2026-02-02", 1, 2)
    p = proposal(world.view("2026-02-03"), pid)
    assert p["outcome"] == "rejected"
    assert p["tally"] == {"for": 3, "against": 6, "abstain": 0}
    assert p["ignored"] == [{"assembly": world.key("Z"), "decision": p["ignored"][0]["decision"],
                             "reason": "not in the electorate on 2026-02-01: not-a-member"}]


def test_founding_member_counts_only_once_it_accepted(world: World) -> None:
    for name in "AB":
        world.assembly(name)
    charter = world.found("A", "Pair", ["A", "B"])
    world.accept("A", charter)
    pid = world.propose("A", charter, "2026-02-01")
    world.ratify("A", pid, "2026-02-02", 3, 1)
    view = world.view("2026-02-03")
    assert members(view, charter) == {world.key("A"): "member", world.key("B"): "awaiting-acceptance"}
    assert proposal(view, pid)["outcome"] == "adopted"


def test_refuses_a_second_ratification_without_supersedes(world: World) -> None:
    charter = valley(world)
    pid = world.propose("A", charter, "2026-02-01")
    world.ratify("A", pid, "2026-02-02", 3, 1)
    with pytest.raises(RecordError, match="already ratified"):
        world.ratify("A", pid, "2026-02-03", 1, 3)


def test_nested_councils_roll_up_citizens(world: World) -> None:
    for name in "ABCDE":
        world.assembly(name)
    north = world.found("A", "North", ["A", "B"])
    south = world.found("C", "South", ["C", "D"])
    for name, charter in (("A", north), ("B", north), ("C", south), ("D", south)):
        world.accept(name, charter)
    region = world.found("E", "Region", ["E"], confederations=(north, south))
    world.accept("E", region)
    for lower, by, voters in ((north, "A", "AB"), (south, "C", "CD")):
        join = world.propose(by, lower, "2026-01-02", kind="join", subject=region)
        for name in voters:
            world.ratify(name, join, "2026-01-03", 5, 0)
    pid = world.propose("E", region, "2026-02-01", title="Regional granary")
    for name, votes in (("A", (10, 0)), ("B", (0, 8)), ("C", (7, 0)), ("D", (0, 2)), ("E", (1, 1))):
        world.ratify(name, pid, "2026-02-02", *votes)
    p = proposal(world.view("2026-02-03"), pid)
    assert p["tally"] == {"for": 18, "against": 11, "abstain": 0}
    assert p["outcome"] == "adopted"
    rows = {m["member"]: (m["for"], m["against"], m["assemblies"]) for m in p["councils"]}
    assert rows == {north: (10, 8, 2), south: (7, 2, 2)}
    assert (p["members"], p["members_voted"]) == (3, 3)
    assert {b["assembly"]: b["via"] for b in p["breakdown"]}[world.key("A")] == [north]


def test_delegate_acts_within_outside_and_without_a_mandate(world: World) -> None:
    charter = valley(world)
    pid = world.propose("A", charter, "2026-02-01", title="Shared water plan")
    other = world.propose("A", charter, "2026-02-01", title="Bus line")
    ana = world.delegate("ana", of="B")
    world.mandate("B", ana, charter, ("2026-01-15", "2026-03-01"),
                  (("Shared water plan", "for", "imperative"), ("treaty-7", "for", "imperative")))
    world.spread()
    world.act("ana", "vote", "2026-02-02", proposal=pid, position="for")
    world.act("ana", "vote", "2026-02-02", proposal=other, position="against", indicative=True)
    world.act("ana", "vote", "2026-02-02", proposal=other, position="for")
    world.act("ana", "sign", "2026-02-02", text="treaty-7")
    world.act("ana", "sign", "2026-02-02", text="treaty-8")
    with pytest.raises(RecordError, match="outside the mandate's term"):
        world.act("ana", "vote", "2026-03-05", proposal=pid, position="for")
    view = world.view("2026-02-03")
    (mandate,) = view["mandates"]
    assert mandate["state"] == "active"
    classes = sorted((a["kind"], a["text"] or a["position"], a["binding"], a["class"])
                     for a in mandate["acts"])
    assert classes == [
        ("sign", "treaty-7", None, "within-mandate"),
        ("sign", "treaty-8", None, "exceeds-mandate"),
        ("vote", "against", "indicative", "replaced"),  # one standing act per proposal
        ("vote", "for", "imperative", "exceeds-mandate"),
        ("vote", "for", "imperative", "within-mandate"),
    ]
    assert proposal(view, other)["tendency"] == []  # the standing vote exceeds the mandate
    assert proposal(world.view("2026-03-05"), pid)["tendency"] == []  # lapsed: no tendency


def test_delegate_without_a_mandate_cannot_write(world: World) -> None:
    world.assembly("A")
    world.delegate("bo", of="A")
    world.spread()
    with pytest.raises(RecordError, match="no mandate"):
        world.act("bo", "report", "2026-02-02", text="nothing")


def test_recall_concurrent_with_a_delegate_act_is_disputed(world: World) -> None:
    charter = valley(world)
    pid = world.propose("A", charter, "2026-02-01", title="Bus line")
    ana = world.delegate("ana", of="B")
    mandate = world.mandate("B", ana, charter, ("2026-01-15", "2026-03-01"))
    world.spread()
    world.act("ana", "report", "2026-02-02", text="first council went well")
    world.spread()  # the assembly holds the report before it recalls
    world.act("ana", "vote", "2026-02-03", proposal=pid, position="for", indicative=True)
    world.recorders["B"].recall_mandate(mandate, vote("2026-02-03", 30, 2))  # offline: concurrent
    view = world.view("2026-02-04")
    (m,) = view["mandates"]
    assert m["state"] == "recalled"
    by_kind = {a["kind"]: a["class"] for a in m["acts"]}
    assert by_kind == {"report": "within-mandate", "vote": "disputed"}
    # the delegate's device refuses to act once it holds the recall ...
    world.spread()
    with pytest.raises(RecordError, match="recalled"):
        world.act("ana", "report", "2026-02-05", text="late")
    # ... and an act written anyway, knowing of the recall, is void
    ledger_heads = world.nodes["ana"].docs.get(world.nodes["ana"].ledger_id).get_heads()
    late = Act("latelatelatelate", ActKind.VOTE, day("2026-02-05"), pid, Position.FOR,
               Binding.INDICATIVE, "")
    world.recorders["ana"].write(mandate_doc_id(world.nodes["B"].assembly, mandate),
                                 lambda tx: write_act(tx, late, ledger_heads))
    acts = {a["id"]: a for a in world.view("2026-02-06")["mandates"][0]["acts"]}
    assert acts["latelatelatelate"]["class"] == "void"
    assert "after the recall" in acts["latelatelatelate"]["reason"]


def test_view_of_one_confederation_lists_its_mandates_only(world: World) -> None:
    charter = valley(world)
    other = world.found("A", "Elsewhere", ["A"])
    world.mandate("B", None, charter, ("2026-01-15", "2026-03-01"))
    world.mandate("B", None, "Valley", ("2026-01-15", "2026-03-01"))  # by the council's name
    world.mandate("C", None, other, ("2026-01-15", "2026-03-01"))
    view = world.view("2026-02-01", confederation=charter)
    assert [c["id"] for c in view["confederations"]] == [charter]
    assert {m["council"] for m in view["mandates"]} == {charter, "Valley"}
    assert len(world.view("2026-02-01")["mandates"]) == 3


def test_ill_formed_records_are_skipped_not_fatal(world: World) -> None:
    charter = valley(world)
    pid = world.propose("A", charter, "2026-02-01")
    world.ratify("B", pid, "2026-02-02", 5, 1)
    b = world.recorders["B"]
    b.write(b.node.ledger_id, lambda tx: put_value(tx, ensure_map(tx, "decisions"), "badbadbadbadbadb", {
        "title": "x", "text": "", "date": "2026-02-02", "for": -3, "against": 0, "abstain": 0,
        "kind": "ratification", "subject": pid}))
    b.write(b.node.ledger_id, lambda tx: put_value(tx, ensure_map(tx, "decisions"), "bad2bad2bad2bad2", {
        "title": "x", "text": "", "date": "2026-02-02", "for": 1, "against": 0, "abstain": 0,
        "kind": "proposal", "proposal": {"confederation": charter, "kind": "admit"}}))
    # a charter document that is a valid change, whole, but not a charter (another format)
    doc = Document(run_actor(b.node.device_key.public, bytes(8)))
    with doc.transaction() as tx:
        put_value(tx, ROOT, "format", "something else")
        put_value(tx, ROOT, "founded", "2026-01-01")
        put_value(tx, ROOT, "members", [])
        put_value(tx, ROOT, "confederations", [])
        put_value(tx, ROOT, "rules", {"name": "Other", "threshold": "simple", "qualified": "2/3",
                                      "assembly_quorum": "1/2", "deadline_days": 30, "protected": []})
    raw = bytes(doc.get_changes([])[0].raw_bytes)
    doc_id = charter_doc_id(parse_change(raw).hash)
    assert b.node.ingestor.ingest([sign_change(b.node.device_key, doc_id, raw)]).accepted == 1
    view = world.view("2026-02-03")
    assert [c["id"] for c in view["confederations"]] == [charter]
    p = proposal(view, pid)
    assert p["tally"] == {"for": 5, "against": 1, "abstain": 0}
    assert len(view["confederations"][0]["proposals"]) == 1
