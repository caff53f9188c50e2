"""The checks a write must pass read the index of records (daemon/store/ledgerindex.py), not the
whole ledger; they must refuse exactly what they refused when they read it. So the entry they
look up must never be stale or missing: a grant, a recall, an acceptance or a ratification that
arrived by sync a moment before is seen by the next write on the receiving device, whether the
index was kept as the change was stored, caught up on read (a process storing changes without
the index), or rebuilt from the document (a store indexed in an older format)."""

from __future__ import annotations

import datetime as dt
import os
import pty
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from automerge.core import Transaction
from pnyx.daemon.cli.progress import SHOW_FROM
from pnyx.daemon.services.records import Recorder, RecordError, new_record_id
from pnyx.daemon.store.node import Node
from pnyx.federation.charter import Rules, new_charter
from pnyx.federation.confed import Act, ActKind, ProposalBody, ProposalKind
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import Decision, Tally, write_decision

from .ledgerkit import Assembly, found_assembly, founded, vote
from .pnyxproc import PNYX, cli

Freshen = Callable[[Node, Assembly], None]


def synced(node: Node, assembly: Assembly) -> None:
    """Everything the home node holds, stored by `node` as gossip stores it (the index kept)."""
    report = node.ingestor.ingest(assembly.envelopes())
    assert not report.rejected and not report.pending, report


def stored_without_the_index(node: Node, assembly: Assembly) -> None:
    """As a process that does not keep the index would store them: caught up when read."""
    hooks = list(node.store.commit_hooks)
    node.store.commit_hooks.clear()
    try:
        synced(node, assembly)
    finally:
        node.store.commit_hooks.extend(hooks)


def indexed_in_an_older_format(node: Node, assembly: Assembly) -> None:
    """Stored, then the index marked as of another format: rebuilt from the document on read."""
    synced(node, assembly)
    node.store.db.execute("UPDATE ledger_indexed SET format = 'ledger-records/v1'")


WAYS = pytest.mark.parametrize("arrive", [synced, stored_without_the_index, indexed_in_an_older_format])


def act(day: int) -> Act:
    return Act(new_record_id(), ActKind.REPORT, dt.date(2026, 11, day), None, None, None, "Reported")


@WAYS
def test_a_grant_then_its_recall_arriving_by_sync_is_what_the_delegate_and_the_secretary_see(
        arrive: Freshen) -> None:
    norte = found_assembly()
    ana = norte.add_device("Ana's phone")
    second = norte.add_device("second laptop")
    mandate = norte.recorder.issue_mandate(vote("Send Ana", 2), "Ana", key_text(ana.device_key.public),
                                           "Water council", dt.date(2026, 11, 2), dt.date(2026, 12, 31), ())
    arrive(ana, norte)
    assert Recorder(ana).delegate_act(None, act(3))  # found by its writer's key, not named
    norte.recorder.recall_mandate(mandate, vote("Recall Ana", 4))
    for device in (ana, second):
        arrive(device, norte)
    with pytest.raises(RecordError, match=f"mandate {mandate} was recalled by"):
        Recorder(ana).delegate_act(None, act(5))
    with pytest.raises(RecordError, match=f"mandate {mandate} was recalled by"):
        Recorder(second).recall_mandate(mandate, vote("Recall Ana again", 5))


@WAYS
def test_an_acceptance_and_a_ratification_arriving_by_sync_are_not_recorded_twice(arrive: Freshen) -> None:
    norte = found_assembly()
    second = norte.add_device("second laptop")
    rules = Rules("Valley", "simple", "2/3", "1/2", 30, ())
    members = [key_text(norte.key.public)]
    charter = norte.recorder.found_confederation(new_charter(dt.date(2026, 11, 1), members,
                                                             [], rules))
    acceptance = norte.recorder.accept_charter(charter, vote("Join", 2))
    pid = norte.recorder.propose(ProposalBody(charter, ProposalKind.POLICY, None, None), vote("Wells", 3))
    ratification = norte.recorder.ratify(pid, vote("Wells, ratified", 4))
    arrive(second, norte)
    with pytest.raises(RecordError, match=f"already accepted the charter {charter} \\({acceptance}\\)"):
        Recorder(second).accept_charter(charter, vote("Join again", 5))
    with pytest.raises(RecordError, match=f"already ratified by {ratification}"):
        Recorder(second).ratify(pid, vote("Wells, again", 5))
    assert Recorder(second).ratify(pid, vote("Wells, a new vote", 5, supersedes=ratification))


@WAYS
def test_a_grant_arriving_by_sync_counts_for_the_rotation_of_the_next(arrive: Freshen) -> None:
    norte = found_assembly()
    second = norte.add_device("second laptop")
    norte.recorder.adopt_bylaws({"rotation": {"consecutive_terms": 1}}, vote("Rotate", 1))
    norte.recorder.issue_mandate(vote("Send Bo", 2), "Bo", None, "Water council",
                                 dt.date(2026, 11, 2), dt.date(2026, 11, 20), ())
    arrive(second, norte)
    with pytest.raises(RecordError, match="breaks the rotation: 2 consecutive terms"):
        Recorder(second).issue_mandate(vote("Send Bo again", 21), "Bo", None, "Water council",
                                       dt.date(2026, 11, 21), dt.date(2026, 12, 20), ())
    assert Recorder(second).issue_mandate(vote("Send Cy", 21), "Cy", None, "Water council",
                                          dt.date(2026, 11, 21), dt.date(2026, 12, 20), ())


def test_the_one_time_indexing_of_a_long_ledger_shows_its_progress_on_a_terminal(tmp_path: Path) -> None:
    """A store whose ledger was indexed in an older format is indexed whole by the first command
    that reads it; on a terminal, that command shows how far it has come (on stderr), then
    answers as before, and the next command does not index again."""
    data = tmp_path / "long"
    with founded(data, "Barrio Largo") as recorder:
        ledger = recorder.node.ledger_id
        for first in range(0, SHOW_FROM + 1_000, 1_000):
            recorder.write(ledger, lambda tx, first=first: filled(tx, range(first, first + 1_000)))
        recorder.node.store.db.execute("UPDATE ledger_indexed SET format = 'ledger-records/v1'")
    shown = on_a_terminal(data, "show", "decisions", "--limit", "1")
    assert f"indexing the records of {ledger} (once)" in shown
    assert "Decision 5999" in shown and f"the newest 1 of {SHOW_FROM + 1_000} decisions" in shown
    again = on_a_terminal(data, "show", "decisions", "--limit", "1")
    assert "indexing" not in again and "Decision 5999" in again
    with sqlite3.connect(data / "pnyx.sqlite") as db:
        db.execute("UPDATE ledger_indexed SET format = 'ledger-records/v1'")
    piped = cli(data, "show", "decisions", "--limit", "1")  # indexed again, shown to no terminal
    assert piped.stderr == "" and "Decision 5999" in piped.stdout


def filled(tx: Transaction, numbers: range) -> None:
    """Plain decisions, one per number, each with an id of its own."""
    for n in numbers:
        write_decision(tx, Decision(f"fill{n:012d}".translate(str.maketrans("0123456789", "abcdefghij")),
                                    f"Decision {n}", "", dt.date(2026, 11, 1), Tally(3, 1, 0), None, "",
                                    None, "decision", None))


def on_a_terminal(data: Path, *args: str) -> str:
    """What `pnyx` prints on a pseudo-terminal (stdout and stderr both), once it has exited."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*PNYX, "--data", str(data), *args], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env={**os.environ, "COLUMNS": "200"})
    os.close(follower)
    out = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process has exited
            break
        if not chunk:
            break
        out += chunk
    os.close(leader)
    assert proc.wait(timeout=120) == 0, out
    return out.decode(errors="replace")
