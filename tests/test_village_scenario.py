"""The user's story end to end: a village offline for six months reconciles with its
confederation, (a) through one neighbour over the network and, separately, (b) by bundles
carried on a USB stick both ways.

The story's records are written in-process (tests/villagestory.py), so that real daemons
run only for the exchange. After each reconciliation every daemon holds the same
records, `pnyx view --json --as-of` gives the same bytes everywhere, and
`pnyx status --completeness` says nothing is missing.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pnyx.daemon.store.node import open_node
from pnyx.daemon.store.peers import PeerBook

from .pnyxproc import PNYX, Daemon, cli, cli_json, free_port, wait_for
from .villagestory import ASSEMBLIES, NEIGHBOUR, six_months

pytestmark = pytest.mark.slow
AS_OF = "2026-08-01"
# a star around the neighbour, which nobody learns past: the village reaches no one else
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1", "--no-learn")


def hashes(data: Path) -> set[bytes]:
    db = sqlite3.connect(data / "pnyx.sqlite")
    try:
        return {bytes(r[0]) for r in db.execute("SELECT hash FROM changes")}
    finally:
        db.close()


def count(data: Path) -> int:
    db = sqlite3.connect(data / "pnyx.sqlite")
    try:
        return int(db.execute("SELECT count(*) FROM changes").fetchone()[0])
    finally:
        db.close()


def views(datas: list[Path]) -> dict[str, bytes]:
    """`pnyx view --json --as-of` of every store, the processes run side by side."""
    procs = {d.name: subprocess.Popen([*PNYX, "--data", str(d), "view", "--json", "--as-of", AS_OF],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for d in datas}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        out[name] = stdout
    return out


def check_reconciled(root: Path, story: dict[str, Any], expected: set[bytes]) -> None:
    datas = [root / n for n in ASSEMBLIES]
    for data in datas:
        assert hashes(data) == expected, f"{data.name} does not hold every record"
    rendered = views(datas)
    assert len(set(rendered.values())) == 1, "the views differ"
    view = next(iter(rendered.values()))
    parsed = json.loads(view)
    (confed,) = [c for c in parsed["confederations"] if c["id"] == story["charter"]]
    states = {m["member"]: m["state"] for m in confed["members"]}
    assert len(states) == 12 and set(states.values()) == {"member"}
    (ana,) = [m for m in parsed["mandates"] if m["mandate"] == story["ana_mandate"]]
    assert ana["state"] == "recalled" and len(ana["acts"]) == 1  # her vote, cast as she was recalled
    for name in ("village", NEIGHBOUR):
        report = cli_json(root / name, "status", "--completeness")
        assert report["complete"] is True, report
        assert all(r["missing_changes"] == 0 and r["pending"] == 0 for r in report["assemblies"])


def star(root: Path, names: list[str]) -> list[Daemon]:
    """A daemon for each of `names`, started side by side, each with the neighbour (first in
    the list returned) as its only peer."""
    ports = {n: free_port() for n in names}
    for name in names:
        if name != NEIGHBOUR:
            node = open_node(root / name)
            try:
                PeerBook(node.store).add(f"http://127.0.0.1:{ports[NEIGHBOUR]}", "added", time.time())
            finally:
                node.close()
    order = [NEIGHBOUR, *(n for n in names if n != NEIGHBOUR)]
    with ThreadPoolExecutor(len(order)) as pool:  # twelve starting at once: give them time
        futures = [pool.submit(Daemon, root / n, *GOSSIP, port=ports[n], ready_timeout=120) for n in order]
    started = [f.result() for f in futures if f.exception() is None]
    if len(started) < len(order):
        for daemon in started:
            daemon.stop()
        raise AssertionError(f"{len(order) - len(started)} daemons did not start")
    return started


def test_village_reconciles_by_network_and_by_bundles(tmp_path: Path) -> None:
    story = six_months(tmp_path / "story")
    village_before = hashes(tmp_path / "story" / "village")
    expected = hashes(tmp_path / "story" / NEIGHBOUR) | village_before
    for theirs in ("ana", "bo", "a02"):  # the delegates' acts reached the online stores
        assert hashes(tmp_path / "story" / theirs) <= expected
    newcomer_docs = hashes(tmp_path / "story" / "newcomer") - village_before
    assert newcomer_docs, "the village never met the newcomer"
    net, stick = tmp_path / "net", tmp_path / "stick"
    shutil.copytree(tmp_path / "story", net)
    shutil.copytree(tmp_path / "story", stick)

    # (a) over the network, through one neighbour -----------------------------------------------
    daemons = star(net, ASSEMBLIES)
    try:
        wait_for("every store holds every record", lambda: all(
            count(net / n) == len(expected) for n in ASSEMBLIES), timeout=90)
    finally:
        for d in daemons:
            d.stop()
    check_reconciled(net, story, expected)
    sync_peers = cli_json(net / "village", "peers")
    assert [p["url"] for p in sync_peers] == [daemons[0].url]

    # (b) by bundles carried both ways -----------------------------------------------------------
    village, neighbour = stick / "village", stick / NEIGHBOUR
    cli(village, "state", "export", "-o", str(stick / "village.state"))
    cli(neighbour, "bundle", "export", "--for", str(stick / "village.state"), "-o", str(stick / "in.pnyx"))
    data = (stick / "in.pnyx").read_bytes()
    (stick / "pulled-out.pnyx").write_bytes(data[:len(data) // 2])  # the stick pulled out halfway
    assert cli(village, "bundle", "import", str(stick / "pulled-out.pnyx"), check=False).returncode == 1
    partial = cli_json(village, "status", "--completeness")
    assert partial["complete"] is False
    assert sum(r["missing_changes"] for r in partial["assemblies"]) > 0
    report = cli_json(village, "bundle", "import", str(stick / "in.pnyx"))
    assert report["complete"] and report["rejected"] == 0 and report["pending"] == 0
    assert report["new"] + report["already_held"] == report["records"]
    assert hashes(village) == expected
    cli(neighbour, "state", "export", "-o", str(stick / "neighbour.state"))
    cli(village, "bundle", "export", "--for", str(stick / "neighbour.state"), "-o", str(stick / "out.pnyx"))
    back = cli_json(neighbour, "bundle", "import", str(stick / "out.pnyx"))
    assert back["new"] == len(expected - hashes(tmp_path / "story" / NEIGHBOUR)) == back["records"]
    # the neighbour, back on the network, passes the village's records to the others
    online = [n for n in ASSEMBLIES if n != "village"]
    daemons = star(stick, online)
    try:
        wait_for("every store holds every record", lambda: all(
            count(stick / n) == len(expected) for n in online), timeout=90)
    finally:
        for d in daemons:
            d.stop()
    check_reconciled(stick, story, expected)

