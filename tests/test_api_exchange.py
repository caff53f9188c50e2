"""State files and bundles through the local API (GET /state, GET /bundle, POST /bundle/for-state,
POST /bundle/import): the files `pnyx state export` and `pnyx bundle` write, carried by the page.

Two real daemons: one holding a small confederation, one a village that holds
nothing of it. Every bundle goes through real HTTP and is verified on import.
"""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest

from tests.apikit import confederation, serve, token
from tests.pnyxproc import Daemon, cli

pytestmark = pytest.mark.slow


def raw(daemon: Daemon, method: str, path: str, body: bytes | None = None,
        auth: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)
    headers = {"Content-Type": "application/octet-stream"}
    if auth is not None:
        headers["Authorization"] = f"Bearer {auth}"
    try:
        connection.request(method, f"/api/v1{path}", body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def changes(daemon: Daemon) -> int:
    status, body = raw(daemon, "GET", "/status")
    assert status == 200
    count: int = json.loads(body)["changes"]
    return count


def imported(daemon: Daemon, bundle: bytes) -> dict[str, Any]:
    status, body = raw(daemon, "POST", "/bundle/import", bundle, auth=token(daemon.data))
    assert status == 201, body
    result: dict[str, Any] = json.loads(body)
    return result


def test_a_village_gets_exactly_what_it_lacks_through_the_api(tmp_path: Path) -> None:
    ids = confederation(tmp_path)
    cli(tmp_path / "village", "init", "--assembly", "Aldea")
    north, village = serve(tmp_path / "north"), serve(tmp_path / "village")
    try:
        held = changes(north)
        status, state = raw(village, "GET", "/state")
        assert status == 200 and state
        status, lacking = raw(north, "POST", "/bundle/for-state", state)
        assert status == 200
        first = imported(village, lacking)
        assert first["complete"] and first["rejected"] == 0
        assert first["new"] == held  # the village held none of north's records
        assert changes(village) == held + 1  # and its own genesis
        again = imported(village, lacking)
        assert again["new"] == 0 and again["already_held"] == held
        status, state = raw(village, "GET", "/state")
        status, nothing = raw(north, "POST", "/bundle/for-state", state)
        assert imported(village, nothing)["records"] == 0  # nothing is lacking any more

        status, everything = raw(north, "GET", "/bundle")
        assert status == 200 and len(everything) > len(nothing)
        status, of_confederation = raw(north, "GET", f"/bundle?confederation={ids['charter']}")
        assert status == 200 and len(of_confederation) > len(nothing)
        status, _ = raw(north, "GET", "/bundle?since=2026-01-01")
        assert status == 200
    finally:
        north.stop()
        village.stop()


def test_bad_uploads_get_a_clear_error_and_change_nothing(tmp_path: Path) -> None:
    confederation(tmp_path)
    north = serve(tmp_path / "north")
    try:
        status, bundle = raw(north, "GET", "/bundle")
        before = changes(north)
        for method, path, body, auth, expected in (
                ("POST", "/bundle/import", bundle, None, 401),
                ("POST", "/bundle/import", bundle, "wrong", 401),
                ("POST", "/bundle/import", b"not a bundle at all", token(north.data), 422),
                ("POST", "/bundle/import", b"", token(north.data), 422),
                ("POST", "/bundle/for-state", b"\x00garbage", None, 422),
                ("GET", "/bundle?since=yesterday", None, None, 400),
                ("GET", "/bundle?confederation=nope", None, None, 404),  # a name none holds
                ("GET", f"/bundle?confederation={'ab' * 32}", None, None, 404)):
            status, answer = raw(north, method, path, body, auth)
            assert status == expected, (path, answer)
            assert json.loads(answer)["error"]["message"]
        assert changes(north) == before

        cli(tmp_path / "village", "init", "--assembly", "Aldea")
        village = serve(tmp_path / "village")
        try:
            cut = imported(village, bundle[: len(bundle) * 2 // 3])  # the stick was pulled out
            assert not cut["complete"] and cut["error"]["detail"]
            assert cut["new"] < before  # a record frame is a pack: whole packs before the cut are kept
            assert changes(village) == cut["new"] + 1  # what came before the damage is kept
        finally:
            village.stop()
    finally:
        north.stop()
