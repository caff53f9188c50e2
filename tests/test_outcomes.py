"""Votes decide: outcomes under the bylaws in force, rejected records without effect,
records checked where written (with an injected clock), one standing act per proposal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pnyx.daemon.services.names import resolve_assembly
from pnyx.daemon.services.records import DecisionInput, Recorder, RecordError
from pnyx.federation.bylaws import Bylaws, Outcome, judge, outcome
from pnyx.federation.confed import ProposalBody, ProposalKind
from pnyx.federation.ledger import Decision, Ledger, Profile, Tally

from tests.confedkit import World, day, members, proposal, vote


def decision(did: str, on: str, votes: tuple[int, int, int], kind: str = "decision",
             quorum: int | None = None, bylaws: dict[str, object] | None = None) -> Decision:
    return Decision(did, did, "", day(on), Tally(*votes), quorum, "", None, kind, None, bylaws)


def ledger(*decisions: Decision, members: int | None = 120) -> Ledger:
    return Ledger(Profile("a", "A", "", members), {}, {d.id: d for d in decisions}, {})


# --- federation/bylaws.py ------------------------------------------------------------------


def test_simple_majority_by_default_and_a_share_once_adopted() -> None:
    judged = judge(ledger(
        decision("aaaaaaaaaaaaaaa1", "2026-01-10", (60, 40, 0)),
        decision("aaaaaaaaaaaaaaa2", "2026-01-10", (70, 10, 0), kind="bylaws", bylaws={"rule": "2/3"}),
        decision("aaaaaaaaaaaaaaa3", "2026-01-10", (60, 40, 0)),  # same day: the old bylaws
        decision("aaaaaaaaaaaaaaa4", "2026-01-11", (60, 40, 0)),  # the day after: 2/3
        decision("aaaaaaaaaaaaaaa5", "2026-01-11", (10, 30, 0))))
    assert {k: v.outcome for k, v in judged.verdicts.items()} == {
        "aaaaaaaaaaaaaaa1": Outcome.ADOPTED, "aaaaaaaaaaaaaaa2": Outcome.ADOPTED,
        "aaaaaaaaaaaaaaa3": Outcome.ADOPTED, "aaaaaaaaaaaaaaa4": Outcome.REJECTED,
        "aaaaaaaaaaaaaaa5": Outcome.REJECTED}
    assert judged.verdicts["aaaaaaaaaaaaaaa4"].bylaws == "aaaaaaaaaaaaaaa2"
    assert judged.verdicts["aaaaaaaaaaaaaaa4"].reason == "not for at least 2/3 of for and against"


def test_quorum_amendments_keep_other_keys_and_unknown_keys_are_kept() -> None:
    judged = judge(ledger(
        decision("bbbbbbbbbbbbbbb1", "2026-01-01", (50, 0, 0), kind="bylaws",
                 bylaws={"rule": "3/5", "petition": {"share": "1/4"}}),
        decision("bbbbbbbbbbbbbbb2", "2026-01-02", (50, 0, 0), kind="bylaws", bylaws={"quorum": 40}),
        decision("bbbbbbbbbbbbbbb3", "2026-01-03", (20, 5, 0)),
        decision("bbbbbbbbbbbbbbb4", "2026-01-03", (20, 5, 0), quorum=45),
        decision("bbbbbbbbbbbbbbb5", "2026-01-02", (1, 9, 0), kind="bylaws", bylaws={"rule": "simple"}),
        decision("bbbbbbbbbbbbbbb6", "2026-01-04", (5, 0, 0), kind="bylaws", bylaws={"rule": "1/3"})))
    assert judged.bylaws_at(day("2026-01-03"))[1] == Bylaws("3/5", 40, 120, {"petition": {"share": "1/4"}})
    assert judged.verdicts["bbbbbbbbbbbbbbb3"].outcome is Outcome.NO_QUORUM
    assert judged.verdicts["bbbbbbbbbbbbbbb3"].reason == "25 members present; the bylaws require 40"
    assert judged.verdicts["bbbbbbbbbbbbbbb4"].outcome is Outcome.ADOPTED
    assert judged.verdicts["bbbbbbbbbbbbbbb5"].outcome is Outcome.REJECTED  # voted down: no change
    assert judged.verdicts["bbbbbbbbbbbbbbb6"].outcome is Outcome.NO_QUORUM
    assert judged.bylaws_at(day("2026-02-01"))[0] == "bbbbbbbbbbbbbbb2"


def test_ill_formed_bylaws_are_adopted_but_not_in_force() -> None:
    judged = judge(ledger(decision("ccccccccccccccc1", "2026-01-01", (5, 0, 0), kind="bylaws",
                                   bylaws={"rule": "1/3"})))
    assert judged.adopted("ccccccccccccccc1")
    assert "rule" in judged.ill_formed["ccccccccccccccc1"]
    assert judged.bylaws_at(day("2026-02-01")) == (None, Bylaws(members=120))


def test_those_who_voted_were_present() -> None:
    assert outcome(Tally(30, 5, 0), 10, Bylaws(quorum=20))[0] is Outcome.ADOPTED


# --- the daemon: rejected records have no effect --------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


def valley(world: World) -> str:
    for name in "ABC":
        world.assembly(name)
    charter = world.found("A", "Valley", ["A", "B", "C"])
    for name in "ABC":
        world.accept(name, charter)
    return charter


def test_a_recall_voted_down_recalls_nothing(world: World) -> None:
    charter = valley(world)
    rec = world.recorders["B"]
    mandate = world.mandate("B", None, charter, ("2026-01-15", "2026-12-01"))
    rejected = rec.recall_mandate(mandate, vote("2026-02-01", 1, 20, 1))
    ledger, judged = rec.judged()
    assert judged.verdicts[rejected].outcome is Outcome.REJECTED
    assert judged.recall_of(ledger, mandate) is None
    assert world.view("2026-03-01")["mandates"][0]["state"] == "active"
    adopted = rec.recall_mandate(mandate, vote("2026-02-02", 20, 1, 1))
    (row,) = world.view("2026-03-01")["mandates"]
    assert (row["state"], row["recalled_by"]) == ("recalled", adopted)
    with pytest.raises(RecordError, match="was recalled by"):
        rec.recall_mandate(mandate, vote("2026-02-03", 20, 1, 1))


def test_a_mandate_voted_down_confers_nothing(world: World) -> None:
    charter = valley(world)
    pid = world.propose("A", charter, "2026-02-01", title="Water")
    ana = world.delegate("ana", of="B")
    world.recorders["B"].issue_mandate(vote("2026-01-10", 2, 70), "Ana", ana, charter, day("2026-01-15"),
                                       day("2026-03-01"), ())
    world.spread()
    with pytest.raises(RecordError, match="was not adopted"):
        world.act("ana", "vote", "2026-02-02", proposal=pid, position="for", indicative=True)
    (row,) = world.view("2026-02-03")["mandates"]
    assert row["state"] == "not-adopted"


def test_a_proposal_voted_down_is_not_put_and_a_rejected_ratification_counts_against(world: World) -> None:
    charter = valley(world)
    refused = world.recorders["A"].propose(ProposalBody(charter, ProposalKind.POLICY, None, None),
                                           vote("2026-02-01", 10, 30, title="Refused at home"))
    pid = world.propose("A", charter, "2026-02-01", title="Put")
    world.ratify("A", pid, "2026-02-02", 30, 5)
    world.ratify("B", pid, "2026-02-02", 4, 9)  # rejected at B: its 9 count against
    world.spread()
    world.ratify("C", pid, "2026-02-02", 50, 0)
    view = world.view("2026-02-03")
    assert view["confederations"][0]["ignored_proposals"] == [
        {"proposal": refused, "reason": "the proposing assembly did not adopt it: rejected"}]
    assert proposal(view, pid)["tally"] == {"for": 84, "against": 14, "abstain": 0}


def test_a_ratification_without_quorum_is_kept_but_does_not_count(world: World) -> None:
    charter = valley(world)
    pid = world.propose("A", charter, "2026-02-01")
    rec = world.recorders["C"]
    rec.adopt_bylaws({"quorum": 30}, vote("2026-01-05", 40, 0))
    world.spread()
    short = rec.ratify(pid, vote("2026-02-02", 10, 2))
    p = proposal(world.view("2026-02-03"), pid)
    assert p["ignored"] == [{"assembly": world.key("C"), "decision": short,
                             "reason": "the assembly's vote had no quorum"}]


def test_propose_with_ratify_counts_the_proposing_assemblys_vote_at_once(world: World) -> None:
    charter = valley(world)
    pid = world.recorders["A"].propose(ProposalBody(charter, ProposalKind.POLICY, None, None),
                                       vote("2026-02-01", 40, 2, title="Water"), ratify=True)
    (row,) = proposal(world.view("2026-02-02"), pid)["breakdown"]
    assert (row["assembly"], row["for"], row["against"]) == (world.key("A"), 40, 2)
    with pytest.raises(RecordError, match="nothing to ratify"):
        world.recorders["A"].propose(ProposalBody(charter, ProposalKind.POLICY, None, None),
                                     vote("2026-02-01", 2, 40, title="No"), ratify=True)


# --- checked where written ------------------------------------------------------------------


def test_implausible_records_are_refused_with_a_reason(world: World) -> None:
    charter = valley(world)
    world.assembly("Z")
    world.spread()
    node = world.nodes["A"]
    rec = Recorder(node, today=lambda: dt.date(2026, 3, 1))
    before = node.store.count_changes()
    rec.adopt_bylaws({"members": 120}, vote("2026-01-03", 90, 0))
    pid = world.propose("A", charter, "2026-02-01")
    world.spread()
    refusals = {
        "after today": lambda: rec.decide(vote("2026-03-02", 1, 0)),
        "the quorum": lambda: rec.decide(DecisionInput("t", "", day("2026-02-01"), Tally(100, 10, 0),
                                                       quorum=10)),
        "has 120 members": lambda: rec.decide(vote("2026-02-01", 800, 30)),
        "the term ended": lambda: rec.issue_mandate(vote("2026-02-01", 5, 0), "Ana", None, charter,
                                                    day("2026-01-01"), day("2026-01-31"), ()),
        "founded on 2026-01-01": lambda: rec.accept_charter(charter, vote("2025-12-31", 5, 0)),
        "dated before the proposal": lambda: rec.ratify(pid, vote("2026-01-20", 5, 0)),
        "the subject is not a member": lambda: rec.propose(
            ProposalBody(charter, ProposalKind.SUSPEND, world.key("Z"), None), vote("2026-02-01", 5, 0)),
        "invalid amendment": lambda: rec.propose(
            ProposalBody(charter, ProposalKind.AMEND, None, {"deadline_days": 0}), vote("2026-02-01", 5, 0)),
        "rule": lambda: rec.adopt_bylaws({"rule": "1/3"}, vote("2026-02-01", 5, 0)),
    }
    written = node.store.count_changes()
    for reason, write in refusals.items():
        with pytest.raises(RecordError, match=reason):
            write()
    assert node.store.count_changes() == written > before


# --- one standing act per proposal ------------------------------------------------------------


def test_a_later_vote_replaces_the_earlier_and_a_vote_can_be_withdrawn(world: World) -> None:
    charter = valley(world)
    pid = world.propose("A", charter, "2026-02-01", title="Water")
    ana = world.delegate("ana", of="B")
    world.mandate("B", ana, charter, ("2026-01-15", "2026-03-01"))
    world.spread()
    with pytest.raises(RecordError, match="no standing vote"):
        world.act("ana", "withdraw", "2026-02-02", proposal=pid)
    first = world.act("ana", "vote", "2026-02-02", proposal=pid, position="for", indicative=True)
    second = world.act("ana", "vote", "2026-02-02", proposal=pid, position="against", indicative=True)
    assert proposal(world.view("2026-02-02"), pid)["tendency"][0]["act"] == second
    acts = {a["id"]: a for a in world.view("2026-02-02")["mandates"][0]["acts"]}
    assert (acts[first]["class"], acts[second]["replaces"]) == ("replaced", first)
    withdrawal = world.act("ana", "withdraw", "2026-02-03", proposal=pid)
    view = world.view("2026-02-03")
    acts = {a["id"]: a for a in view["mandates"][0]["acts"]}
    assert (acts[second]["class"], acts[withdrawal]["class"]) == ("replaced", "withdrawal")
    assert proposal(view, pid)["tendency"] == []
    assert members(view, charter)[world.key("B")] == "member"


# --- names ------------------------------------------------------------------------------------


def test_an_ambiguous_name_is_refused_with_the_candidates(world: World) -> None:
    world.assembly("A")
    world.assembly("Barrio")
    second = world.recorders["A"]
    world.spread()
    twin = World(world.root / "twin")
    twin.assembly("Barrio")
    for node in twin.nodes.values():
        world.nodes["A"].ingestor.ingest([s.envelope for s in node.store.envelopes()])
    candidates = r"more than one assembly named 'barrio' is held here: \w+ \(Barrio\); \w+ \(Barrio\)"
    with pytest.raises(RecordError, match=candidates):
        resolve_assembly(second.node, "barrio")
    assert resolve_assembly(second.node, "a") == second.node.assembly
    twin.close()
