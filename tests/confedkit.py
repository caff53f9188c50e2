"""Assemblies of a confederation in one test process: real data directories, real Recorders.

Each assembly writes in its own store through the Recorder, exactly as the
CLI does; `spread()` carries every envelope to every store through the
Ingestor, as sync or a bundle would; `view()` computes the view of one store.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from automerge.core import Transaction
from pnyx.daemon.services.records import DecisionInput, Recorder, RecordError, new_record_id
from pnyx.daemon.store.ingest import IngestReport
from pnyx.daemon.store.node import Node, create_data_dir, new_key, open_node
from pnyx.daemon.store.viewindex import scratch_view
from pnyx.federation.charter import Rules, new_charter
from pnyx.federation.confed import RATIFICATION, Act, ActKind, ProposalBody, ProposalKind
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import Binding, Decision, Instruction, Position, Profile, Tally, write_decision


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def vote(on: str, votes_for: int, against: int, abstain: int = 0, title: str = "vote",
         dissent: str = "", supersedes: str | None = None) -> DecisionInput:
    return DecisionInput(title, "", day(on), Tally(votes_for, against, abstain), dissent=dissent,
                         supersedes=supersedes)


def carry(source: Node, target: Node) -> IngestReport:
    """Every envelope `source` holds, ingested by `target` (as a bundle would)."""
    return target.ingestor.ingest([s.envelope for s in source.store.envelopes()])


def count_changes(data: Path) -> int:
    """How many changes the store in `data` holds (with no CLI process running on it)."""
    node = open_node(data)
    try:
        return node.store.count_changes()
    finally:
        node.close()


class World:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: dict[str, Node] = {}
        self.recorders: dict[str, Recorder] = {}

    def assembly(self, name: str) -> str:
        assembly_key, device_key = new_key(), new_key()
        data = self.root / name
        create_data_dir(data, assembly_key.public, device_key, assembly_key)
        node = open_node(data)
        self.nodes[name] = node
        self.recorders[name] = Recorder(node)
        self.recorders[name].found(Profile(key_text(assembly_key.public), name, "", None))
        return key_text(assembly_key.public)

    def delegate(self, name: str, of: str) -> str:
        """A delegate's own device: a data directory holding only the delegate key."""
        key = new_key()
        data = self.root / name
        create_data_dir(data, self.nodes[of].assembly, key, None)
        self.nodes[name] = open_node(data)
        self.recorders[name] = Recorder(self.nodes[name])
        return key_text(key.public)

    def key(self, name: str) -> str:
        return key_text(self.nodes[name].assembly)

    def spread(self) -> None:
        names = sorted(self.nodes)
        for source in names:
            for target in names:
                if source != target:
                    carry(self.nodes[source], self.nodes[target])

    def found(self, by: str, name: str, members: list[str], threshold: str = "simple",
              qualified: str = "2/3", quorum: str = "0/1", deadline_days: int = 30,
              confederations: tuple[str, ...] = (), on: str = "2026-01-01",
              protected: tuple[str, ...] = ()) -> str:
        rules = Rules(name, threshold, qualified, quorum, deadline_days, protected)
        charter = new_charter(day(on), [self.key(m) for m in members], list(confederations), rules)
        return self.recorders[by].found_confederation(charter)

    def accept(self, who: str, charter: str, on: str = "2026-01-01") -> None:
        self.spread()
        self.recorders[who].accept_charter(charter, vote(on, 10, 0))

    def propose(self, who: str, charter: str, on: str, kind: str = "policy",
                subject: str | None = None, amendment: dict[str, Any] | None = None,
                title: str = "A proposal") -> str:
        body = ProposalBody(charter, ProposalKind(kind), subject, amendment)
        return self.recorders[who].propose(body, vote(on, 1, 0, title=title))

    def ratify(self, who: str, pid: str, on: str, votes_for: int, against: int,
               abstain: int = 0, elsewhere: bool = False) -> str:
        """The assembly's ratification. `elsewhere`: one the view will not count, which this
        daemon refuses (checked here) and another implementation wrote anyway."""
        self.spread()
        d = vote(on, votes_for, against, abstain)
        if not elsewhere:
            return self.recorders[who].ratify(pid, d)
        with pytest.raises(RecordError, match="would not count this ratification"):
            self.recorders[who].ratify(pid, d)
        return self.unchecked(who, d, RATIFICATION, pid)

    def unchecked(self, who: str, d: DecisionInput, kind: str, subject: str | None,
                  extra: Callable[[Transaction, str], None] | None = None) -> str:
        """A decision written without this daemon's checks, as another implementation might."""
        recorder = self.recorders[who]
        decision = Decision(new_record_id(), d.title, d.text, d.date, d.tally, d.quorum, d.dissent,
                            d.supersedes, kind, subject)

        def edit(tx: Transaction) -> None:
            write_decision(tx, decision)
            if extra is not None:
                extra(tx, decision.id)

        recorder.write(recorder.node.ledger_id, edit)
        return decision.id

    def mandate(self, who: str, delegate_key: str | None, council: str, term: tuple[str, str],
                instructions: tuple[tuple[str, str, str], ...] = (), on: str = "2026-01-01") -> str:
        return self.recorders[who].issue_mandate(
            vote(on, 5, 0), "Ana", delegate_key, council, day(term[0]), day(term[1]),
            tuple(Instruction(q, Position(p), Binding(b)) for q, p, b in instructions))

    def act(self, delegate: str, kind: str, on: str, proposal: str | None = None,
            position: str | None = None, indicative: bool = False, text: str = "",
            mandate: str | None = None) -> str:
        is_vote = kind == "vote"
        binding = (Binding.INDICATIVE if indicative else Binding.IMPERATIVE) if is_vote else None
        act = Act(new_record_id(), ActKind(kind), day(on), proposal,
                  Position(position) if position else None, binding, text)
        return self.recorders[delegate].delegate_act(mandate, act)

    def view(self, as_of: str, at: str | None = None, confederation: str | None = None) -> dict[str, Any]:
        if at is None:
            self.spread()
            at = sorted(self.nodes)[0]
        result: dict[str, Any] = json.loads(scratch_view(self.nodes[at].store, day(as_of), confederation))
        return result

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()


def proposal(view: dict[str, Any], pid: str) -> dict[str, Any]:
    for confederation in view["confederations"]:
        for p in confederation["proposals"]:
            if p["id"] == pid:
                return dict(p)
    raise AssertionError(f"proposal {pid} not in the view")


def members(view: dict[str, Any], charter: str) -> dict[str, str]:
    for confederation in view["confederations"]:
        if confederation["id"] == charter:
            return {m["member"]: m["state"] for m in confederation["members"]}
    raise AssertionError(f"confederation {charter} not in the view")


def north_and_south(root: Path, spread: bool = True) -> tuple[dict[str, str], Path, Path]:
    """Two assemblies' data directories under `root`, founded and closed for `pnyx` processes
    to use: their keys by name, and the directories of north and south. `spread`: each holds
    the other's ledger already."""
    world = World(root)
    keys = {name: world.assembly(name) for name in ("north", "south")}
    if spread:
        world.spread()
    world.close()
    return keys, root / "north", root / "south"
