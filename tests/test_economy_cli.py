"""The economy commands as a secretary types them, with no daemon running: records, revisions,
withdrawals, listing, the plan in text and JSON; bad input is one line `pnyx: error: ...`, a
non-zero exit and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pnyxproc import Daemon, cli, cli_json, query


def test_a_secretary_records_needs_and_offers_and_reads_the_plan(tmp_path: Path) -> None:
    data = tmp_path / "north"
    key = cli(data, "init", "--assembly", "North").stdout.split(": ")[1].split()[0]
    charter = cli(data, "confed", "create", "--name", "Valley", "--member", key, "--deadline-days", "30",
                  "--date", "2026-01-01").stdout.strip()
    cli(data, "confed", "accept", charter, "--date", "2026-01-02", "--for", "9", "--against", "0",
        "--abstain", "0")
    need = cli(data, "need", "add", "--confed", f"charter/{charter}", "--item", "Seed potatoes",
               "--quantity", "80",
               "--unit", "kg", "--by", "2027-03-01", "--priority", "high", "--cooperative", "Huerta",
               "--date", "2026-10-01").stdout.strip()
    cli(data, "offer", "add", "--confed", "valley", "--item", "seed  POTATOES",  # by its name
        "--quantity", "50", "--unit", "kg", "--from", "2026-11-01", "--until", "2027-04-01",
        "--date", "2026-10-01")
    revised = cli(data, "need", "revise", need, "--quantity", "90", "--date", "2026-10-02").stdout.strip()
    listed = cli_json(data, "need", "list")
    assert {r["id"]: (r["quantity"], r["superseded"]) for r in listed} == {need: (80, True),
                                                                            revised: (90, False)}
    text = cli(data, "plan", "--as-of", "2026-10-10").stdout
    assert "seed potatoes (kg): needed 90, offered 50" in text
    assert "UNCOVERED 40 kg for North by 2027-03-01 (high)" in text
    assert "North: newest record 2026-10-02 (3 held)" in text
    plan = json.loads(cli(data, "plan", "--json", "--as-of", "2026-10-10", "--verify").stdout)
    assert plan["confederations"][0]["items"][0]["needs"][0]["cooperative"] == "Huerta"
    jsonld = json.loads(cli(data, "plan", "--jsonld", "--as-of", "2026-10-10").stdout)
    assert jsonld["@context"]["vf"] == "https://w3id.org/valueflows/ont/vf#"
    cli(data, "need", "withdraw", revised, "--date", "2026-10-03")
    assert "needed 0, offered 50" in cli(data, "plan", "--as-of", "2026-10-10").stdout

    changes = query(data, "SELECT count(*) FROM changes")[0][0]
    for args in (["need", "add", "--confed", charter, "--item", "x", "--quantity", "5", "--unit", "kg",
                  "--by", "tomorrow"],
                 ["need", "add", "--confed", charter, "--item", "x", "--quantity", "-5", "--unit", "kg",
                  "--by", "2027-01-01"],
                 ["offer", "add", "--confed", charter, "--item", "x", "--quantity", "5", "--unit", "kg",
                  "--from", "2027-02-01", "--until", "2027-01-01"],
                 ["need", "add", "--confed", "nonsense", "--item", "x", "--quantity", "5", "--unit", "kg",
                  "--by", "2027-01-01"],
                 ["need", "revise", need, "--quantity", "7"],
                 ["need", "withdraw", revised],
                 ["pledge", "add", "--need", f"{key}/{need}", "--offer", f"{key}/{'b' * 16}",
                  "--quantity", "5"],
                 ["commons", "add", "--confed", "f" * 64, "--good", "well"],
                 ["plan", "--as-of", "20261010"]):
        result = cli(data, *args, check=False)
        assert result.returncode != 0, args
        assert result.stderr.startswith("pnyx: error: ") or "error: argument" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr, args
    assert query(data, "SELECT count(*) FROM changes")[0][0] == changes


def test_a_ledger_founded_before_the_economy_is_told_so_not_crashed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its genesis lacks the economy's collections, and a writer must not create them (ledger.md):
    a need is refused with one line, through the CLI and through the API, and nothing is written."""
    from pnyx.daemon.cli.main import main
    from pnyx.federation import ledger

    data = tmp_path / "old"
    monkeypatch.setattr(ledger, "COLLECTIONS", ("devices", "decisions", "mandates"))
    assert main(["--data", str(data), "init", "--assembly", "Old village"]) == 0
    monkeypatch.undo()
    key = cli_json(data, "status", "--json")["assembly"]
    charter = cli(data, "confed", "create", "--name", "Valley", "--member", key, "--deadline-days", "30",
                  "--date", "2026-01-01").stdout.strip()
    cli(data, "confed", "accept", charter, "--date", "2026-01-02", "--for", "9", "--against", "0",
        "--abstain", "0")
    changes = query(data, "SELECT count(*) FROM changes")[0][0]
    need = ["need", "add", "--confed", charter, "--item", "x", "--quantity", "5", "--unit", "kg",
            "--by", "2027-01-01"]
    direct = cli(data, *need, check=False)  # no daemon: the CLI writes the store itself
    daemon = Daemon(data)
    try:
        through_api = cli(data, *need, check=False)  # the running daemon's API takes the write
    finally:
        daemon.stop()
    for result in (direct, through_api):
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith("pnyx: error: ") and "no needs collection" in result.stderr, \
            result.stderr
    assert query(data, "SELECT count(*) FROM changes")[0][0] == changes
