"""Draws by lot on the web page in a real browser (Debian's chromium through Playwright): a daemon
holding a drawn draw shows each person's chance and the panel drawn, and a draw declared from
the command line while the page is open appears live with its chances. A screenshot goes to
test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from pnyx.daemon.services.draws import commit, declare, reveal

from tests.apikit import serve
from tests.confedkit import World
from tests.pnyxproc import cli
from tests.test_page_browser import ARTIFACTS, CHROMIUM, FLAGS

pytestmark = pytest.mark.slow
POOL = {"ana": {"gender": "woman"}, "bo": {"gender": "man"}, "chen": {"gender": "woman"},
        "dara": {"gender": "man"}, "eli": {"gender": "man"}}
VOTE = {"tally": {"for": 20, "against": 1, "abstain": 0}}


def test_the_page_shows_each_persons_chance_and_the_panel_drawn(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it as root)")
    from playwright.sync_api import expect, sync_playwright

    world = World(tmp_path)
    keys = [world.assembly(name) for name in ("north", "south")]
    world.spread()
    declared = declare(world.recorders["north"], {}, {
        **VOTE, "title": "Kitchen commission", "date": "2026-10-01", "pool": POOL, "seats": 2,
        "quotas": [{"attribute": "gender", "value": "woman", "min": 1, "max": 1}],
        "participants": keys, "commit_by": "2026-10-05", "reveal_by": "2026-10-10"})
    assembly, _, decision = declared["draw"].partition("/")
    path = {"assembly": assembly, "decision": decision}
    world.spread()
    for name in ("north", "south"):
        commit(world.recorders[name], path, {"date": "2026-10-03"})
    world.spread()
    for name in ("north", "south"):
        reveal(world.recorders[name], path, {"date": "2026-10-07"})
    world.spread()
    world.close()
    north = tmp_path / "north"
    (tmp_path / "pool.json").write_text('{"x": {}, "y": {}, "z": {}}')
    daemon = serve(north)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                page.goto(f"{daemon.url}/#sortition")
                card = page.locator(f'#sortition article.draw[data-draw="{declared["draw"]}"]')
                expect(card).to_have_attribute("data-status", "drawn")
                expect(card.locator('tr[data-candidate="ana"] td.n')).to_have_text("50.0%")
                expect(card.locator('tr[data-candidate="bo"] td.n')).to_have_text("33.3%")
                expect(card.locator(".draw-panel")).to_contain_text("Drawn: ")
                assert card.locator("td", has_text="drawn").count() == 2
                cli(north, "sortition", "draw", "--pool", str(tmp_path / "pool.json"), "--seats", "1",
                    "--participant", keys[0], "--participant", keys[1], "--commit-by", "2099-01-01",
                    "--reveal-by", "2099-01-02", "--title", "Treasurer", "--date", "2026-10-02",
                    "--for", "9", "--against", "0", "--abstain", "0")  # through the daemon: shown live
                treasurer = page.locator("#sortition article.draw", has_text="Treasurer")
                expect(treasurer).to_have_attribute("data-status", "committing", timeout=15_000)
                expect(treasurer.locator('tr[data-candidate="y"] td.n')).to_have_text("33.3%")
                page.screenshot(path=str(ARTIFACTS / "page-sortition-phone.png"), full_page=True)
            finally:
                browser.close()
    finally:
        daemon.stop()
