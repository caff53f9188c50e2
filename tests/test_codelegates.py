"""Co-delegates act, and a charter limits rotation for its council, across running daemons
(protocol-spec/charter.md "A delegate's mandate log", "Rotation"; view.md "Who acted, rotation,
parity and draws").

A mandate names Ana and her co-delegate Bo, each with a key on their own device: both record
acts in the mandate's one log, each act naming who made it; a stranger's device is refused, and
an act of Bo's naming Ana is refused where it is received. Both daemons serve the same view,
which says who acted; after the recall neither may act. A charter allowing one term in a row
makes the issuing daemon refuse a second term, and the view flags one written where the charter
was not held yet. Screenshots of both go to test-artifacts/page/."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from pnyx.daemon.store.node import open_node
from pnyx.federation.confed import Act, ActKind, write_act
from pnyx.federation.docids import mandate_doc_id
from pnyx.federation.envelope import check_envelope, run_actor, sign_change
from pnyx.federation.keys import parse_key

from .apikit import call, serve
from .confedkit import north_and_south
from .pnyxproc import cli, wait_for
from .test_confed_cli import share
from .test_page_browser import ARTIFACTS

pytestmark = pytest.mark.slow
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1")
VOTE = ("--date", "2026-02-01", "--for", "20", "--against", "2", "--abstain", "0")
AS_OF = "2026-02-20"


def _delegate(tmp_path: Path, name: str, assembly: str) -> tuple[Path, str]:
    data = tmp_path / name
    out = cli(data, "delegate", "init", "--assembly", assembly).stdout
    return data, out.split("delegate key: ")[1].split()[0]


def _views(daemons: list[Any], as_of: str) -> list[Any]:
    out = []
    for daemon in daemons:
        status, view = call(daemon, "GET", f"/view?as_of={as_of}")
        assert status == 200
        out.append(view)
    return out


def test_every_co_delegate_acts_in_the_one_log_and_a_recall_stops_them_all(tmp_path: Path) -> None:
    keys, north, south = north_and_south(tmp_path)
    ana, ana_key = _delegate(tmp_path, "ana", keys["north"])
    bo, bo_key = _delegate(tmp_path, "bo", keys["north"])
    cy, _ = _delegate(tmp_path, "cy", keys["north"])
    mandate = cli(north, "mandate", "issue", "--delegate", "Ana", "--delegate-key", ana_key,
                  "--co-delegate", "Bo", bo_key, "gender=man", "--council", "Water council",
                  "--from", "2026-02-01", "--until", "2026-12-31", *VOTE).stdout.split()[-1]
    share(north, ana, bo, cy)
    cli(ana, "delegate", "report", "Ana: the council met", "--date", "2026-02-03")
    cli(bo, "delegate", "report", "Bo: the budget was read", "--date", "2026-02-04")
    refused = cli(cy, "delegate", "report", "Cy was never mandated", "--date", "2026-02-04", check=False)
    assert refused.returncode != 0 and refused.stderr.startswith("pnyx: error: no mandate held here names")
    share(north, ana, bo)
    _in_anothers_name_is_refused_where_received(bo, north, keys["north"], mandate, ana_key)

    daemons = [serve(north, *GOSSIP), serve(south, *GOSSIP)]
    try:
        cli(north, "peers", "add", daemons[1].url)
        cli(south, "peers", "add", daemons[0].url)

        def acts() -> list[tuple[str, str, str]]:
            views = _views(daemons, AS_OF)
            if views[0] != views[1] or not views[0]["mandates"]:
                return []
            return [(a["delegate"], a["by"], a["text"]) for a in views[0]["mandates"][0]["acts"]]

        wait_for("both daemons show both delegates' acts", lambda: len(acts()) == 2, 60)
        assert sorted(acts()) == [("Ana", ana_key, "Ana: the council met"),
                                  ("Bo", bo_key, "Bo: the budget was read")]
        (row,) = _views(daemons, AS_OF)[1]["mandates"]
        assert row["co_delegates"] == [{"delegate": "Bo", "delegate_key": bo_key}]
        assert all(a["class"] == "within-mandate" for a in row["acts"])
        shown = cli(south, "view", "--as-of", AS_OF).stdout
        assert "Ana and Bo to Water council, active" in shown and "report by Bo Bo: the budget" in shown
        _page_shows_who_acted(daemons[1].url)

        cli(north, "mandate", "recall", mandate, "--date", "2026-03-01", "--for", "15", "--against", "1",
            "--abstain", "0")
        wait_for("the recall reaches south", lambda: _views(daemons, "2026-03-02")[1]["mandates"][0]["state"]
                 == "recalled", 60)
    finally:
        for daemon in daemons:
            daemon.stop()
    share(north, ana, bo)
    for device in (ana, bo):
        late = cli(device, "delegate", "report", "after the recall", "--date", "2026-03-02", check=False)
        assert late.returncode != 0 and "was recalled" in late.stderr, late.stderr


def _in_anothers_name_is_refused_where_received(bo: Path, north: Path, assembly: str, mandate: str,
                                                ana_key: str) -> None:
    """Bo's device signs an act naming Ana in `by`; north's store refuses it on arrival."""
    node = open_node(bo)
    try:
        log_id = mandate_doc_id(parse_key(assembly), mandate)
        doc = node.docs.get(log_id)
        doc.set_actor(run_actor(node.device_key.public, os.urandom(8)))
        heads = doc.get_heads()
        act = dataclasses.replace(Act("fakeactaaaaaaaaa", ActKind.REPORT, dt.date(2026, 2, 5), None, None,
                                      None, "in Ana's name"), by=ana_key)
        with doc.transaction() as tx:
            write_act(tx, act, ())
        (change,) = doc.get_changes(heads)
        envelope = sign_change(node.device_key, log_id, change.raw_bytes)
        node.docs.forget(log_id)
    finally:
        node.close()
    check_envelope(envelope)
    receiver = open_node(north)
    try:
        report = receiver.ingestor.ingest([envelope])
    finally:
        receiver.close()
    assert report.accepted == 0 and [r for r, _ in report.rejected] == ["not-authorized"], report.rejected
    assert "not its signer" in report.rejected[0][1]


def _page_shows_who_acted(url: str) -> None:
    """The Delegates view (headless Chromium) names both delegates and who made each act."""
    from playwright.sync_api import expect

    from tests.browserkit import browser_page
    with browser_page(f"{url}/#delegates") as page:
        card = page.locator("#delegate-list article.mandate")
        expect(card).to_contain_text("Ana and Bo for", timeout=15_000)
        expect(card.locator("li.act", has_text="the budget was read")).to_contain_text("by Bo")
        expect(card.locator("li.act", has_text="the council met")).to_contain_text("by Ana")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "page-co-delegates.png"), full_page=True)


def test_a_charter_limits_consecutive_terms_to_its_council(tmp_path: Path) -> None:
    keys, north, south = north_and_south(tmp_path, spread=False)
    term = ("--council", "Valley", "--date", "2026-01-10", "--for", "20", "--against", "2",
            "--abstain", "0")
    # south names two terms in a row before it holds the charter: nothing to check them against
    cli(south, "mandate", "issue", "--delegate", "Dee", *term, "--from", "2026-01-15",
        "--until", "2026-03-31")
    second = cli(south, "mandate", "issue", "--delegate", "Dee", *term, "--from", "2026-04-01",
                 "--until", "2026-06-30").stdout.split()[-1]
    bad = cli(north, "confed", "create", "--name", "Valley", "--member", keys["north"],
              "--deadline-days", "30", "--date", "2026-01-01", "--rotation-terms", "0", check=False)
    assert bad.returncode != 0 and bad.stderr.startswith("pnyx: error: rotation.consecutive_terms")
    charter = cli(north, "confed", "create", "--name", "Valley", "--member", keys["north"], "--member",
                  keys["south"], "--deadline-days", "30", "--date", "2026-01-01", "--rotation-terms", "1"
                  ).stdout.strip()
    cli(north, "mandate", "issue", "--delegate", "Carl", *term, "--from", "2026-01-15",
        "--until", "2026-03-31")
    refused = cli(north, "mandate", "issue", "--delegate", "Carl", *term, "--from", "2026-04-01",
                  "--until", "2026-06-30", check=False)
    assert refused.returncode != 0
    assert refused.stderr.strip() == ("pnyx: error: the mandate breaks the rotation: 2 consecutive terms "
                                      "to Valley; the charter allows 1")

    daemons = [serve(north, *GOSSIP), serve(south, *GOSSIP)]
    try:
        cli(north, "peers", "add", daemons[1].url)
        cli(south, "peers", "add", daemons[0].url)

        def flagged() -> dict[str, Any]:
            views = _views(daemons, "2026-05-01")
            rows = {m["mandate"]: m["rotation"] for m in views[0]["mandates"]}
            return rows if views[0] == views[1] and len(rows) == 3 else {}

        wait_for("both daemons hold all three mandates and the charter", lambda: bool(flagged()), 60)
        assert flagged()[second] == "2 consecutive terms to Valley; the charter allows 1"
        assert sorted(v for v in flagged().values() if v) == [flagged()[second]]
        (confederation,) = _views(daemons, "2026-05-01")[0]["confederations"]
        assert confederation["id"] == charter and confederation["rotation"] == {"consecutive_terms": 1}
        shown = cli(north, "view", "--as-of", "2026-05-01").stdout
        assert "BREAKS THE ROTATION: 2 consecutive terms" in shown
        assert json.loads(cli(south, "view", "--as-of", "2026-05-01", "--json").stdout) == \
            _views(daemons, "2026-05-01")[0]
        from playwright.sync_api import expect

        from tests.browserkit import browser_page
        with browser_page(f"{daemons[0].url}/#delegates") as page:
            card = page.locator(f'#delegate-list article.mandate[data-id="{second}"]')
            expect(card).to_contain_text("Breaks the rotation: 2 consecutive terms to Valley", timeout=15_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "page-charter-rotation.png"), full_page=True)
    finally:
        for daemon in daemons:
            daemon.stop()
