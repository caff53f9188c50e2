"""The secretary's flows through real `pnyx` processes: init, decide, mandates, devices,
show, status, verify; and every invalid input gets one error line and writes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pnyx.federation.keys import key_text

from .ledgerkit import new_key
from .pnyxproc import cli, cli_json

pytestmark = pytest.mark.slow  # about 25 pnyx processes

VOTE = ["--date", "2026-11-20", "--for", "80", "--against", "12", "--abstain", "5"]


def change_hashes(data: Path) -> frozenset[bytes]:
    with sqlite3.connect(data / "pnyx.sqlite") as db:
        return frozenset(bytes(row[0]) for row in db.execute("SELECT hash FROM changes"))


def by_id(records: list[dict[str, Any]], key: str = "id") -> dict[str, dict[str, Any]]:
    return {r[key]: r for r in records}


@pytest.fixture(scope="module")
def secretary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A data directory after a secretary's session; what each command printed."""
    data = tmp_path_factory.mktemp("cli") / "barrio-norte"
    out: dict[str, Any] = {"data": data}
    out["init"] = cli(data, "init", "--assembly", "Barrio Norte", "--place", "Plaza 3",
                      "--members", "120").stdout
    out["kitchen"] = cli(data, "decide", "--title", "Community kitchen", "--text", "Open Mondays",
                         *VOTE, "--quorum", "97", "--dissent", "Prefer Sundays").stdout.strip()
    out["revision"] = cli(data, "decide", "--title", "Kitchen, revised", "--text", "Mondays and Fridays",
                          "--date", "2026-11-27", "--for", "60", "--against", "0", "--abstain", "3",
                          "--supersedes", out["kitchen"]).stdout.strip()
    out["delegate_key"] = key_text(new_key().public)
    out["mandate"] = cli(data, "mandate", "issue", "--delegate", "Ana", "--delegate-key",
                         out["delegate_key"], "--council", "Water council", "--from", "2026-12-01",
                         "--until", "2027-03-01", "--instruction", "water plan", "for", "imperative",
                         "--instruction", "new well", "abstain", "indicative", *VOTE).stdout.strip()
    out["recalled"] = cli(data, "mandate", "issue", "--delegate", "Luis", "--council", "Roads",
                          "--from", "2026-12-01", "--until", "2027-01-01", *VOTE).stdout.strip()
    out["recall"] = cli(data, "mandate", "recall", out["recalled"], "--date", "2026-11-25",
                        "--for", "60", "--against", "20", "--abstain", "1").stdout.strip()
    out["device"] = key_text(new_key().public)
    out["revoked"] = key_text(new_key().public)
    cli(data, "device", "add", out["device"], "--label", "secretary laptop")
    cli(data, "device", "add", out["revoked"], "--label", "lost phone")
    out["revoke"] = cli(data, "device", "revoke", out["revoked"]).stdout
    return out


def test_init_creates_the_assembly_and_refuses_an_existing_data_dir(secretary: dict[str, Any]) -> None:
    data = secretary["data"]
    assert "Barrio Norte" in secretary["init"]
    files = {p.name: p.read_bytes() for p in data.iterdir() if p.suffix in (".key", ".json")}
    assert {"identity.json", "device.key", "assembly.key"} <= set(files)
    assert (data / "assembly.key").stat().st_mode & 0o077 == 0
    hashes = change_hashes(data)
    again = cli(data, "init", "--assembly", "Another", check=False)
    assert again.returncode != 0
    assert_one_error_line(again.stderr)
    assert {p.name: p.read_bytes() for p in data.iterdir() if p.suffix in (".key", ".json")} == files
    assert change_hashes(data) == hashes


def test_decisions_with_tally_dissent_and_supersedes(secretary: dict[str, Any]) -> None:
    decisions = by_id(cli_json(secretary["data"], "show", "decisions"))
    kitchen, revision = decisions[secretary["kitchen"]], decisions[secretary["revision"]]
    assert kitchen["title"] == "Community kitchen" and kitchen["text"] == "Open Mondays"
    assert kitchen["date"] == "2026-11-20"
    assert kitchen["tally"] == {"for": 80, "against": 12, "abstain": 5}
    assert kitchen["quorum"] == 97 and kitchen["dissent"] == "Prefer Sundays"
    assert kitchen["supersedes"] is None
    assert revision["supersedes"] == secretary["kitchen"]
    # Superseded, never deleted: both stay, the human listing marks the old one.
    listing = cli(secretary["data"], "show", "decisions").stdout
    assert f"{secretary['kitchen']}" in listing and "(superseded)" in listing


def test_mandates_issued_with_their_decision_and_recalled(secretary: dict[str, Any]) -> None:
    data = secretary["data"]
    mandates = by_id(cli_json(data, "show", "mandates"))
    ana = mandates[secretary["mandate"]]
    assert ana["delegate"] == "Ana" and ana["delegate_key"] == secretary["delegate_key"]
    assert ana["council"] == "Water council"
    assert (ana["term_from"], ana["term_until"]) == ("2026-12-01", "2027-03-01")
    assert ana["instructions"] == [
        {"question": "water plan", "position": "for", "binding": "imperative"},
        {"question": "new well", "position": "abstain", "binding": "indicative"}]
    assert ana["recalled_by"] is None
    assert mandates[secretary["recalled"]]["recalled_by"] == secretary["recall"]
    decisions = by_id(cli_json(data, "show", "decisions"))
    issuing = decisions[ana["decision"]]
    assert (issuing["kind"], issuing["subject"]) == ("mandate", secretary["mandate"])
    recall = decisions[secretary["recall"]]
    assert (recall["kind"], recall["subject"]) == ("recall", secretary["recalled"])


def test_devices_certified_and_revoked(secretary: dict[str, Any]) -> None:
    devices = by_id(cli_json(secretary["data"], "show", "devices"), key="key")
    assert devices[secretary["device"]]["label"] == "secretary laptop"
    assert devices[secretary["device"]]["revoked_cut"] is None
    assert devices[secretary["revoked"]]["revoked_cut"] == {}  # it never wrote anything
    assert len(devices) == 3  # with the founding device
    assert "revoked" in secretary["revoke"]


def test_status_and_verify(secretary: dict[str, Any]) -> None:
    data = secretary["data"]
    status = cli_json(data, "status")
    assert status["assembly_name"] == "Barrio Norte"
    # genesis, 2 decisions, 2 mandates, 1 recall, 2 certificates, 1 revocation
    assert status["changes"] == 9 == len(change_hashes(data))
    assert (status["documents"], status["pending"], status["evidence"]) == (1, 0, 0)
    report = cli_json(data, "verify")
    assert (report["verified"], report["changes"], report["failed"]) == (9, 9, 0)


@pytest.mark.parametrize("damage", ["signature", "change"])
def test_verify_exits_1_when_a_stored_change_fails(secretary: dict[str, Any], tmp_path: Path,
                                                    damage: str) -> None:
    """A bit flipped on disk in one stored change (its signature, or the change itself) is
    found by `pnyx verify`: exit 1, the failure counted and its reason printed."""
    data = tmp_path / "copy"
    # The store through SQLite's backup, the rest as files: a copy of the files could catch
    # the WAL as a closing connection removes it.
    shutil.copytree(secretary["data"], data, ignore=shutil.ignore_patterns("pnyx.sqlite*"))
    source, copy = sqlite3.connect(secretary["data"] / "pnyx.sqlite"), sqlite3.connect(data / "pnyx.sqlite")
    source.backup(copy)
    source.close()
    copy.close()
    with sqlite3.connect(data / "pnyx.sqlite") as db:
        seqno, value = db.execute(f"SELECT seqno, {damage} FROM changes ORDER BY seqno DESC").fetchone()
        flipped = bytearray(value)
        flipped[len(flipped) // 2] ^= 0x01
        db.execute(f"UPDATE change_rows SET {damage} = ? WHERE seqno = ?", (bytes(flipped), seqno))
    result = cli(data, "verify", "--json", check=False)
    assert result.returncode == 1, result.stdout
    report = json.loads(result.stdout)
    assert (report["changes"], report["verified"], report["failed"]) == (9, 8, 1)
    expected = "bad-signature" if damage == "signature" else "bad-checksum"
    assert any(expected in problem for problem in report["problems"]), report["problems"]
    shown = cli(data, "verify", check=False)
    assert shown.returncode == 1 and "1 failed" in shown.stdout and expected in shown.stdout


def assert_one_error_line(stderr: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pnyx: error: "), stderr


def test_invalid_input_gets_one_error_line_and_writes_nothing(secretary: dict[str, Any]) -> None:
    data = secretary["data"]
    unknown_key = key_text(new_key().public)
    term = ["--delegate", "Eva", "--council", "Water council"]
    invalid = {
        "negative tally": ["decide", "--title", "T", "--date", "2026-11-20", "--for", "-1",
                           "--against", "0", "--abstain", "0"],
        "unparseable date": ["decide", "--title", "T", "--date", "20 November", "--for", "1",
                             "--against", "0", "--abstain", "0"],
        "supersedes an unknown decision": ["decide", "--title", "T", *VOTE,
                                           "--supersedes", "aaaaaaaaaaaaaaaa"],
        "term ends before it starts": ["mandate", "issue", *term, "--from", "2027-01-01",
                                       "--until", "2026-12-01", *VOTE],
        "bad delegate key": ["mandate", "issue", *term, "--delegate-key", "not-a-key",
                             "--from", "2026-12-01", "--until", "2027-01-01", *VOTE],
        "recall of an unknown mandate": ["mandate", "recall", "aaaaaaaaaaaaaaaa", *VOTE],
        "recall of a recalled mandate": ["mandate", "recall", secretary["recalled"], *VOTE],
        "revoke an unknown device": ["device", "revoke", unknown_key],
        "revoke a revoked device": ["device", "revoke", secretary["revoked"]],
        "add a certified device": ["device", "add", secretary["device"]],
        "bad key text": ["device", "add", unknown_key.upper()],
        "dated after today": ["decide", "--title", "T", "--date", "2099-01-01", "--for", "1",
                              "--against", "0", "--abstain", "0"],
        "quorum below the votes cast": ["decide", "--title", "T", *VOTE, "--quorum", "10"],
        "more votes than members": ["decide", "--title", "T", "--date", "2026-11-20", "--for", "830",
                                    "--against", "0", "--abstain", "0"],
        "term ended before the decision": ["mandate", "issue", *term, "--from", "2026-01-01",
                                           "--until", "2026-02-01", *VOTE],
        "a decision rule below a majority": ["bylaws", "--rule", "1/3", *VOTE],
        "bylaws that set nothing": ["bylaws", *VOTE],
    }
    status_before = cli_json(data, "status")
    hashes_before = change_hashes(data)
    for name, args in invalid.items():
        result = cli(data, *args, check=False)
        assert result.returncode != 0, name
        assert_one_error_line(result.stderr)
        assert result.stdout == "", name
        assert change_hashes(data) == hashes_before, name
    status_after = cli_json(data, "status")
    assert status_after["changes"] == status_before["changes"] == len(hashes_before)
    assert status_after["pending"] == status_before["pending"]


def test_bylaws_decide_and_a_recall_voted_down_leaves_the_delegate(tmp_path: Path) -> None:
    data = tmp_path / "sur"
    cli(data, "init", "--assembly", "Barrio Sur", "--members", "120")
    adopted = cli(data, "bylaws", "--rule", "0.75", "--quorum-required", "40", *VOTE)
    assert adopted.stderr.startswith("adopted: ")
    bylaws = cli_json(data, "show", "bylaws")
    assert bylaws["in_force"] == {"rule": "3/4", "quorum": 40, "members": 120}
    assert bylaws["decision"] == adopted.stdout.strip()
    later = ["--date", "2026-11-21"]
    mandate = cli(data, "mandate", "issue", "--delegate", "Ana", "--council", "Water", "--from",
                  "2026-11-21", "--until", "2027-01-01", *later, "--for", "70", "--against", "3",
                  "--abstain", "0").stdout.strip()
    recall = cli(data, "mandate", "recall", mandate, *later, "--for", "30", "--against", "15",
                 "--abstain", "1").stdout.strip()  # 2/3 of for and against: below 3/4
    few = cli(data, "decide", "--title", "Few", *later, "--for", "20", "--against", "0",
              "--abstain", "0", "--dissent", "Too few of us").stdout.strip()
    decisions = cli_json(data, "show", "decisions")
    assert [d["date"] for d in decisions] == sorted(d["date"] for d in decisions)
    outcomes = {d["id"]: d["outcome"] for d in decisions}
    assert (outcomes[recall], outcomes[few]) == ("rejected", "no-quorum")
    assert by_id(cli_json(data, "show", "mandates"))[mandate]["recalled_by"] is None
    listing = cli(data, "show", "decisions").stdout
    assert "Recall of Ana's mandate to Water  REJECTED" in listing
    assert "Few  NO-QUORUM" in listing and "dissent: Too few of us" in listing


def test_show_lists_the_newest_and_says_how_many_there_are(secretary: dict[str, Any]) -> None:
    """`--limit N` shows the last N rows of the whole listing (`--all`), judged the same, and
    says how many there are; `--json` keeps its shape and says it on stderr."""
    data = secretary["data"]
    every = cli_json(data, "show", "decisions", "--all")
    assert len(every) == 5  # two decisions, the two issuing the mandates, a recall
    assert cli_json(data, "show", "decisions") == every  # fewer than the default 50
    newest = cli(data, "show", "decisions", "--limit", "2", "--json")
    assert json.loads(newest.stdout) == every[-2:]
    assert newest.stderr.strip() == "the newest 2 of 5 decisions; --limit N or --all for more"
    text = cli(data, "show", "mandates", "--limit", "1").stdout.splitlines()
    assert text[0].endswith(cli_json(data, "show", "mandates", "--all")[-1]["id"])
    assert text[1] == "the newest 1 of 2 mandates; --limit N or --all for more"
    refused = cli(data, "show", "decisions", "--limit", "0", check=False)
    assert refused.returncode != 0 and refused.stderr == "pnyx: error: --limit: at least 1\n"
    refused = cli(data, "show", "decisions", "--limit", "2", "--all", check=False)  # argparse's usage
    assert refused.returncode == 2 and refused.stderr.splitlines()[-1].endswith(
        "error: argument --all: not allowed with argument --limit")
