"""Helpers for tests of the local API: a served data directory, raw HTTP calls, a small confederation."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
from pathlib import Path
from typing import Any

from tests.confedkit import World
from tests.pnyxproc import Daemon


def serve(data: Path, *extra: str) -> Daemon:
    """A daemon on `data`, returned once it has announced itself in daemon.json."""
    daemon = Daemon(data, *extra)
    deadline = time.monotonic() + 10
    while not (data / "daemon.json").exists():
        if time.monotonic() > deadline:
            daemon.stop()
            raise AssertionError("the daemon did not write daemon.json")
        time.sleep(0.02)
    return daemon


def token(data: Path) -> str:
    return (data / "api.token").read_text().strip()


def call(daemon: Daemon, method: str, path: str, body: Any = None, auth: str | None = None,
         raw: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One request to /api/v1`path`; (status, JSON answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if auth is not None:
        sent["Authorization"] = f"Bearer {auth}"
    payload = raw if raw is not None else None if body is None else json.dumps(body).encode()
    try:
        connection.request(method, f"/api/v1{path}", body=payload, headers=sent)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, json.loads(data) if data else None


def a_vote(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"date": "2026-11-20", "tally": {"for": 30, "against": 5, "abstain": 1}}
    body.update(fields)
    return body


def confederation(root: Path, on: dt.date | None = None) -> dict[str, str]:
    """Two assemblies of one confederation with an open proposal and a delegate, spread to both.

    The proposal is of 2026-11-01 (ratified 11-03, the delegate's vote 11-04), or everything
    is of day `on` (today, for a script dated the day it runs)."""
    put, ratified, voted = ("2026-11-01", "2026-11-03", "2026-11-04") if on is None else (on.isoformat(),) * 3
    term = ("2026-01-01", "2027-12-31") if on is None else (f"{on.year - 1}-01-01", f"{on.year + 1}-12-31")
    world = World(root)
    try:
        world.assembly("north")
        world.assembly("south")
        delegate = world.delegate("ana", "north")
        charter = world.found("north", "Valley council", ["north", "south"], on="2026-01-01")
        world.accept("north", charter)
        world.accept("south", charter)
        mandate = world.mandate("north", delegate, charter, term, (("water", "for", "imperative"),))
        pid = world.propose("north", charter, put, title="Shared water plan")
        world.ratify("north", pid, ratified, 30, 5)
        world.spread()
        world.act("ana", "vote", voted, proposal=pid, position="for", indicative=True)
        world.spread()
        return {"charter": charter, "proposal": pid, "mandate": mandate, "north": world.key("north"),
                "south": world.key("south")}
    finally:
        world.close()
