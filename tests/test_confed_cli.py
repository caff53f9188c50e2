"""End to end with real `pnyx` processes: three assemblies found a confederation, one proposes,
a delegate votes from her own device, all ratify, and every store computes the same view.

Records travel between the data directories as a bundle would (every envelope
one store holds is ingested by the other through the Ingestor), and at the
end by `pnyx sync` with C's running daemon.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from pnyx.daemon.store.node import open_node

from tests.confedkit import carry, count_changes
from tests.pnyxproc import Daemon, cli

pytestmark = pytest.mark.slow
AS_OF = "2026-02-10"


def share(*datas: Path) -> None:
    """Every store ends up holding every envelope any of them holds."""
    nodes = [open_node(d) for d in datas]
    try:
        for _ in range(2):
            for source in nodes:
                for target in nodes:
                    if source is not target:
                        carry(source, target)
    finally:
        for node in nodes:
            node.close()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())



def tally(votes_for: int, against: int, abstain: int = 0, on: str = "2026-02-05") -> list[str]:
    return ["--date", on, "--for", str(votes_for), "--against", str(against), "--abstain", str(abstain)]


def test_three_assemblies_a_delegate_and_one_view(tmp_path: Path) -> None:
    data = {name: tmp_path / name for name in "ABC"}
    keys = {}
    for name, path in data.items():
        out = cli(path, "init", "--assembly", f"Assembly {name}").stdout
        keys[name] = out.split(": ")[1].split()[0]
    charter = cli(data["A"], "confed", "create", "--name", "Valley", *[
        x for k in keys.values() for x in ("--member", k)], "--threshold", "simple",
        "--assembly-quorum", "0.5", "--deadline-days", "30", "--protect", "water is a commons",
        "--date", "2026-01-01").stdout.strip()
    assert len(charter) == 64
    share(*data.values())
    for name in "ABC":
        cli(data[name], "confed", "accept", charter, *tally(10, 0, on="2026-01-02"))
    pid = cli(data["A"], "propose", "--confed", charter, "--title", "Water plan",
              "--text", "Share the spring", *tally(1, 0, on="2026-02-01")).stdout.strip()
    assert pid.startswith(keys["A"] + "/")

    delegate = tmp_path / "ana"
    out = cli(delegate, "delegate", "init", "--assembly", keys["B"]).stdout
    ana = out.split("delegate key: ")[1].split()[0]
    mandate = cli(data["B"], "mandate", "issue", "--delegate", "Ana", "--delegate-key", ana,
                  "--council", charter, "--from", "2026-01-15", "--until", "2026-03-01",
                  "--instruction", "Water plan", "against", "imperative",
                  *tally(30, 1, on="2026-01-10")).stdout.strip()
    share(*data.values(), delegate)
    cli(delegate, "delegate", "vote", pid.split("/")[1], "--position", "against", "--date", "2026-02-03")
    cli(delegate, "delegate", "report", "Council of 3 February: water plan discussed",
        "--date", "2026-02-03")
    refused = cli(delegate, "delegate", "vote", pid, "--position", "for", "--date", "2026-04-01",
                  check=False)
    assert refused.returncode == 1 and "outside the mandate's term" in refused.stderr

    share(*data.values(), delegate)
    cli(data["A"], "ratify", pid, *tally(90, 10))
    cli(data["B"], "ratify", pid, *tally(4, 6), "--dissent", "The spring is ours first")
    before = count_changes(data["C"])
    unknown = cli(data["C"], "ratify", keys["A"] + "/aaaaaaaaaaaaaaaa", *tally(1, 1), check=False)
    assert unknown.returncode == 1 and "not held here" in unknown.stderr
    assert count_changes(data["C"]) == before
    share(*data.values(), delegate)
    daemon = Daemon(data["C"])  # keeps the view up to date while records arrive
    try:
        assert json.loads(fetch(f"{daemon.url}/pnyx/v1/view?as_of={AS_OF}"))["confederations"][0][
            "proposals"][0]["outcome"] == "open"
        cli(data["C"], "ratify", pid, *tally(3, 7))
        served = fetch(f"{daemon.url}/pnyx/v1/view?as_of={AS_OF}")
        for other in (data["A"], data["B"], delegate):  # C's ratification travels by real sync
            cli(other, "sync", daemon.url)
    finally:
        daemon.stop()

    views = {name: cli(path, "view", "--json", "--as-of", AS_OF).stdout
             for name, path in {**data, "ana": delegate}.items()}
    assert len(set(views.values())) == 1
    assert views["A"] == served.decode() + "\n"
    view = json.loads(views["A"])
    (confederation,) = view["confederations"]
    assert {m["state"] for m in confederation["members"]} == {"member"}
    (p,) = confederation["proposals"]
    assert (p["outcome"], p["tally"]) == ("adopted", {"for": 97, "against": 23, "abstain": 0})
    assert [b["majority"] for b in p["breakdown"]].count("against") == 2
    (m,) = view["mandates"]
    assert m["mandate"] == mandate and m["state"] == "active"
    assert sorted(a["class"] for a in m["acts"]) == ["within-mandate", "within-mandate"]

    checked = cli(data["B"], "view", "--verify", "--as-of", AS_OF)
    assert "identical" in checked.stderr
    text = cli(data["B"], "view", "--as-of", AS_OF).stdout
    assert "ADOPTED  97 for, 23 against" in text
