"""Bad input to the confederation commands: one clear line, a non-zero exit, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pnyx.daemon.cli.main import main
from pnyx.daemon.store.node import open_node

from tests.confedkit import count_changes


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "A"
    assert main(["--data", str(path), "init", "--assembly", "A"]) == 0
    return path



def run(data: Path, *args: str) -> int:
    return main(["--data", str(data), *args])


@pytest.mark.parametrize(("args", "message"), [
    (["confed", "create", "--name", "V", "--member", "notakey", "--deadline-days", "30"],
     "no assembly named 'notakey' is held here"),
    (["confed", "create", "--name", "V", "--deadline-days", "30"], "at least one founding member"),
    (["confed", "create", "--name", "V", "--member", "a" * 52, "--threshold", "1/3",
      "--deadline-days", "30"], "more than 1/2"),
    (["confed", "create", "--name", "V", "--member", "a" * 52, "--assembly-quorum", "1.5",
      "--deadline-days", "30"], "between 0 and 1"),
    (["confed", "create", "--name", "V", "--member", "a" * 52, "--deadline-days", "0"], "deadline"),
    (["confed", "accept", "f" * 64, "--date", "2026-01-01", "--for", "1", "--against", "0",
      "--abstain", "0"], "not held here"),
    (["propose", "--confed", "f" * 64, "--kind", "admit", "--title", "x", "--date", "2026-01-01",
      "--for", "1", "--against", "0", "--abstain", "0"], "needs subject"),
    (["propose", "--confed", "xyz", "--title", "x", "--date", "2026-01-01", "--for", "1",
      "--against", "0", "--abstain", "0"], "no confederation named 'xyz' is held here"),
    (["ratify", "nosuchproposal", "--date", "2026-01-01", "--for", "1", "--against", "0",
      "--abstain", "0"], "no proposal"),
    (["delegate", "vote", "nosuchproposal", "--position", "for"], "no proposal"),
    (["view", "--as-of", "yesterday"], "not a date"),
])
def test_bad_input_is_refused_and_writes_nothing(data: Path, args: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    before = count_changes(data)
    assert run(data, *args) != 0
    err = capsys.readouterr().err
    assert err.startswith("pnyx: error: ") and message in err and err.count("\n") == 1
    assert count_changes(data) == before


def test_a_proposal_before_accepting_is_refused_with_the_views_reason(
        data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = open_node(data)
    me = node.ledger_id.removeprefix("ledger/")
    node.close()
    assert run(data, "confed", "create", "--name", "V", "--member", me, "--deadline-days", "9",
               "--date", "2026-01-01") == 0
    capsys.readouterr()
    before = count_changes(data)
    assert run(data, "propose", "--confed", "V", "--title", "x", "--date", "2026-01-01",
               "--for", "1", "--against", "0", "--abstain", "0") != 0
    assert capsys.readouterr().err == ("pnyx: error: the confederation would ignore this proposal: "
                                       "the proposing assembly is not in the electorate on 2026-01-01\n")
    assert count_changes(data) == before
    assert run(data, "view", "--json", "--as-of", "2026-01-02") == 0
    (confederation,) = json.loads(capsys.readouterr().out)["confederations"]
    assert confederation["proposals"] == confederation["ignored_proposals"] == []
    assert confederation["members"][0]["state"] == "awaiting-acceptance"


def test_view_verify_catches_a_stale_index(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    node = open_node(data)
    me = node.ledger_id.removeprefix("ledger/")
    node.close()
    assert run(data, "confed", "create", "--name", "V", "--member", me, "--deadline-days", "9") == 0
    assert run(data, "view", "--verify", "--as-of", "2026-01-02") == 0
    assert "identical" in capsys.readouterr().err
    node = open_node(data)  # the index now says this assembly has another name
    with node.store.transaction():
        node.store.db.execute("UPDATE view_records SET record = replace(record, '\"A\"', '\"B\"')"
                              " WHERE doc LIKE 'ledger/%'")
    node.close()
    assert run(data, "view", "--verify", "--as-of", "2026-01-02") == 1
    assert "DIFFERS" in capsys.readouterr().err
