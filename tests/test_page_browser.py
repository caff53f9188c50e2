"""The web page in a real browser: Debian's chromium driven by Playwright, against two daemons.

Two devices of one assembly each run a daemon, and they are each other's peer.
A decision recorded through the first daemon's page must appear on the second
daemon's page, without a reload, once gossip has brought it over; the second
page shows its sync with the first. Screenshots go to test-artifacts/.
Chromium is the system one (never a downloaded browser); if it is missing the
test fails and says how to install it: CI installs it (.ci/run).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apikit import serve, token
from tests.pnyxproc import Daemon, cli

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def two_devices(tmp_path: Path) -> Iterator[tuple[Daemon, Daemon]]:
    a, b = tmp_path / "a", tmp_path / "b"
    assembly = re.search(r": (\S+)$", cli(a, "init", "--assembly", "Barrio Norte").stdout.splitlines()[0])
    assert assembly is not None
    device = cli(b, "init", "--join", assembly.group(1)).stdout.split()[1]
    cli(a, "device", "add", device, "--label", "second laptop")
    first = serve(a)
    second = serve(b)
    cli(a, "peers", "add", second.url)  # through each daemon's API
    cli(b, "peers", "add", first.url)
    yield first, second
    first.stop()
    second.stop()


@pytest.mark.slow
def test_a_decision_recorded_on_one_page_appears_live_on_the_other(
        two_devices: tuple[Daemon, Daemon], tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it as root)")
    from playwright.sync_api import expect, sync_playwright

    first, second = two_devices
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            writer = browser.new_page()
            writer.goto(f"{first.url}/#token={token(first.data)}")
            reader = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            reader.goto(second.url)
            expect(reader.locator("#live")).to_have_text("live")
            expect(writer.locator("#live")).to_have_text("live")
            assert "token" not in writer.url  # taken from the address, kept in the browser only

            form = writer.locator("#decision-form")
            form.get_by_label("Title").fill("Community kitchen")
            form.get_by_label("Text adopted").fill("Open on Mondays")
            form.get_by_label("For").fill("80")
            form.get_by_label("Against").fill("12")
            form.get_by_label("Abstain").fill("5")
            form.get_by_label("The minority's dissent").fill("Prefer Sundays")
            form.get_by_label("Against").press("Enter")  # submitted from the keyboard
            expect(writer.locator("#message")).to_have_text("Recorded decision “Community kitchen”.")
            expect(writer.locator("#decisions")).to_contain_text("Community kitchen")

            reader.evaluate("window.loadedOnce = true")  # gone if the page reloads
            row = reader.locator("#decisions tr.decision", has_text="Community kitchen")
            expect(row).to_be_visible(timeout=15_000)  # pushed by gossip, shown from the event stream
            expect(row).to_contain_text("Prefer Sundays")
            assert reader.evaluate("window.loadedOnce") is True
            peer = reader.locator(f'#peer-list tr.peer[data-url="{first.url}"]')
            expect(peer).to_contain_text("in sync", timeout=15_000)
            writer.screenshot(path=str(ARTIFACTS / "page-first-daemon.png"), full_page=True)
            reader.screenshot(path=str(ARTIFACTS / "page-second-daemon-phone.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "page-second-daemon-phone.png").stat().st_size > 10_000

