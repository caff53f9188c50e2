"""Rotation across two running daemons (protocol-spec/ledger.md, "Rotation"): the bylaws allow
two consecutive terms to one council and 200 days in any 365. A third consecutive term, and a
term that would pass 200 days, are refused where written and write nothing; one written
without the checks (as another implementation might) is flagged at both daemons, by the API,
the CLI and the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from automerge.core import Transaction
from pnyx.daemon.services.records import Recorder, new_record_id
from pnyx.daemon.store.node import open_node
from pnyx.federation.ledger import Mandate, write_mandate
from pnyx.federation.rotation import breach

from .apikit import call, serve
from .confedkit import World, day, vote
from .pnyxproc import cli, wait_for

pytestmark = pytest.mark.slow
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1")
VOTE = ("--date", "2025-12-15", "--for", "20", "--against", "2", "--abstain", "0")


def mandate(data: Path, who: str, start: str, end: str, check: bool = True) -> Any:
    return cli(data, "mandate", "issue", "--delegate", who, "--council", "Water council",
               "--from", start, "--until", end, *VOTE, check=check)


def test_a_mandate_breaking_the_rotation_is_refused_here_and_flagged_from_elsewhere(tmp_path: Path) -> None:
    world = World(tmp_path)
    north_key = world.assembly("north")
    world.assembly("south")
    world.close()
    north, south = tmp_path / "north", tmp_path / "south"
    cli(north, "bylaws", "--rotation-terms", "2", "--rotation-days", "200", "365",
        "--date", "2025-12-01", "--for", "20", "--against", "2", "--abstain", "0")
    mandate(north, "Ana", "2026-01-01", "2026-03-31")
    mandate(north, "Ana", "2026-04-01", "2026-06-30")
    third = mandate(north, "Ana", "2026-07-01", "2026-09-30", check=False)
    assert third.returncode == 1
    assert "3 consecutive terms to Water council; the bylaws allow 2" in third.stderr
    mandate(north, "Bo", "2026-01-01", "2026-05-31")
    longer = mandate(north, "Bo", "2026-07-01", "2026-08-31", check=False)
    assert longer.returncode == 1 and "213 days held in 365" in longer.stderr
    mandate(north, "Bo", "2026-12-15", "2027-01-31")  # another year's window: allowed
    assert cli(north, "show", "mandates").stdout.count("Water council") == 4

    node = open_node(north)  # written without the checks, as another implementation might
    try:
        recorder = Recorder(node)
        mandate_id = new_record_id()

        def extra(tx: Transaction, decision_id: str) -> None:
            write_mandate(tx, Mandate(mandate_id, "Ana", None, "Water council", day("2026-07-01"),
                                      day("2026-09-30"), (), decision_id, None))
        world = World(tmp_path)
        world.recorders["north"] = recorder
        world.unchecked("north", vote("2025-12-15", 20, 2), "mandate", mandate_id, extra)
        ledger, judged = recorder.judged()
        assert breach(ledger, judged, ledger.mandates[mandate_id]) is not None
    finally:
        node.close()

    daemons = [serve(north, *GOSSIP), serve(south, *GOSSIP)]
    try:
        cli(north, "peers", "add", daemons[1].url)
        cli(south, "peers", "add", daemons[0].url)

        def flagged(daemon: Any) -> dict[str, Any]:
            status, rows = call(daemon, "GET", f"/mandates?assembly={north_key}")
            return {r["id"]: r["rotation"] for r in rows} if status == 200 else {}

        wait_for("south flags the breaking mandate", lambda: flagged(daemons[1]).get(mandate_id), 60)
        at_south = flagged(daemons[1])
        assert at_south[mandate_id] == "3 consecutive terms to Water council; the bylaws allow 2"
        assert [k for k, v in at_south.items() if v] == [mandate_id]
        assert flagged(daemons[0]) == at_south
        shown = cli(south, "show", "mandates", "--assembly", north_key).stdout
        assert "BREAKS THE ROTATION: 3 consecutive terms" in shown
        _page_flags(daemons[0].url, mandate_id)
    finally:
        for daemon in daemons:
            daemon.stop()


def _page_flags(url: str, mandate_id: str) -> None:
    from playwright.sync_api import expect

    from tests.browserkit import browser_page
    with browser_page(f"{url}/#ledger") as page:
        expect(page.locator(f'#ledger-mandates li[data-id="{mandate_id}"] .rotation')).to_contain_text(
            "breaks the rotation: 3 consecutive terms", timeout=15_000)
