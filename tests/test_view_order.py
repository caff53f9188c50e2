"""The view depends on the set of records, never on their arrival order or on who held what first.

One confederal history is written once, through real Recorders (a charter,
acceptances, an admission, an amendment, ratifications, a nested council, a
delegate's acts and a recall concurrent with one of them). Hypothesis then
deals its signed envelopes out to several daemons in any order and any split;
each daemon's incrementally kept view must equal its own recomputation from
scratch at every step, and once every daemon holds everything their views are
byte-identical to the reference.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.daemon.store.viewindex import ViewIndex, scratch_view
from pnyx.federation.envelope import Envelope

from tests.confedkit import World, vote

AS_OF = dt.date(2026, 3, 1)


def write_history(root: Path) -> list[Envelope]:
    world = World(root)
    try:
        for name in "ABCDE":
            world.assembly(name)
        valley = world.found("A", "Valley", ["A", "B", "C"], quorum="1/2", deadline_days=20)
        hills = world.found("D", "Hills", ["D"])
        for name, charter in (("A", valley), ("B", valley), ("C", valley), ("D", hills)):
            world.accept(name, charter)
        join = world.propose("D", hills, "2026-01-02", kind="join", subject=valley)
        world.ratify("D", join, "2026-01-02", 4, 0)
        admit = world.propose("A", valley, "2026-01-05", kind="admit", subject=hills)
        amend = world.propose("B", valley, "2026-01-05", kind="amend", amendment={"deadline_days": 40})
        for name, votes in (("A", (70, 30)), ("B", (7, 3)), ("C", (2, 8))):
            world.ratify(name, admit, "2026-01-06", *votes)
            world.ratify(name, amend, "2026-01-06", *votes)
        policy = world.propose("C", valley, "2026-02-01", title="Seed bank")
        for name, votes in (("A", (90, 10)), ("B", (4, 6)), ("D", (3, 7))):
            world.ratify(name, policy, "2026-02-03", *votes)
        world.ratify("E", policy, "2026-02-03", 100, 0, elsewhere=True)  # not a member: ignored
        ana = world.delegate("ana", of="C")
        mandate = world.mandate("C", ana, valley, ("2026-01-10", "2026-03-30"),
                                (("Seed bank", "for", "imperative"),))
        world.spread()
        world.act("ana", "vote", "2026-02-02", proposal=policy, position="for")
        world.spread()
        world.act("ana", "report", "2026-02-04", text="the council met")
        world.recorders["C"].recall_mandate(mandate, vote("2026-02-04", 20, 3))
        world.spread()
        return [s.envelope for s in world.nodes["A"].store.envelopes()]
    finally:
        world.close()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Envelope], bytes]:
    envelopes = write_history(tmp_path_factory.mktemp("history"))
    store = Store(":memory:")
    try:
        Ingestor(store, DocumentCache(store)).ingest(envelopes)
        return envelopes, scratch_view(store, AS_OF)
    finally:
        store.close()


def test_reference_view_has_every_kind_of_record(history: tuple[list[Envelope], bytes]) -> None:
    import json

    view = json.loads(history[1])
    outcomes = sorted(p["outcome"] for c in view["confederations"] for p in c["proposals"])
    assert outcomes == ["adopted", "adopted", "adopted", "rejected"]  # the amendment: 79 to 41
    classes = sorted(a["class"] for m in view["mandates"] for a in m["acts"])
    assert classes == ["disputed", "within-mandate"]


class Daemon:
    def __init__(self) -> None:
        self.store = Store(":memory:")
        self.docs = DocumentCache(self.store)
        self.ingestor = Ingestor(self.store, self.docs)
        self.index = ViewIndex(self.store, self.docs)

    def receive(self, envelopes: list[Envelope]) -> None:
        self.ingestor.ingest(envelopes)
        assert self.index.render(AS_OF) == scratch_view(self.store, AS_OF)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_order_and_split_gives_the_same_view(history: tuple[list[Envelope], bytes],
                                                 data: st.DataObject) -> None:
    envelopes, reference = history
    count = data.draw(st.integers(min_value=1, max_value=3), label="daemons")
    order = data.draw(st.permutations(range(len(envelopes))), label="arrival order")
    owner = data.draw(st.lists(st.integers(0, count - 1), min_size=len(envelopes),
                               max_size=len(envelopes)), label="first holder")
    daemons = [Daemon() for _ in range(count)]
    try:
        for index, daemon in enumerate(daemons):
            mine = [envelopes[i] for i in order if owner[i] == index]
            half = len(mine) // 2
            daemon.receive(mine[:half])
            daemon.receive(mine[half:])
        for daemon in daemons:
            daemon.receive([envelopes[i] for i in reversed(order)])
            assert daemon.index.render(AS_OF) == reference
    finally:
        for daemon in daemons:
            daemon.store.close()
