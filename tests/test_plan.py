"""The confederal plan from real ledgers: needs, offers, pledges by both sides, deliveries,
the match proposal, revisions and withdrawals by new records, the commons register, and the
same bytes whatever order the records arrived in."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from pnyx.daemon.services.bodies import BadRequest
from pnyx.daemon.services.economy import Economy
from pnyx.daemon.services.records import RecordError, UnknownRecord
from pnyx.daemon.store.viewindex import scratch_plan, scratch_records
from pnyx.federation.plan import render_plan
from pnyx.federation.recordset import RecordSet

from .confedkit import World, day


def need(world: World, who: str, confed: str, item: str, quantity: int, by: str, **extra: Any) -> str:
    body = {"confederation": confed, "item": item, "quantity": quantity, "unit": "kg", "by": by,
            "date": "2026-10-01", **extra}
    return str(Economy(world.recorders[who]).record("needs", body)["id"])


def offer(world: World, who: str, confed: str, item: str, quantity: int, start: str, end: str,
          **extra: Any) -> str:
    body = {"confederation": confed, "item": item, "quantity": quantity, "unit": "kg",
            "from": start, "until": end, "date": "2026-10-01", **extra}
    return str(Economy(world.recorders[who]).record("offers", body)["id"])


def act(world: World, who: str, collection: str, need_ref: str, offer_ref: str, quantity: int,
        on: str = "2026-10-05") -> str:
    body = {"need": need_ref, "offer": offer_ref, "quantity": quantity, "date": on}
    return str(Economy(world.recorders[who]).record(collection, body)["id"])


def plan(world: World, as_of: str = "2026-11-01", at: str | None = None) -> dict[str, Any]:
    if at is None:
        world.spread()
        at = sorted(world.nodes)[0]
    result: dict[str, Any] = json.loads(scratch_plan(world.nodes[at].store, day(as_of)))
    return result


def line(p: dict[str, Any], item: str) -> dict[str, Any]:
    (found,) = [i for c in p["confederations"] for i in c["items"] if i["item"] == item]
    return dict(found)


@pytest.fixture
def valley(tmp_path: Path) -> Any:
    world = World(tmp_path)
    for name in ("A", "B", "C"):
        world.assembly(name)
    charter = world.found("A", "Valley", ["A", "B", "C"])
    for name in ("A", "B", "C"):
        world.accept(name, charter)
    world.spread()
    yield world, charter
    world.close()


def test_needs_against_offers_with_pledges_deliveries_and_a_proposal(valley: Any) -> None:
    world, c = valley
    a, b, cc = world.key("A"), world.key("B"), world.key("C")
    grain_a = need(world, "A", c, "Grain", 300, "2027-03-15", priority="high")
    grain_c = need(world, "C", c, " grain ", 100, "2027-01-10", priority="urgent")
    late_c = need(world, "C", c, "grain", 50, "2026-12-01", priority="low")
    grain_b = offer(world, "B", c, "GRAIN", 250, "2026-12-01", "2027-06-30")
    spring_b = offer(world, "B", c, "grain", 500, "2027-04-01", "2027-09-30")
    world.spread()
    pair = (f"{a}/{grain_a}", f"{b}/{grain_b}")
    act(world, "A", "pledges", *pair, 120)
    act(world, "B", "pledges", *pair, 150)
    act(world, "B", "deliveries", *pair, 40, on="2026-10-20")
    act(world, "A", "deliveries", *pair, 30, on="2026-10-21")
    grain = line(plan(world), "grain")
    assert (grain["needed"], grain["offered"], grain["unit"]) == (450, 750, "kg")
    rows = {p_["need"]: p_ for p_ in grain["pledges"]}
    assert rows[pair[0]]["state"] == "agreed" and rows[pair[0]]["agreed"] == 120
    assert (rows[pair[0]]["delivered"], rows[pair[0]]["received"]) == (40, 30)
    # urgent C first, then high A takes what is left of the winter offer (250 - 120 pledged - 100);
    # the spring offer starts after every need is due; low C gets nothing
    assert grain["proposal"] == [
        {"need": f"{cc}/{grain_c}", "offer": f"{b}/{grain_b}", "quantity": 100},
        {"need": f"{a}/{grain_a}", "offer": f"{b}/{grain_b}", "quantity": 30}]
    needs = {n["id"]: n for n in grain["needs"]}
    assert needs[f"{cc}/{late_c}"]["uncovered"] == 50
    assert needs[f"{a}/{grain_a}"]["uncovered"] == 150
    assert (needs[f"{a}/{grain_a}"]["pledged"], needs[f"{a}/{grain_a}"]["delivered"]) == (120, 40)
    offers = {o["id"]: o for o in grain["offers"]}
    assert offers[f"{b}/{grain_b}"]["surplus"] == 0 and offers[f"{b}/{spring_b}"]["surplus"] == 500
    assert grain["uncovered"] == 200 and grain["surplus"] == 500
    periods = {p_["period"]: p_ for p_ in grain["periods"]}
    assert periods["2027-03"]["needed"] == 300 and periods["2027-04"]["offered"] == 500


def test_one_sided_pledge_awaits_the_other_side_and_a_stranger_cannot_pledge(valley: Any) -> None:
    world, c = valley
    a, b = world.key("A"), world.key("B")
    n = need(world, "A", c, "seed", 10, "2027-02-01")
    o = offer(world, "B", c, "seed", 10, "2026-11-01", "2027-02-01")
    world.spread()
    act(world, "B", "pledges", f"{a}/{n}", f"{b}/{o}", 10)
    (row,) = line(plan(world), "seed")["pledges"]
    assert (row["state"], row["agreed"]) == ("awaiting-receiver", 0)
    with pytest.raises(RecordError, match="needing or the offering"):
        act(world, "C", "pledges", f"{a}/{n}", f"{b}/{o}", 10)
    with pytest.raises(UnknownRecord):
        act(world, "A", "pledges", f"{a}/{'a' * 16}", f"{b}/{o}", 10)


def test_revision_and_withdrawal_are_new_records_and_the_plan_reads_as_of(valley: Any) -> None:
    world, c = valley
    economy = Economy(world.recorders["A"])
    first = need(world, "A", c, "oil", 40, "2027-01-01")
    revised = economy.record("needs", {"supersedes": first, "quantity": 60, "date": "2026-10-10"})
    assert revised["item"] == "oil" and revised["supersedes"] == first
    with pytest.raises(RecordError, match="revised by"):
        economy.record("needs", {"supersedes": first, "quantity": 70})
    before = line(plan(world, "2026-10-05"), "oil")
    after = line(plan(world, "2026-10-15"), "oil")
    assert before["needed"] == 40 and after["needed"] == 60
    assert after["needs"][0]["id"].endswith(first)  # the chain keeps its first id
    economy.withdraw("needs", revised["id"], {"date": "2026-10-20"})
    assert line(plan(world, "2026-10-25"), "oil")["needs"][0]["state"] == "withdrawn"
    assert line(plan(world, "2026-10-25"), "oil")["needed"] == 0
    with pytest.raises(RecordError, match="withdrawn"):
        economy.withdraw("needs", first, {"date": "2026-10-21"})
    ledger = world.nodes["A"].docs.get(world.nodes["A"].ledger_id)
    from pnyx.federation.economy import read_records

    assert [r["quantity"] for r in read_records(ledger, "needs").values()].count(40) == 1  # kept


def test_bad_records_are_refused_and_write_nothing(valley: Any) -> None:
    world, c = valley
    node = world.nodes["A"]
    held = node.store.count_changes()
    economy = Economy(world.recorders["A"])
    for body in ({"confederation": c, "item": "x", "quantity": 0, "unit": "kg", "by": "2027-01-01"},
                 {"confederation": c, "item": "", "quantity": 1, "unit": "kg", "by": "2027-01-01"},
                 {"confederation": c, "item": "x", "quantity": 1, "unit": "kg", "by": "tomorrow"},
                 {"confederation": c, "item": "x", "quantity": 1, "unit": "kg", "by": "2027-01-01",
                  "priority": "whenever"},
                 {"confederation": c, "item": "x", "quantity": 1, "unit": "kg", "by": "2027-01-01",
                  "colour": "red"}):
        with pytest.raises((BadRequest, RecordError)):
            economy.record("needs", body)
    with pytest.raises(RecordError, match="ends before it starts"):
        economy.record("offers", {"confederation": c, "item": "x", "quantity": 1, "unit": "kg",
                                  "from": "2027-02-01", "until": "2027-01-01"})
    with pytest.raises(UnknownRecord):
        economy.record("needs", {"confederation": "f" * 64, "item": "x", "quantity": 1, "unit": "kg",
                                 "by": "2027-01-01"})
    assert node.store.count_changes() == held


def test_non_member_records_are_ignored_with_the_reason(valley: Any, tmp_path: Path) -> None:
    world, c = valley
    world.assembly("D")  # not a member of Valley
    world.spread()
    need(world, "D", c, "salt", 5, "2027-01-01")
    grain = line(plan(world), "salt")
    assert grain["needs"] == [] and "not a member" in grain["ignored"][0]["reason"]


def test_commons_register_follows_adopted_proposals(valley: Any) -> None:
    world, c = valley
    economy = Economy(world.recorders["B"])
    tractor = economy.record("commons", {"confederation": c, "good": "Tractor",
                                         "rules": "Booked a week ahead", "date": "2026-10-01"})
    ref = f"{world.key('B')}/{tractor['id']}"
    pid = world.propose("A", c, "2026-10-02", kind="commons", subject=ref, title="The tractor")
    for name in ("A", "B", "C"):
        world.ratify(name, pid, "2026-10-03", 10, 1)
    (valley_plan,) = plan(world)["confederations"]
    (row,) = valley_plan["commons"]
    assert (row["good"], row["custodian"], row["rules"]) == ("tractor", world.key("B"), "Booked a week ahead")
    assert row["effective"] == "2026-10-04"
    assert plan(world, "2026-10-03")["confederations"][0]["commons"] == []


def test_plan_is_the_same_whatever_order_the_ledgers_arrive(valley: Any) -> None:
    world, c = valley
    a, b = world.key("A"), world.key("B")
    n = need(world, "A", c, "wool", 30, "2027-02-01")
    o = offer(world, "B", c, "wool", 20, "2026-11-01", "2027-03-01")
    need(world, "C", c, "wool", 25, "2027-01-01", priority="urgent")
    world.spread()
    act(world, "A", "pledges", f"{a}/{n}", f"{b}/{o}", 20)
    world.spread()
    source = scratch_records(world.nodes["A"].store)
    expected = render_plan(source, day("2026-11-01"))
    docs = {doc_id: record for doc_id, record in _documents(source).items()}
    for order in itertools.islice(itertools.permutations(sorted(docs)), 0, 24, 5):
        records = RecordSet()
        for doc_id in order:
            records.put(doc_id, docs[doc_id])
            render_plan(records, day("2026-11-01"))  # incremental upkeep between arrivals
        assert render_plan(records, day("2026-11-01")) == expected
    members = json.loads(expected)["confederations"][0]["members"]
    assert {m["assembly"]: m["newest"] for m in members}[a] == "2026-10-05"


def _documents(records: RecordSet) -> dict[str, Any]:
    out: dict[str, Any] = {f"charter/{k}": v for k, v in records.charters.items()}
    out.update({f"ledger/{k}": v for k, v in records.ledgers.items()})
    return out
