"""The local API of a running daemon: refusals that change nothing, writes, live events, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import socket
import stat
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pnyx.client import Client
from pnyx.daemon.http.access import is_local
from pnyx.daemon.services.records import DecisionInput, Recorder
from pnyx.daemon.store.node import open_node
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.ledger import Tally

from tests.apikit import a_vote, call, confederation, serve, token
from tests.pnyxproc import Daemon, cli, cli_json


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, dict[str, str]]]:
    root = tmp_path_factory.mktemp("api")
    ids = confederation(root)
    daemon = serve(root / "north")
    yield daemon, ids
    daemon.stop()


@pytest.fixture
def one_assembly(tmp_path: Path) -> Iterator[Daemon]:
    """A daemon serving a new assembly (stopped afterwards if the test did not)."""
    data = tmp_path / "a"
    cli(data, "init", "--assembly", "Barrio Norte")
    daemon = serve(data)
    yield daemon
    if daemon.proc.poll() is None:
        daemon.stop()


def held(daemon: Daemon) -> tuple[int, Any]:
    """What a refused request must leave as it was: the store's changes, and the ledger."""
    status, ledger = call(daemon, "GET", "/ledger")
    assert status == 200
    return call(daemon, "GET", "/status")[1]["changes"], ledger


def refused(daemon: Daemon, method: str, path: str, expected: int, **kwargs: Any) -> str:
    before = held(daemon)
    status, answer = call(daemon, method, path, **kwargs)
    assert status == expected, answer
    assert answer["error"]["status"] == expected and answer["error"]["message"]
    assert held(daemon) == before
    return str(answer["error"]["message"])


@pytest.mark.slow
def test_writes_without_the_right_token_get_401_and_change_nothing(
        served: tuple[Daemon, dict[str, str]]) -> None:
    daemon, ids = served
    writes = [("/decisions", a_vote(title="t")), (f"/mandates/{ids['mandate']}/recall", a_vote()),
              (f"/proposals/{ids['proposal']}/ratify", a_vote())]
    for path, body in writes:
        assert "no API token" in refused(daemon, "POST", path, 401, body=body)
        assert "wrong API token" in refused(daemon, "POST", path, 401, body=body, auth="not-the-token")
        refused(daemon, "POST", path, 401, body=body, headers={"Authorization": "Basic dXNlcjpwYXNz"})


@pytest.mark.slow
def test_bad_bodies_get_a_clear_4xx_and_change_nothing(served: tuple[Daemon, dict[str, str]]) -> None:
    daemon, _ = served
    auth = token(daemon.data)
    big = json.dumps(a_vote(title="x" * 300_000)).encode()
    assert "at most" in refused(daemon, "POST", "/decisions", 413, raw=big, auth=auth)
    assert "malformed JSON" in refused(daemon, "POST", "/decisions", 400, raw=b'{"title": ', auth=auth)
    assert "malformed JSON" in refused(daemon, "POST", "/decisions", 400, raw=b"[" * 100_000, auth=auth)
    assert "object" in refused(daemon, "POST", "/decisions", 400, raw=b"[1, 2]", auth=auth)
    for body, says in [
        (a_vote(title=5), "title must be a string"),
        (a_vote(title="t", tally={"for": "many", "against": 0, "abstain": 0}), "for must be"),
        (a_vote(title="t", tally={"for": 1, "against": 0, "abstain": 0, "more": 1}), "unknown field"),
        (a_vote(title="t", tally={"for": -1, "against": 0, "abstain": 0}), "negative"),
        (a_vote(title="t", date="20 November"), "not a date"),
        (a_vote(title="t", colour="red"), "unknown field in body: colour"),
        ({"title": "t"}, "tally must be an object"),
    ]:
        assert says in refused(daemon, "POST", "/decisions", 400, body=body, auth=auth)
    assert "title" in refused(daemon, "POST", "/decisions", 422, body=a_vote(title="   "), auth=auth)
    assert "supersede" in refused(daemon, "POST", "/decisions", 422,
                                  body=a_vote(title="t", supersedes="aaaaaaaaaaaaaaaa"), auth=auth)
    assert "count above" in refused(
        daemon, "POST", "/decisions", 422, auth=auth,
        body=a_vote(title="t", tally={"for": 10**30, "against": 0, "abstain": 0}))


@pytest.mark.slow
def test_unknown_ids_get_404_and_change_nothing(served: tuple[Daemon, dict[str, str]]) -> None:
    daemon, _ = served
    auth = token(daemon.data)
    nobody = "a" * 52
    for path in ["/decisions/aaaaaaaaaaaaaaaa", "/mandates/aaaaaaaaaaaaaaaa", f"/devices/{nobody}",
                 f"/ledger?assembly={nobody}", f"/proposals/{nobody}/aaaaaaaaaaaaaaaa",
                 f"/confederations/{'0' * 64}", "/no/such/thing"]:
        refused(daemon, "GET", path, 404)
    for path in ["/mandates/aaaaaaaaaaaaaaaa/recall", f"/proposals/{nobody}/aaaaaaaaaaaaaaaa/ratify",
                  f"/confederations/{'0' * 64}/accept", f"/devices/{nobody}/revoke"]:
        refused(daemon, "POST", path, 404, body=a_vote() if "revoke" not in path else {}, auth=auth)
    assert refused(daemon, "DELETE", "/decisions", 405)
    assert refused(daemon, "GET", "/ledger?assembly=zz", 404) == "no assembly named 'zz' is held here"


@pytest.mark.slow
def test_writes_record_what_reads_and_the_view_then_show(served: tuple[Daemon, dict[str, str]]) -> None:
    daemon, ids = served
    client = Client(daemon.url, token(daemon.data))
    decision = client.decide("Community kitchen", "2026-11-20", 80, 12, 5, text="Open Mondays",
                             dissent="Prefer Sundays", quorum=97)
    assert client.decision(decision["id"]) == {**decision, "superseded": False}
    later = client.decide("Kitchen on Sundays", "2026-11-27", 60, 30, 7, supersedes=decision["id"])
    assert client.decision(decision["id"])["superseded"] is True
    assert later["supersedes"] == decision["id"]
    bylaws = client.adopt_bylaws({"rule": "2/3"}, date="2026-11-21", votes_for=50, against=5, abstain=0)
    assert (bylaws["kind"], bylaws["outcome"], bylaws["bylaws"]) == ("bylaws", "adopted", {"rule": "2/3"})
    assert client.bylaws()["in_force"]["rule"] == "2/3"
    assert client.bylaws(as_of="2026-11-21")["in_force"]["rule"] == "simple"  # from the day after
    closed = client.decide("Close the kitchen", "2026-11-28", 50, 40, 0)
    assert (closed["outcome"], closed["judged_by"]) == ("rejected", bylaws["id"])
    assert [d["date"] for d in client.decisions()] == sorted(d["date"] for d in client.decisions())

    mandate = client.issue_mandate("Ana", ids["charter"], "2026-12-01", "2027-03-01", date="2026-11-20",
                                   votes_for=70, against=3, abstain=2,
                                   instructions=[("water plan", "for", "imperative")])
    recall = client.recall_mandate(mandate["id"], date="2026-11-25", votes_for=60, against=20, abstain=1)
    assert client.mandate(mandate["id"])["recalled_by"] == recall["id"]
    for what, every in (("decisions", client.decisions()), ("mandates", client.mandates())):
        with urllib.request.urlopen(f"{daemon.url}/api/v1/{what}?limit=2") as answer:
            assert json.load(answer) == every[-2:]  # the newest, judged as in the whole listing
            assert answer.headers["Pnyx-Total"] == str(len(every))
        for bad in ("0", "two"):
            assert "limit" in refused(daemon, "GET", f"/{what}?limit={bad}", 400)
        assert call(daemon, "GET", f"/{what}?limit={2**63}") == (200, every)  # more than any ledger holds
    assert client.decisions(limit=1) == client.decisions()[-1:]
    assert client.mandates(limit=1) == client.mandates()[-1:]
    whole, newest = client.ledger(), client.ledger(limit=2)
    assert (newest["decisions"], newest["mandates"]) == (whole["decisions"][-2:], whole["mandates"][-2:])
    assert newest["totals"] == whole["totals"] == {"decisions": len(whole["decisions"]),
                                                   "mandates": len(whole["mandates"])}
    assert {**newest, "decisions": [], "mandates": []} == {**whole, "decisions": [], "mandates": []}
    assert newest["delegates"] == {"mandates": client.mandates(),  # all of them, for the page's Delegates
                                   "recalls": [d for d in client.decisions() if d["id"] == recall["id"]]}
    assert "limit" in refused(daemon, "GET", "/ledger?limit=0", 400)

    proposal = client.proposal(ids["proposal"], as_of="2026-11-10")
    assert proposal["outcome"] == "open" and proposal["tally"] == {"for": 30, "against": 5, "abstain": 0}
    assert [row["assembly"] for row in proposal["breakdown"]] == [ids["north"]]
    assert proposal["not_voted"] == [ids["south"]]
    assert client.view(as_of="2026-11-10")["confederations"][0]["id"] == ids["charter"]
    assert [c["id"] for c in client.confederations()] == [ids["charter"]]
    assert {a["key"]: a["this"] for a in client.assemblies()} == {ids["north"]: True, ids["south"]: False}
    assert client.ledger(ids["south"])["profile"]["name"] == "south"  # type: ignore[index]
    assert client.ledger("south")["assembly"] == ids["south"]  # names wherever a key is taken
    assert [p["id"] for p in client.proposals(confederation="Valley council")] == [ids["proposal"]]
    by_name = ids["proposal"].replace(ids["north"], "north")  # the proposing assembly by name
    assert client.proposal(by_name, as_of="2026-11-10")["id"] == ids["proposal"]
    completeness = client.completeness()
    assert completeness["complete"] is True and completeness["pending"] == 0
    assert completeness["confederations"] == [{"id": ids["charter"], "name": "Valley council",
                                               "assemblies": 2, "ledgers_missing": []}]


def records_events(url: str, count: int, seen: list[dict[str, Any]], ready: threading.Event) -> None:
    for event in Client(url).events():
        if event["type"] == "hello":
            ready.set()
        else:
            seen.append(event)
        if len([e for e in seen if e["type"] == "records"]) >= count:
            return


@pytest.mark.slow
def test_events_announce_records_from_the_api_the_cli_and_other_processes(one_assembly: Daemon) -> None:
    daemon = one_assembly
    data = daemon.data
    try:
        seen: list[dict[str, Any]] = []
        ready = threading.Event()
        listener = threading.Thread(target=records_events, args=(daemon.url, 3, seen, ready), daemon=True)
        listener.start()
        assert ready.wait(10)
        started = time.monotonic()
        Client(daemon.url, token(data)).decide("Through the API", "2026-11-20", 1, 0, 0)
        cli(data, "decide", "--title", "Through the CLI", "--date", "2026-11-20", "--for", "1",
            "--against", "0", "--abstain", "0")
        node = open_node(data)  # a third process writing the store behind the daemon: this test
        try:
            Recorder(node).decide(DecisionInput("Behind its back", "", dt.date(2026, 11, 20), Tally(1, 0, 0)))
        finally:
            node.close()
        listener.join(10)
        records = [e for e in seen if e["type"] == "records"]
        assert len(records) >= 3, seen
        print(f"three records events within {time.monotonic() - started:.2f} s")
        assert all(e["data"]["documents"] == [f"ledger/{cli_json(data, 'status')['assembly']}"]
                   for e in records)
        assert [int(e["id"]) for e in records] == sorted(int(e["id"]) for e in records)
        # a client that reconnects with Last-Event-ID hears at once what it missed
        replay = next(e for e in Client(daemon.url).events(last_event_id="1") if e["type"] == "records")
        assert replay["data"]["since"] == 1 and replay["data"]["seqno"] == int(records[-1]["id"])
    finally:
        daemon.stop()
    store = Store(data / "pnyx.sqlite")
    try:
        actors = [bytes(a) for (a,) in store.db.execute("SELECT actor FROM changes ORDER BY seqno")][-3:]
    finally:
        store.close()
    # the API's write and the CLI's were both made by the daemon (its run's one actor);
    # the write behind its back by another process, with an actor of its own
    assert actors[0] == actors[1] != actors[2]


@pytest.mark.slow
def test_cli_works_without_a_daemon_and_after_one_was_killed(tmp_path: Path) -> None:
    data = tmp_path / "a"
    cli(data, "init", "--assembly", "Barrio Norte")
    token_file = data / "api.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600 and len(token_file.read_text().strip()) >= 40
    token_file.unlink()  # a data directory from before the API: `pnyx run` gives it a token
    daemon = serve(data)
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    url = cli(data, "page").stdout.strip()
    assert url == f"{daemon.url}/#token={token(data)}"
    daemon.kill()
    assert (data / "daemon.json").exists()  # left behind by SIGKILL
    cli(data, "decide", "--title", "After the crash", "--date", "2026-11-20", "--for", "1",
        "--against", "0", "--abstain", "0")
    assert [d["title"] for d in cli_json(data, "show", "decisions")] == ["After the crash"]
    assert "no daemon" in cli(data, "page", check=False).stderr
    daemon = serve(data)
    daemon.stop()
    assert not (data / "daemon.json").exists()  # a clean stop removes it


def test_only_loopback_clients_are_local() -> None:
    assert is_local("127.0.0.1") and is_local("127.8.9.1") and is_local("::1")
    assert is_local("::ffff:127.0.0.1") and is_local(None)
    assert not is_local("192.0.2.7") and not is_local("2001:db8::1") and not is_local("garbage")


@pytest.mark.slow
def test_page_and_its_files_are_served_with_no_outside_references(one_assembly: Daemon) -> None:
    daemon = one_assembly
    try:
        for path, kind in [("/", "text/html"), ("/static/app.js", "text/javascript"),
                           ("/static/style.css", "text/css")]:
            with socket.create_connection(("127.0.0.1", daemon.port)) as s:
                s.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
                answer = b"".join(iter(lambda: s.recv(65536), b"")).decode()
            head, _, body = answer.partition("\r\n\r\n")
            assert " 200 " in head.splitlines()[0] and kind in head
            assert "default-src 'self'" in head
            outside = body.replace("http://www.w3.org/2000/svg", "")  # a namespace name, never fetched
            assert "http://" not in outside and "https://" not in outside and "//cdn" not in outside
            for name in ("..%2Fnode.py", "node.py", "py.typed"):
                with socket.create_connection(("127.0.0.1", daemon.port)) as s:
                    s.sendall(f"GET /static/{name} HTTP/1.0\r\n\r\n".encode())
                    assert b" 404 " in s.recv(200).split(b"\r\n")[0]
    finally:
        daemon.stop()
