"""Minority reopening across two running daemons (protocol-spec/ledger.md, "Minority reopening"):
the bylaws let a third of the members, or the dissenting side within 30 days, reopen a decision.
Reopenings that do not meet them are refused where written and write nothing; one written
without the checks (as another implementation might) is ignored by every reader; a valid one
shows the decision as reopened at both daemons, and the new vote links back to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from automerge.core import ROOT, Transaction
from pnyx.daemon.services.records import DecisionInput, Recorder
from pnyx.daemon.store.node import open_node
from pnyx.federation.amvalues import put_value
from pnyx.federation.ledger import Tally

from .apikit import call, serve, token
from .confedkit import World, day
from .pnyxproc import cli, wait_for

pytestmark = pytest.mark.slow
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1")
VOTE = ("--for", "20", "--against", "2", "--abstain", "0")


def rows(daemon: Any, assembly: str) -> dict[str, dict[str, Any]]:
    status, found = call(daemon, "GET", f"/decisions?assembly={assembly}")
    return {r["id"]: r for r in found} if status == 200 else {}


def test_a_minority_reopens_a_decision_and_the_new_vote_links_back(tmp_path: Path) -> None:
    world = World(tmp_path)
    north_key = world.assembly("north")
    world.assembly("south")
    world.close()
    north, south = tmp_path / "north", tmp_path / "south"
    cli(north, "bylaws", "--members", "30", "--reopen-share", "1/3", "--reopen-dissent-days", "30",
        "--date", "2026-09-01", *VOTE)
    kitchen = cli(north, "decide", "--title", "Kitchen on Mondays", "--date", "2026-10-01",
                  "--for", "20", "--against", "8", "--abstain", "0").stdout.strip()
    for args, why in ((("share", "5", "2026-10-05"), "require 1/3 of 30"),
                      (("dissent", "8", "2026-11-15"), "until 2026-10-31"),
                      (("dissent", "3", "2026-10-05"), "dissenting side was 8")):
        refused = cli(north, "reopen", kitchen, "--by", args[0], "--members", args[1], "--date", args[2],
                      check=False)
        assert refused.returncode == 1 and why in refused.stderr and "Traceback" not in refused.stderr
    assert all(r["kind"] != "reopening" for r in json.loads(cli(north, "show", "decisions", "--json").stdout))

    # written without the checks: 4 members by share; every reader ignores it
    world = World(tmp_path)
    world.nodes["north"] = open_node(north)
    world.recorders["north"] = Recorder(world.nodes["north"])

    def claim(tx: Transaction, decision_id: str) -> None:
        entry = tx.get(tx.get(ROOT, "decisions")[1], decision_id)
        put_value(tx, entry[1], "reopening", {"by": "share"})

    forged = world.unchecked("north", DecisionInput("Reopening", "", day("2026-10-04"), Tally(4, 0, 0)),
                             "reopening", kitchen, claim)
    world.close()

    daemons = [serve(north, *GOSSIP), serve(south, *GOSSIP)]
    try:
        cli(north, "peers", "add", daemons[1].url)
        cli(south, "peers", "add", daemons[0].url)
        status, reopening = call(daemons[0], "POST", f"/decisions/{kitchen}/reopen",
                                 {"by": "dissent", "members": 8, "date": "2026-10-06",
                                  "text": "Mondays exclude the market workers"}, auth=token(north))
        assert status == 201 and reopening["kind"] == "reopening" and reopening["subject"] == kitchen
        wait_for("the reopening reaches south",
                 lambda: rows(daemons[1], north_key).get(kitchen, {}).get("reopened_by") == reopening["id"],
                 60)
        at_south = rows(daemons[1], north_key)
        assert at_south[forged]["ignored"] == "4 members asked; the bylaws require 1/3 of 30"
        assert at_south[reopening["id"]]["ignored"] is None
        again = cli(north, "decide", "--title", "Kitchen on Sundays", "--date", "2026-10-12",
                    "--revote-of", forged, *VOTE, check=False)
        assert again.returncode == 1 and "reopens nothing" in again.stderr
        revote = cli(north, "decide", "--title", "Kitchen on Sundays", "--date", "2026-10-12",
                     "--revote-of", reopening["id"], *VOTE).stdout.strip()
        wait_for("the new vote reaches south",
                 lambda: rows(daemons[1], north_key).get(kitchen, {}).get("revote") == revote, 60)
        at_south = rows(daemons[1], north_key)
        assert at_south[kitchen]["superseded"] and at_south[revote]["supersedes"] == kitchen
        assert at_south[revote]["revote_of"] == reopening["id"]
        assert rows(daemons[0], north_key) == at_south
        shown = cli(south, "show", "decisions", "--assembly", north_key).stdout
        assert f"(reopened by {reopening['id']}, new vote {revote})" in shown
        assert "(ignored: 4 members asked" in shown
        _page_shows_it(daemons[0].url, kitchen, revote)
    finally:
        for daemon in daemons:
            daemon.stop()


def _page_shows_it(url: str, kitchen: str, revote: str) -> None:
    """The secretary's page (headless Chromium) marks the decision reopened, with the new vote."""
    from playwright.sync_api import expect

    from tests.browserkit import browser_page
    with browser_page(f"{url}/#ledger") as page:
        mark = page.locator(f'#decisions li[data-id="{kitchen}"] .reopened')
        expect(mark).to_contain_text("reopened by a minority", timeout=15_000)
        expect(mark).to_contain_text(f"new vote {revote}")
