"""Parity and co-delegates across two running daemons (protocol-spec/charter.md, "Parity"): a
charter requires one woman and one man in each member's delegation; north sends a delegate and a
co-delegate (each with a key) and meets it; south sends one man and does not. Both daemons
report the same, per council and member, through the API and `pnyx parity`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pnyx.daemon.store.node import new_key
from pnyx.federation.keys import key_text

from .apikit import call, serve
from .confedkit import north_and_south
from .pnyxproc import cli, wait_for

pytestmark = pytest.mark.slow
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1")
VOTE = ("--date", "2026-02-01", "--for", "20", "--against", "2", "--abstain", "0")
AS_OF = "2026-03-01"


def test_each_members_delegation_is_judged_against_the_charters_parity(tmp_path: Path) -> None:
    keys, north, south = north_and_south(tmp_path)
    bad = cli(north, "confed", "create", "--name", "Valley", "--member", keys["north"], "--member",
              keys["south"], "--deadline-days", "30", "--date", "2026-01-01", "--parity-attribute", "gender",
              "--parity-min", "woman=-1", check=False)
    assert bad.returncode != 0 and bad.stderr.startswith("pnyx: error: parity.min")
    charter = cli(north, "confed", "create", "--name", "Valley", "--member", keys["north"], "--member",
                  keys["south"], "--deadline-days", "30", "--date", "2026-01-01",
                  "--parity-attribute", "gender", "--parity-min", "woman=1", "--parity-min", "man=1"
                  ).stdout.strip()
    cli(south, "bundle", "import", str(_bundle(north, tmp_path)))
    for data in (north, south):
        cli(data, "confed", "accept", charter, "--date", "2026-01-05", "--for", "9", "--against", "0",
            "--abstain", "0")
    ana, bo = key_text(new_key().public), key_text(new_key().public)
    cli(north, "mandate", "issue", "--delegate", "Ana", "--delegate-key", ana, "--attribute", "gender=woman",
        "--co-delegate", "Bo", bo, "gender=man", "--council", charter, "--from", "2026-02-01",
        "--until", "2026-12-31", *VOTE)
    cli(south, "mandate", "issue", "--delegate", "Carl", "--attribute", "gender=man", "--council", charter,
        "--from", "2026-02-01", "--until", "2026-12-31", *VOTE)
    bad_co = cli(south, "mandate", "issue", "--delegate", "Dee", "--co-delegate", "Eve", "not-a-key", "",
                 "--council", charter, "--from", "2026-02-01", "--until", "2026-12-31", *VOTE, check=False)
    assert bad_co.returncode != 0 and "Traceback" not in bad_co.stderr

    daemons = [serve(north, *GOSSIP), serve(south, *GOSSIP)]
    try:
        cli(north, "peers", "add", daemons[1].url)
        cli(south, "peers", "add", daemons[0].url)

        def parity(daemon: Any) -> list[dict[str, Any]]:
            status, rows = call(daemon, "GET", f"/parity?as_of={AS_OF}")
            assert status == 200
            return list(rows)

        def settled() -> bool:
            rows = [parity(d) for d in daemons]
            return rows[0] == rows[1] and bool(rows[0]) and all(
                m["delegates"] for m in rows[0][0]["members"])

        wait_for("both daemons judge both delegations", settled, 60)
        (council,) = parity(daemons[0])
        members = {m["assembly"]: m for m in council["members"]}
        assert members[keys["north"]]["met"] and members[keys["north"]]["reason"] is None
        assert [(d["delegate"], d["delegate_key"]) for d in members[keys["north"]]["delegates"]] == [
            ("Ana", ana), ("Bo", bo)]
        assert not members[keys["south"]]["met"]
        assert members[keys["south"]]["reason"] == "0 delegates of gender woman; the charter requires 1"
        assert not council["met"]
        shown = cli(south, "parity", "--as-of", AS_OF).stdout
        assert "NOT MET" in shown and "met  [Ana, Bo]" in shown
        assert json.loads(cli(north, "parity", "--as-of", AS_OF, "--json").stdout) == [council]
        _page_shows(daemons[1].url, keys)
    finally:
        for daemon in daemons:
            daemon.stop()


def _page_shows(url: str, keys: dict[str, str]) -> None:
    """The page (headless Chromium) shows, per member, whether its delegation meets parity."""
    from playwright.sync_api import expect

    from tests.browserkit import browser_page
    with browser_page(f"{url}/#parity") as page:
        council = page.locator("#parity article.parity")
        expect(council).to_contain_text("parity not met", timeout=15_000)
        expect(council.locator(f'li[data-assembly="{keys["north"]}"]')).to_contain_text("met (Ana, Bo)")
        expect(council.locator(f'li[data-assembly="{keys["south"]}"]')).to_contain_text(
            "not met: 0 delegates of gender woman")


def _bundle(source: Path, tmp_path: Path) -> Path:
    out = tmp_path / "charter.pnyx"
    cli(source, "bundle", "export", "--all", "-o", str(out))
    return out
