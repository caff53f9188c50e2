"""The economy's writes through the local API: bad input gets the status the spec names and
changes nothing; a revision and a withdrawal are new records; reads list them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apikit import call, serve, token
from tests.pnyxproc import cli, query

pytestmark = pytest.mark.slow


def test_economy_writes_refuse_bad_input_and_keep_every_record(tmp_path: Path) -> None:
    data = tmp_path / "north"
    key = cli(data, "init", "--assembly", "North").stdout.split(": ")[1].split()[0]
    charter = cli(data, "confed", "create", "--name", "Valley", "--member", key, "--deadline-days", "30",
                  "--date", "2026-01-01").stdout.strip()
    daemon = serve(data)
    try:
        auth = token(data)
        need = {"confederation": charter, "item": "grain", "quantity": 10, "unit": "kg", "by": "2027-01-01",
                "date": "2026-10-01"}
        changes = query(data, "SELECT count(*) FROM changes")[0][0]
        assert call(daemon, "POST", "/needs", need)[0] == 401
        assert call(daemon, "POST", "/needs", {**need, "colour": "red"}, auth=auth)[0] == 400
        assert call(daemon, "POST", "/needs", {**need, "quantity": 0}, auth=auth)[0] == 422
        assert call(daemon, "POST", "/needs", {**need, "item": "  "}, auth=auth)[0] == 422
        assert call(daemon, "POST", "/needs", {**need, "confederation": "e" * 64}, auth=auth)[0] == 404
        assert call(daemon, "POST", "/needs", raw=b"[", auth=auth)[0] == 400
        assert call(daemon, "POST", "/needs/aaaaaaaaaaaaaaaa/withdraw", {}, auth=auth)[0] == 404
        assert query(data, "SELECT count(*) FROM changes")[0][0] == changes
        status, first = call(daemon, "POST", "/needs", need, auth=auth)
        assert status == 201 and first["item"] == "grain"
        status, second = call(daemon, "POST", "/needs", {"supersedes": first["id"], "quantity": 12,
                                                         "date": "2026-10-02"}, auth=auth)
        assert status == 201 and (second["quantity"], second["by"]) == (12, "2027-01-01")
        assert call(daemon, "POST", "/needs", {"supersedes": first["id"], "quantity": 9}, auth=auth)[0] == 422
        status, gone = call(daemon, "POST", f"/needs/{second['id']}/withdraw", {"date": "2026-10-03"},
                            auth=auth)
        assert status == 201 and gone["withdrawn"] is True
        status, listed = call(daemon, "GET", "/needs")
        assert {r["id"]: (r["quantity"], r["withdrawn"], r["superseded"]) for r in listed} == {
            first["id"]: (10, False, True), second["id"]: (12, False, True), gone["id"]: (12, True, False)}
        assert call(daemon, "GET", "/plan?as_of=20261001")[0] == 400
        status, plan = call(daemon, "GET", f"/plan?as_of=2026-10-02&confederation={charter}")
        (line,) = plan["confederations"][0]["items"]  # North has not accepted the charter yet
        assert line["needs"] == [] and "not a member" in line["ignored"][0]["reason"]
    finally:
        daemon.stop()
