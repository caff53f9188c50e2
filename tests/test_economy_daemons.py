"""Needs and offers across daemons: two running daemons gossip a need, an offer, a pledge by
both sides and a delivery, recorded through the CLI and pnyx.client; a village offline the
whole time records its own need, and a bundle carried each way on a stick brings it into the
same plan. Every daemon then serves the same plan bytes, and each says how old its news is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pnyx.client import ApiError, Client

from .apikit import serve, token
from .confedkit import World
from .pnyxproc import Daemon, cli, wait_for

pytestmark = pytest.mark.slow
AS_OF = "2026-11-01"
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1")


def plan_bytes(daemon: Daemon) -> bytes:
    """The plan as the daemon serves it (GET /api/v1/plan), canonical bytes."""
    plan = Client(daemon.url).plan(as_of=AS_OF)
    return json.dumps(plan, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def cli_plan(data: Path) -> dict[str, Any]:
    out = cli(data, "plan", "--json", "--as-of", AS_OF, "--verify")
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def grain(plan: dict[str, Any]) -> dict[str, Any]:
    (line,) = [i for c in plan["confederations"] for i in c["items"] if i["item"] == "grain"]
    return dict(line)


def test_plan_across_daemons_and_a_village_reached_by_bundle(tmp_path: Path) -> None:
    world = World(tmp_path)
    for name in ("north", "south", "village"):
        world.assembly(name)
    charter = world.found("north", "Valley", ["north", "south", "village"])
    for name in ("north", "south", "village"):
        world.accept(name, charter)
    world.spread()
    keys = {name: world.key(name) for name in ("north", "south", "village")}
    world.close()
    north, south, village = (tmp_path / n for n in ("north", "south", "village"))

    # the village, offline, records its need with no daemon running
    village_need = cli(village, "need", "add", "--confed", charter, "--item", "Grain", "--quantity", "40",
                       "--unit", "kg", "--by", "2027-01-15", "--priority", "urgent",
                       "--date", "2026-10-03").stdout.strip()
    bad = cli(village, "need", "add", "--confed", charter, "--item", "grain", "--quantity", "0",
              "--unit", "kg", "--by", "2027-01-15", check=False)
    assert bad.returncode != 0 and bad.stderr.startswith("pnyx: error: ") and "Traceback" not in bad.stderr

    daemons = [serve(north, *GOSSIP), serve(south, *GOSSIP)]
    try:
        cli(north, "peers", "add", daemons[1].url)
        cli(south, "peers", "add", daemons[0].url)
        need = cli(north, "need", "add", "--confed", charter, "--item", "grain", "--quantity", "300",
                   "--unit", "kg", "--by", "2027-03-15", "--priority", "high",
                   "--date", "2026-10-01").stdout.strip()
        south_client = Client(daemons[1].url, token(south))
        offer = south_client.offer(charter, "grain", 250, "kg", "2026-12-01", "2027-06-30",
                                   conditions="collect at the mill", date="2026-10-02")["id"]
        need_ref, offer_ref = f"{keys['north']}/{need}", f"{keys['south']}/{offer}"
        wait_for("the need reaches south", lambda: _holds(daemons[1], "needs", keys["north"], need), 30)
        south_client.pledge(need_ref, offer_ref, 150, date="2026-10-05")
        wait_for("the offer and pledge reach north", lambda: _holds(daemons[0], "pledges", keys["south"]), 30)
        cli(north, "pledge", "add", "--need", need_ref, "--offer", offer_ref, "--quantity", "120",
            "--date", "2026-10-06")
        south_client.deliver(need_ref, offer_ref, 40, date="2026-10-20", note="first cart")
        with pytest.raises(ApiError) as refused:  # a stranger's pledge is refused, nothing written
            south_client.pledge(need_ref, f"{keys['south']}/{'a' * 16}", 5)
        assert refused.value.status == 404
        wait_for("both daemons serve the same plan",
                 lambda: plan_bytes(daemons[0]) == plan_bytes(daemons[1])
                 and grain(json.loads(plan_bytes(daemons[0])))["delivered"] == 40, 60)
        line = grain(json.loads(plan_bytes(daemons[0])))
        (pair,) = line["pledges"]
        assert (pair["state"], pair["agreed"], pair["delivered"]) == ("agreed", 120, 40)
        assert line["proposal"] == [{"need": need_ref, "offer": offer_ref, "quantity": 130}]
        jsonld = Client(daemons[0].url).plan_jsonld(as_of=AS_OF)
        assert {"vf:Intent", "vf:Commitment", "vf:Agreement", "vf:EconomicEvent"} <= {
            n["@type"] for n in jsonld["@graph"]}

        # the stick: the village's state to south, what it lacks back, the village's records to south
        cli(village, "state", "export", "-o", str(tmp_path / "village.state"))
        cli(south, "bundle", "export", "--for", str(tmp_path / "village.state"),
            "-o", str(tmp_path / "to-village.pnyx"))
        cli(village, "bundle", "import", str(tmp_path / "to-village.pnyx"))
        at_village = cli_plan(village)
        members = {m["assembly"]: m for m in at_village["confederations"][0]["members"]}
        assert members[keys["south"]]["newest"] == "2026-10-20"
        assert members[keys["north"]]["newest"] == "2026-10-06"
        village_line = grain(at_village)
        assert village_line["proposal"][0] == {"need": f"{keys['village']}/{village_need}",
                                               "offer": offer_ref, "quantity": 40}
        cli(village, "bundle", "export", "--all", "-o", str(tmp_path / "from-village.pnyx"))
        cli(south, "bundle", "import", str(tmp_path / "from-village.pnyx"))
        wait_for("the village's need reaches north by gossip",
                 lambda: plan_bytes(daemons[0]) == plan_bytes(daemons[1])
                 and len(grain(json.loads(plan_bytes(daemons[0])))["needs"]) == 2, 60)
        assert plan_bytes(daemons[0]) == json.dumps(
            cli_plan(village), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    finally:
        for daemon in daemons:
            daemon.stop()


def _holds(daemon: Daemon, collection: str, assembly: str, record: str | None = None) -> bool:
    try:
        records = Client(daemon.url).records(collection, assembly=assembly)
    except ApiError:
        return False
    return bool(records) and (record is None or any(r["id"] == record for r in records))
