"""The checks a write must pass read the index of records (daemon/store/ledgerindex.py), not the
whole ledger; they must refuse exactly what they refused when they read it. So the entry they
look up must never be stale or missing: a grant, a recall, an acceptance or a ratification that
arrived by sync a moment before is seen by the next write on the receiving device, whether the
index was kept as the change was stored, caught up on read (a process storing changes without
the index), or rebuilt from the document (a store indexed in an older format)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from pnyx.daemon.services.records import Recorder, RecordError, new_record_id
from pnyx.daemon.store.node import Node
from pnyx.federation.charter import Rules, new_charter
from pnyx.federation.confed import Act, ActKind, ProposalBody, ProposalKind
from pnyx.federation.keys import key_text

from .ledgerkit import Assembly, found_assembly, vote

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
