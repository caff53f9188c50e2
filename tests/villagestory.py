"""The village's six months, written straight into data directories (tests/test_village_scenario.py,
bench/bundles.py).

Twelve assemblies in one confederation, each with its own data directory; the delegates
of two of them have their own devices. Records are written in-process through the
Recorder, as the CLI would (tests/confedkit.py); `converge` stands for the gossip of the
daemons that are online together. While the village is offline the others ratify, admit
a newcomer the village never met, issue mandates and decide; the village's delegate, at
the council, votes while the village, at home, recalls her; the village records its own
decisions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pnyx.federation.chunk import parse_change
from pnyx.federation.envelope import Envelope

from .confedkit import World, vote

ONLINE = [f"a{i:02d}" for i in range(1, 11)]  # ten founding members besides the village
ASSEMBLIES = ["village", *ONLINE, "newcomer"]
NEIGHBOUR = "a01"
MONTHS = ["02", "03", "04", "05", "06", "07"]


def converge(world: World, names: list[str]) -> None:
    """Every store in `names` gets what any of them holds (their gossip while online)."""
    union: dict[bytes, Envelope] = {}
    for source in names:
        for stored in world.nodes[source].store.envelopes():
            union.setdefault(parse_change(stored.envelope.change).hash, stored.envelope)
    for target in names:
        store = world.nodes[target].store
        report = world.nodes[target].ingestor.ingest(e for h, e in union.items() if not store.holds(h))
        assert not report.rejected and not report.parked, report


def six_months(root: Path) -> dict[str, Any]:
    """The confederation's story up to the village's return; returns ids the checks use."""
    w = World(root)
    for name in ASSEMBLIES:
        w.assembly(name)
    charter = w.found(NEIGHBOUR, "Valley confederation", ["village", *ONLINE], deadline_days=60)
    converge(w, ["village", *ONLINE])
    for name in ["village", *ONLINE]:
        w.recorders[name].accept_charter(charter, vote("2026-01-05", 10, 0))
    ana = w.delegate("ana", of="village")
    bo = w.delegate("bo", of="a02")
    ana_mandate = w.mandate("village", ana, charter, ("2026-01-10", "2026-12-31"), on="2026-01-10")
    w.mandate("a02", bo, charter, ("2026-01-10", "2026-12-31"), on="2026-01-10")
    everyone = [*ASSEMBLIES, "ana", "bo"]
    converge(w, everyone)
    # --- the village goes offline -----------------------------------------------------------
    online = [n for n in everyone if n != "village"]
    water = w.propose(NEIGHBOUR, charter, "2026-02-01", title="Shared water plan")
    admit = w.propose("a03", charter, "2026-02-02", kind="admit", subject=w.key("newcomer"))
    converge(w, online)
    # the village's delegate, at the council, votes while the village at home recalls her
    w.act("ana", "vote", "2026-02-10", proposal=water, position="for", indicative=True,
          mandate=ana_mandate)
    w.act("bo", "vote", "2026-02-10", proposal=water, position="against", indicative=True)
    recall = w.recorders["village"].recall_mandate(ana_mandate, vote("2026-02-05", 30, 4,
                                                                     title="Recall of Ana"))
    for i, name in enumerate(ONLINE):
        w.recorders[name].ratify(water, vote(f"2026-02-{12 + i}", 20 + i, 5))
        w.recorders[name].ratify(admit, vote(f"2026-02-{12 + i}", 15, i))
    converge(w, online)
    w.recorders["newcomer"].accept_charter(charter, vote("2026-03-01", 12, 0))
    converge(w, online)
    later = w.propose("newcomer", charter, "2026-04-05", title="Seed bank")  # admitted from 04-04
    converge(w, online)
    for month in MONTHS:
        for i, name in enumerate([*ONLINE, "newcomer"]):
            w.recorders[name].decide(vote(f"2026-{month}-{10 + i}", 10 + i, 2, title=f"{name} {month}"))
        w.recorders["village"].decide(vote(f"2026-{month}-20", 40, 3, title=f"village {month}",
                                           dissent="the mill first"))
    for name in ONLINE[:6]:
        w.recorders[name].ratify(later, vote("2026-04-06", 9, 1))
    w.mandate("a04", None, charter, ("2026-05-01", "2026-10-31"), on="2026-05-01")
    w.mandate("a05", None, charter, ("2026-06-01", "2026-11-30"), on="2026-06-01")
    converge(w, online)
    held = {n: w.nodes[n].store.count_changes() for n in everyone}
    w.close()
    return {"charter": charter, "water": water, "admit": admit, "recall": recall, "held": held,
            "ana_mandate": ana_mandate}
