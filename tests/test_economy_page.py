"""The economy view of the web page in a real browser (Debian's chromium through Playwright):
a daemon holding a confederation's needs and offers shows, per item, needs against offers and
what is uncovered; a need recorded from the command line while the page is open appears live.
A screenshot goes to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apikit import serve
from tests.confedkit import World
from tests.pnyxproc import cli
from tests.test_page_browser import ARTIFACTS, CHROMIUM, FLAGS

pytestmark = pytest.mark.slow


def test_the_page_shows_needs_against_offers_and_what_is_uncovered(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it as root)")
    from playwright.sync_api import expect, sync_playwright

    world = World(tmp_path)
    for name in ("north", "south"):
        world.assembly(name)
    charter = world.found("north", "Valley", ["north", "south"])
    for name in ("north", "south"):
        world.accept(name, charter)
    world.spread()
    world.close()
    north, south = tmp_path / "north", tmp_path / "south"
    cli(south, "offer", "add", "--confed", charter, "--item", "grain", "--quantity", "250", "--unit", "kg",
        "--from", "2026-01-01", "--until", "2099-12-31")
    cli(north, "bundle", "import", str(_bundle(south, tmp_path)))
    cli(north, "need", "add", "--confed", charter, "--item", "grain", "--quantity", "400", "--unit", "kg",
        "--by", "2099-06-01", "--priority", "urgent")
    daemon = serve(north)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            try:
                page = browser.new_page(viewport={"width": 390, "height": 844})
                page.goto(f"{daemon.url}/#economy")
                grain = page.locator('#view-economy article.plan-line[data-item="grain"]')
                expect(grain).to_contain_text("150 uncovered")
                expect(grain.locator("svg.plan-chart")).to_have_attribute(
                    "aria-label", "grain: 400 kg needed, 250 offered, 150 uncovered, 0 surplus")
                expect(grain.locator("ul.uncovered")).to_contain_text("150 kg for north")
                expect(page.locator("#view-economy .plan-news")).to_contain_text("south up to")
                cli(north, "need", "add", "--confed", charter, "--item", "salt", "--quantity", "5",
                    "--unit", "kg", "--by", "2099-01-01")  # through the daemon; shown without a reload
                expect(page.locator('#view-economy article.plan-line[data-item="salt"]')).to_contain_text(
                    "5 uncovered", timeout=15_000)
                page.screenshot(path=str(ARTIFACTS / "page-economy-phone.png"), full_page=True)
            finally:
                browser.close()
    finally:
        daemon.stop()


def _bundle(source: Path, tmp_path: Path) -> Path:
    out = tmp_path / "south.pnyx"
    cli(source, "bundle", "export", "--all", "-o", str(out))
    return out
