""""Only this machine is answered unless `pnyx run --api-remote`" (README, Clients), from
another host: a daemon in one network namespace, requests from a second one on the same bridge.

Peers are always served (`/pnyx/v1/...`); the local API and the web page answer the other
host only with `--api-remote`, and then writes still need the API token.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.apikit import a_vote, token
from tests.netlan import HostDaemon, Lan, in_netns, require_namespaces
from tests.pnyxproc import cli, cli_json

pytestmark = [pytest.mark.slow, pytest.mark.netns]
SERVER, OTHER = 1, 2


@pytest.fixture(scope="module")
def lan() -> Iterator[Lan]:
    require_namespaces()
    with Lan(hosts=2) as lan:
        yield lan


def request(lan: Lan, host: int, url: str, body: Any = None, auth: str | None = None) -> tuple[int, Any]:
    """(status, answer) of one request made from inside `host`'s namespace."""
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {auth}"} if auth else {})
    data = None if body is None else json.dumps(body).encode()

    def send() -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    status, raw = in_netns(lan.ns(host), send)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def titles(data: Path) -> list[str]:
    return [d["title"] for d in cli_json(data, "show", "decisions")]


@pytest.mark.parametrize("api_remote", [False, True], ids=["default", "api-remote"])
def test_another_host_reaches_the_api_and_page_only_with_api_remote(lan: Lan, tmp_path: Path,
                                                                    api_remote: bool) -> None:
    data = tmp_path / "node"
    cli(data, "init", "--assembly", "Barrio Norte")
    daemon = HostDaemon(lan, SERVER, data, "--no-discovery", *(["--api-remote"] if api_remote else []))
    try:
        secret = token(data)
        # peers are served either way
        status, answer = request(lan, OTHER, f"{daemon.url}/pnyx/v1/status")
        assert status == 200 and answer["assembly"]
        # this machine is always answered, also on the address other hosts use
        assert request(lan, SERVER, f"{daemon.url}/api/v1/status")[0] == 200
        assert request(lan, SERVER, f"{daemon.url}/")[0] == 200

        reads = [request(lan, OTHER, f"{daemon.url}{path}") for path in ("/api/v1/status", "/")]
        write = request(lan, OTHER, f"{daemon.url}/api/v1/decisions", a_vote(title="From afar"), secret)
        if api_remote:
            assert [status for status, _ in reads] == [200, 200]
            assert write[0] == 201, write
            unsigned = request(lan, OTHER, f"{daemon.url}/api/v1/decisions", a_vote(title="Unsigned"))
            assert unsigned[0] == 401  # writes still need the token
        else:
            for status, answer in [*reads, write]:
                assert status == 403 and "--api-remote" in answer["error"]["message"], answer
    finally:
        daemon.stop()
    assert titles(data) == (["From afar"] if api_remote else [])
