"""The web page in a real browser: Debian's chromium driven by Playwright, against real daemons.

Barrio Norte, Barrio Sur and Ana's own device (tests/pagekit.py) each run a
daemon; Norte and Sur are each other's peer, Ana's device syncs with Norte.
Every view is looked at on a phone (390×844) and a desktop (1280×900): nothing
may stick out past the screen's right edge, axe-core (from npm, tests/web/)
may find nothing serious or critical, and a screenshot of each is saved under
test-artifacts/page/. Every form is then filled in and submitted as a person
would, and what it wrote must show on the other daemon's page. Chromium is
the system one (never a downloaded browser); what is missing fails the test
with the command that installs it.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pnyx.federation.ledger import Binding, Instruction, Position

from tests.apikit import call, serve, token
from tests.confedkit import vote
from tests.ledgerkit import founded
from tests.pagekit import ANA, COUNCIL, NORTE, PRINCIPLES, SUR, Week, ago, week
from tests.pnyxproc import Daemon, cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts" / "page"
WEB = ROOT / "tests" / "web"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}
VIEWS = ("ledger", "record", "confederation", "delegates", "economy", "exchange")
SEEN = 20_000  # ms for gossip to carry a record to the other daemon and its page to show it
KEY = re.compile(r"\b[a-z2-7]{52}\b")  # an assembly or device key in its text form


def axe_script() -> Path:
    """axe.min.js, installed from tests/web/package-lock.json with npm if it is not there yet."""
    if AXE.exists():
        return AXE
    command = f"npm ci --prefix {WEB.relative_to(ROOT)}"
    if shutil.which("npm") is None:
        pytest.fail(f"axe-core is needed and npm is missing: `apt-get install -y npm && {command}`")
    result = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", str(WEB)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0 or not AXE.exists():
        pytest.fail(f"`{command}` failed ({result.returncode}): {result.stderr[-1500:]}")
    return AXE


@dataclass
class Scene:
    week: Week
    norte: Daemon
    sur: Daemon
    ana: Daemon

    def page_url(self, daemon: Daemon) -> str:
        return f"{daemon.url}/#token={token(daemon.data)}"


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    the_week = week(tmp_path_factory.mktemp("page"))
    daemons = [serve(the_week.data(name)) for name in (NORTE, SUR, ANA)]
    norte, sur, ana = daemons
    try:
        for daemon, peer in ((norte, sur), (sur, norte), (ana, norte), (norte, ana)):
            status, _ = call(daemon, "POST", "/peers", {"url": peer.url}, auth=token(daemon.data))
            assert status == 201
        yield Scene(the_week, norte, sur, ana)
    finally:
        for daemon in daemons:
            daemon.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (as root)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser: Any, url: str, viewport: dict[str, int]) -> Any:
    """A page in a fresh context (its own local storage) that may inject axe despite the CSP."""
    page = browser.new_context(viewport=viewport, bypass_csp=True, accept_downloads=True).new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    origin = url.split("/#")[0]
    page.on("request", lambda request: requests.append(request.url) or request.url.startswith(
        (origin + "/", "data:", "blob:")) or errors.append(f"a request left the daemon: {request.url}"))
    page.errors, page.requests = errors, requests
    page.goto(url)
    from playwright.sync_api import expect

    expect(page.locator("#live")).to_have_text("live")
    expect(page.locator("#assembly-name")).not_to_have_text("pnyx")
    return page


def show(page: Any, view: str) -> None:
    page.locator(f'#tabs a[data-view="{view}"]').click()
    from playwright.sync_api import expect

    expect(page.locator(f"#view-{view}")).to_be_visible()


def overflowing(page: Any) -> list[str]:
    """Visible elements whose box ends past the right edge of the screen."""
    found: list[str] = page.evaluate("""() => {
        const out = [];
        for (const e of document.querySelectorAll('body *')) {
            const r = e.getBoundingClientRect();
            if (r.width > 0 && r.height > 0 && r.right > window.innerWidth + 1)
                out.push(`${e.tagName}.${e.getAttribute('class')} ends at ${Math.round(r.right)}`);
        }
        if (document.documentElement.scrollWidth > window.innerWidth)
            out.push(`the page scrolls sideways: ${document.documentElement.scrollWidth}`);
        return out;
    }""")
    return found


def audit(page: Any) -> list[str]:
    """axe-core's serious and critical violations on the page as it is shown."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_script()))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes'][:3]]}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def look_at(page: Any, name: str) -> None:
    """No sideways overflow, no serious accessibility violation; a screenshot to look at."""
    page.wait_for_timeout(50)  # one frame for layout after the view switched
    assert overflowing(page) == [], name
    assert audit(page) == [], name
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000


def test_every_view_fits_a_phone_and_a_desktop_and_names_what_it_shows(scene: Scene, browser: Any) -> None:
    from playwright.sync_api import expect

    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page = open_page(browser, scene.page_url(scene.norte), viewport)
        expect(page.locator("#decisions")).to_contain_text("Community kitchen")
        for view in VIEWS:
            show(page, view)
            if view in ("ledger", "confederation", "delegates"):
                text = page.locator(f"#view-{view}").inner_text()
                assert not KEY.search(text), f"{view} shows a key: {KEY.search(text)}"
            look_at(page, f"{view}-{size}")
        confederation = page.locator("#view-confederation")
        for principle in PRINCIPLES:
            assert principle in confederation.inner_text()
        water = page.locator(".proposal", has_text="Shared water plan")
        expect(water).to_contain_text("Too costly this year")  # a ratification's dissent
        expect(water).to_contain_text("Needed: more for than against")
        expect(water.locator("svg.chart line.threshold")).to_have_count(1)
        expect(water).to_contain_text("For 120 (70%)")
        expect(page.locator('article.plan-line[data-item="seed potatoes"]')).to_contain_text("180 uncovered")
        beyond = page.locator(".act-exceeds-mandate", has_text="joint-letter-7")  # whatever ran before
        expect(beyond).to_contain_text("exceeds mandate")
        assert beyond.evaluate("e => getComputedStyle(e).borderLeftWidth") \
            != page.locator(".act-within-mandate").first.evaluate("e => getComputedStyle(e).borderLeftWidth")
        assert page.errors == []
        page.context.close()

    page = open_page(browser, scene.page_url(scene.norte), PHONE)  # with the keyboard alone
    show(page, "record")
    page.locator("#record-h").focus()
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("(e => e.textContent.trim() || e.name)(document.activeElement)"))
    assert "title" in reached and "votes_for" in reached and "Record the decision" in reached, reached
    page.context.close()

    page = open_page(browser, scene.page_url(scene.ana), PHONE)  # a delegate's own device
    expect(page.locator("#view-delegates")).to_be_visible()
    expect(page.locator("#my-mandate-summary")).to_contain_text(f"mandate of {NORTE} to {COUNCIL}")
    expect(page.locator('#tabs a[data-view="record"]')).to_be_hidden()
    look_at(page, "delegate-device-phone")
    page.context.close()


def submit(form: Any, expected: str) -> None:
    """Press the form's button; the outcome is said right beside it, where the eye already is."""
    from playwright.sync_api import expect

    form.locator("button[type=submit]").click()
    feedback = form.locator(".feedback")
    expect(feedback).to_contain_text(expected)
    assert_in_sight(feedback)


def assert_in_sight(element: Any) -> None:
    box = element.bounding_box()
    height = element.page.evaluate("window.innerHeight")
    assert box is not None and box["y"] >= -1 and box["y"] + box["height"] <= height + 1, box  # subpixels


def fill_vote(form: Any, votes_for: int, against: int, abstain: int, dissent: str | None = None) -> None:
    form.get_by_label("For", exact=True).fill(str(votes_for))
    form.get_by_label("Against", exact=True).fill(str(against))
    form.get_by_label("Abstain", exact=True).fill(str(abstain))
    if dissent is not None:
        form.get_by_label("The minority's dissent").fill(dissent)


def pick(select: Any, start: str) -> None:
    """Choose the option whose label starts with `start` (labels end with dates and names)."""
    labels: list[str] = select.locator("option").all_inner_texts()
    select.select_option(label=next(label for label in labels if label.startswith(start)))


def record(page: Any, what: str) -> Any:
    show(page, "record")
    page.get_by_label(what, exact=True).check()
    return page.locator("#view-record form.write:visible")


def test_every_form_round_trips_through_two_daemons(scene: Scene, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    norte = open_page(browser, scene.page_url(scene.norte), PHONE)
    sur = open_page(browser, scene.page_url(scene.sur), DESKTOP)

    # a decision, recorded on Norte's phone, read on Sur's page
    form = record(norte, "A decision")
    form.get_by_label("Title").fill("Repaint the school")
    form.get_by_label("Text adopted").fill("Saturday mornings, paint from the cooperative")
    fill_vote(form, 60, 7, 3, "Wait for the dry season")
    form.get_by_label("Against", exact=True).press("Enter")  # submitted from the keyboard
    expect(form.locator(".feedback")).to_contain_text("Recorded: “Repaint the school”")
    show(sur, "ledger")
    sur.locator("#ledger-of").select_option(label=NORTE)
    decision = sur.locator("#decisions li", has_text="Repaint the school")
    expect(decision).to_contain_text("Wait for the dry season", timeout=SEEN)

    # a mandate, then its recall
    form = record(norte, "Giving a delegate a mandate")
    form.get_by_label("Delegate's name").fill("Carla")
    form.get_by_label("To the council of").select_option(label=COUNCIL)
    form.get_by_label("Until").fill("2030-01-01")
    form.get_by_label("On the question").fill("Shared water plan")
    fill_vote(form, 50, 2, 1)
    submit(form, f"Carla's mandate to {COUNCIL}")
    show(sur, "delegates")
    carla = sur.locator("article.mandate", has_text="Carla for Barrio Norte")
    expect(carla).to_contain_text("active", timeout=SEEN)
    form = record(norte, "Recalling a mandate")
    pick(form.get_by_label("Mandate", exact=True), "Carla")
    fill_vote(form, 40, 30, 1, "She did nothing wrong")
    submit(form, "the recall of Carla's mandate")
    expect(carla.locator(".meta .badge").first).to_have_text("recalled", timeout=SEEN)

    # a new confederation: founded at Norte, accepted by both, a proposal, Sur's vote
    show(norte, "confederation")
    norte.get_by_text("Found a new confederation").click()
    form = norte.locator("#found-form")
    form.get_by_label("Name").fill("Coast council")
    form.get_by_label(SUR).check()
    form.get_by_label("Protected principles").fill("The shore belongs to everyone")
    submit(form, "the charter of Coast council")
    show(sur, "confederation")
    expect(sur.locator("#confederation-list")).to_contain_text("Coast council", timeout=SEEN)
    for page in (sur, norte):
        form = record(page, "Accepting a charter")
        expect(form.get_by_label("Charter of")).to_contain_text("Coast council", timeout=SEEN)
        form.get_by_label("Charter of").select_option(label="Coast council")
        fill_vote(form, 20, 1, 0)
        submit(form, "accepts the charter of Coast council")
    form = record(norte, "A proposal to a confederation")
    form.get_by_label("Confederation", exact=True).select_option(label="Coast council")
    form.get_by_label("Title").fill("Fishing rights")
    fill_vote(form, 70, 10, 2)
    submit(form, "“Fishing rights” is put to Coast council")
    form = record(norte, "A proposal to a confederation")
    form.get_by_label("Confederation", exact=True).select_option(label="Coast council")
    form.get_by_label("Kind").select_option("amend")
    form.get_by_label("Title").fill("Longer to ratify")
    form.get_by_label("Days to ratify").fill("45")
    form.get_by_label("Protected principles").fill("The shore belongs to everyone\nNets are shared")
    fill_vote(form, 65, 5, 0)
    submit(form, "“Longer to ratify” is put to Coast council")
    form = record(sur, "A confederal proposal")
    expect(form.get_by_label("Proposal", exact=True)).to_contain_text("Fishing rights", timeout=SEEN)
    pick(form.get_by_label("Proposal", exact=True), "Fishing rights")
    fill_vote(form, 33, 11, 2, "Boats need a season more")
    submit(form, "vote on “Fishing rights”")
    show(norte, "confederation")
    fishing = norte.locator(".proposal", has_text="Fishing rights")
    expect(fishing).to_contain_text("Boats need a season more", timeout=SEEN)
    expect(fishing).to_contain_text(f"{SUR} 33 for · 11 against · 2 abstain")
    amendment = sur.locator(".proposal", has_text="Longer to ratify")
    expect(amendment).to_contain_text("Amendment of the charter proposed by Barrio Norte")
    expect(amendment).to_contain_text(
        "deadline days 45; protected “The shore belongs to everyone”, “Nets are shared”")

    # Ana, on her own device, votes beyond her mandate; Norte's page flags it
    ana = open_page(browser, scene.page_url(scene.ana), PHONE)
    form = ana.locator("#act-form")
    pick(form.get_by_label("Proposal", exact=True), "Road repairs")
    form.get_by_label("Position").select_option("against")
    submit(form, "your vote against on “Road repairs before winter”")
    show(norte, "delegates")
    beyond = norte.locator("article.mandate", has_text="Ana for Barrio Norte").locator(
        ".act-exceeds-mandate", has_text="Road repairs")
    expect(beyond).to_contain_text("exceeds mandate", timeout=SEEN)

    # needs and offers: Norte needs grain, Sur offers some, Norte pledges it, Sur delivers it
    show(norte, "economy")
    norte.get_by_text("State a need").click()
    form = norte.locator("#need-form")
    form.get_by_label("Confederation").select_option(label=COUNCIL)
    form.get_by_label("Item").fill("grain")
    form.get_by_label("Quantity").fill("400")
    form.get_by_label("Unit").fill("kg")
    form.get_by_label("Needed by").fill("2030-06-01")
    form.get_by_label("Priority").select_option("urgent")
    submit(form, "Recorded: a need of 400 kg grain by 2030-06-01")
    show(sur, "economy")
    expect(sur.locator('article.plan-line[data-item="grain"]')).to_contain_text("400 uncovered", timeout=SEEN)
    sur.get_by_text("Make an offer").click()
    form = sur.locator("#offer-form")
    form.get_by_label("Confederation").select_option(label=COUNCIL)
    form.get_by_label("Item").fill("grain")
    form.get_by_label("Quantity").fill("250")
    form.get_by_label("Unit").fill("kg")
    form.get_by_label("Until").fill("2030-12-31")
    submit(form, "Recorded: an offer of 250 kg grain")
    grain = norte.locator('article.plan-line[data-item="grain"]')
    expect(grain).to_contain_text("150 uncovered", timeout=SEEN)
    norte.get_by_text("Pledge an offer to a need").click()
    form = norte.locator("#pledge-form")
    expect(form.get_by_label("Offer")).to_contain_text(f"{SUR}: 250 kg grain", timeout=SEEN)
    pick(form.get_by_label("Need"), f"{NORTE}: 400 kg grain")
    pick(form.get_by_label("Offer"), f"{SUR}: 250 kg grain")
    form.get_by_label("Quantity").fill("200")
    submit(form, "Recorded: a pledge of 200 kg grain")
    sur.get_by_text("Record a delivery").click()
    form = sur.locator("#delivery-form")
    expect(form.get_by_label("Need")).to_contain_text(f"{NORTE}: 400 kg grain", timeout=SEEN)
    pick(form.get_by_label("Need"), f"{NORTE}: 400 kg grain")
    pick(form.get_by_label("Offer"), f"{SUR}: 250 kg grain")
    form.get_by_label("Quantity").fill("200")
    submit(form, "Recorded: a delivery of 200 kg grain")
    expect(grain).to_contain_text("delivered 200", timeout=SEEN)
    norte.get_by_text("Keep a good in the commons").click()
    form = norte.locator("#commons-form")
    form.get_by_label("Confederation").select_option(label=COUNCIL)
    form.get_by_label("Good").fill("Seed bank")
    submit(form, "Recorded: seed bank kept in the commons")  # names are kept in lower case
    norte_key = scene.norte.status()["assembly"]
    wait_until(lambda: any(r["good"] == "seed bank"
                           for r in call(scene.sur, "GET", f"/commons?assembly={norte_key}")[1]))
    norte.get_by_role("button", name=re.compile("^Withdraw: Need: 400 kg grain")).click()
    expect(norte.locator("#economy-feedback")).to_contain_text("Withdrawn: Need: 400 kg grain")
    wait_until(lambda: any(r["withdrawn"] for r in call(scene.sur, "GET", f"/needs?assembly={norte_key}")[1]))

    # a device certified and revoked at Norte, seen in Norte's ledger held by Sur
    device = cli(tmp_path / "laptop", "init", "--join", scene.norte.status()["assembly"]).stdout.split()[1]
    show(norte, "exchange")
    form = norte.locator("#device-form")
    form.get_by_label("Device key").fill(device)
    form.get_by_label("Label").fill("library laptop")
    submit(form, "Certified “library laptop”")
    revoke = norte.locator("li.device", has_text="library laptop").locator("form")
    revoke.get_by_role("checkbox").check()
    revoke.get_by_role("button", name="Revoke").click()
    expect(norte.locator("#device-feedback")).to_contain_text("Revoked “library laptop”")
    held_at_sur = f"/devices?assembly={scene.norte.status()['assembly']}"
    wait_until(lambda: any(d["label"] == "library laptop" and d["revoked_cut"] is not None
                           for d in call(scene.sur, "GET", held_at_sur)[1]))

    # a peer added and removed by hand
    form = norte.locator("#peer-form")
    form.get_by_label("Address of another daemon").fill("http://127.0.0.1:9")
    submit(form, "Added http://127.0.0.1:9")
    norte.get_by_role("button", name="Remove the peer http://127.0.0.1:9", exact=True).click()
    expect(norte.locator("#peer-feedback")).to_contain_text("Removed http://127.0.0.1:9")
    assert all(p["url"] != "http://127.0.0.1:9" for p in call(scene.norte, "GET", "/peers")[1])

    # records on a USB stick: a village with no network asks Norte for what it lacks
    cli(tmp_path / "village", "init", "--assembly", "Aldea")
    village = serve(tmp_path / "village")
    try:
        aldea = open_page(browser, scene.page_url(village), PHONE)
        show(aldea, "exchange")
        with aldea.expect_download() as got:
            aldea.get_by_role("link", name="Download the state file").click()
        state = tmp_path / "aldea.state"
        got.value.save_as(state)
        show(norte, "exchange")
        form = norte.locator("#answer-form")
        form.get_by_label("Their state file").set_input_files(state)
        with norte.expect_download() as got:
            form.get_by_role("button", name="Make a bundle of what they lack").click()
        bundle = tmp_path / "carry.pnyx"
        got.value.save_as(bundle)
        expect(form.locator(".feedback")).to_contain_text("Bundle made of what they lack")
        form = aldea.locator("#import-form")
        form.get_by_label("Bundle file").set_input_files(bundle)
        submit(form, "Imported.")
        assert "0 new" not in form.locator(".feedback").inner_text()
        show(aldea, "ledger")
        aldea.locator("#ledger-of").select_option(label=NORTE)
        expect(aldea.locator("#decisions")).to_contain_text("Repaint the school")
        form.get_by_label("Bundle file").set_input_files(bundle)  # twice changes nothing
        show(aldea, "exchange")
        submit(form, "0 new")
        form = norte.locator("#export-form")
        form.get_by_label("Only one confederation").select_option(label="Coast council")
        with norte.expect_download() as got:
            form.get_by_role("button", name="Make the bundle").click()
        assert Path(got.value.path()).stat().st_size > 100
        for page in (norte, sur, ana, aldea):
            assert page.errors == []
    finally:
        village.stop()


def wait_until(check: Any, timeout: float = SEEN / 1000) -> None:
    from tests.pnyxproc import wait_for

    wait_for("the other daemon shows it", check, timeout)


def test_feedback_stays_in_sight_while_records_from_elsewhere_grow_the_lists_above_it(
        scene: Scene, browser: Any) -> None:
    """A secretary reads what the form said while records arriving by the API or gossip are drawn."""
    from playwright.sync_api import expect

    norte = open_page(browser, scene.page_url(scene.norte), PHONE)
    show(norte, "economy")
    norte.get_by_text("Keep a good in the commons").click()  # a short form: lists fill the screen above it
    form = norte.locator("#commons-form")
    form.get_by_label("Confederation").select_option(label=COUNCIL)
    form.get_by_label("Good").fill("Tool library")
    submit(form, "Recorded: tool library kept in the commons")
    mine = norte.locator("#my-economy")
    expect(mine).to_contain_text("tool library")
    auth = token(scene.norte.data)
    for n in range(12):  # each one is drawn above the form as the daemon announces it
        need = {"confederation": scene.week.charter, "item": f"beans {n}", "quantity": 1, "unit": "kg",
                "by": "2030-07-01"}
        assert call(scene.norte, "POST", "/needs", need, auth=auth)[0] == 201
    expect(mine).to_contain_text("beans 11", timeout=SEEN)
    assert_in_sight(form.locator(".feedback"))
    assert norte.errors == []
    norte.context.close()


def test_a_long_ledger_shows_its_newest_records_and_all_on_request(browser: Any, tmp_path: Path) -> None:
    """The page reads each ledger's newest 50 decisions and mandates (GET /ledger?limit=50), says
    how many there are, and reads the ledger whole when asked to show all."""
    from playwright.sync_api import expect

    data = tmp_path / "long"
    with founded(data, "Barrio Largo") as recorder:
        for n in range(56):
            recorder.decide(vote(ago(60 - n % 30), 30, 2, title=f"Decision {n}"))
        term = (dt.date.fromisoformat(ago(40)), dt.date.fromisoformat(ago(-40)))
        for n in range(52):
            recorder.issue_mandate(vote(ago(40), 30, 2, title=f"Mandate {n}"), f"Delegate {n}", None,
                                   COUNCIL, *term, ())
    daemon = serve(data)
    try:
        page = open_page(browser, f"{daemon.url}/#token={token(data)}", DESKTOP)
        decisions, mandates = page.locator("#decisions > li.record"), page.locator("#ledger-mandates > li")
        expect(decisions).to_have_count(50)
        expect(mandates).to_have_count(50)
        expect(page.locator("#decisions-more")).to_have_text(re.compile(r"^The newest 50 of 108 decisions\."))
        expect(page.locator("#mandates-more")).to_have_text(re.compile(r"^The newest 50 of 52 mandates\."))
        expect(page.locator("#ledger-summary")).to_contain_text("108 decisions recorded")
        ledgers = [url for url in page.requests if "/api/v1/ledger" in url]
        assert ledgers and all(url.endswith("&limit=50") for url in ledgers), ledgers
        look_at(page, "ledger-newest-50")
        page.locator("#mandates-more button").click()
        expect(decisions).to_have_count(108)
        expect(mandates).to_have_count(52)
        expect(page.locator("#decisions-more")).to_be_hidden()
        expect(page.locator("#mandates-more")).to_be_hidden()
        assert "limit=" not in [url for url in page.requests if "/api/v1/ledger" in url][-1]
        assert page.errors == []
    finally:
        daemon.stop()


def test_the_delegates_view_shows_a_mandate_older_than_the_newest_50_whole(browser: Any,
                                                                          tmp_path: Path) -> None:
    """A mandate older than the newest 50 mandates and decisions the page reads still shows its
    instructions and the vote that recalled it in the Delegates view, before "Show all": GET
    /ledger?limit=50 gives every mandate and its recall apart from the page (`delegates`)."""
    from playwright.sync_api import expect

    data = tmp_path / "long"
    wells = (Instruction("well repairs", Position.FOR, Binding.IMPERATIVE),)
    with founded(data, "Barrio Largo") as recorder:
        old = recorder.issue_mandate(vote(ago(90), 30, 2, title="Send Olga"), "Olga", None, COUNCIL,
                                     dt.date.fromisoformat(ago(90)), dt.date.fromisoformat(ago(-40)), wells)
        recorder.recall_mandate(old, vote(ago(85), 25, 4, title="Recall Olga"))
        term = (dt.date.fromisoformat(ago(40)), dt.date.fromisoformat(ago(-40)))
        for n in range(52):
            recorder.issue_mandate(vote(ago(40), 30, 2, title=f"Mandate {n}"), f"Delegate {n}", None,
                                   COUNCIL, *term, ())
        for n in range(56):
            recorder.decide(vote(ago(30 - n % 30), 30, 2, title=f"Decision {n}"))
    daemon = serve(data)
    try:
        page = open_page(browser, f"{daemon.url}/#token={token(data)}", DESKTOP)
        expect(page.locator("#mandates-more")).to_have_text(re.compile(r"^The newest 50 of 53 mandates\."))
        show(page, "delegates")
        card = page.locator(f"article.mandate[data-id='{old}']")
        expect(card).to_contain_text("well repairs: vote for (imperative)")
        expect(card).to_contain_text(f"Recalled by Barrio Largo on {ago(85)} (25 for, 4 against, 0 abstain).")
        ledgers = [url for url in page.requests if "/api/v1/ledger" in url]
        assert ledgers and all(url.endswith("&limit=50") for url in ledgers), ledgers
        look_at(page, "delegates-older-than-the-page")
        assert page.errors == []
    finally:
        daemon.stop()
