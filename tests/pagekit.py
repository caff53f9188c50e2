"""A week in the life of three assemblies, for the web page's tests and screenshots.

Barrio Norte, Barrio Sur and Villa Este found the Valley council; Norte sends
Ana (whose own device holds her delegate key) and Bruno. Proposals are open,
adopted and awaiting Norte's ratification; Ana's acts are within her mandate,
indicative, and beyond it. Dates count back from today, so open proposals stay
open whatever day the tests run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from pnyx.daemon.services.economy import Economy
from pnyx.daemon.services.records import Recorder, new_record_id
from pnyx.daemon.store.node import create_data_dir, new_key, open_node
from pnyx.federation.charter import Rules, new_charter
from pnyx.federation.confed import Act, ActKind
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import Binding, Instruction, Position, Profile

from tests.confedkit import World, vote

NORTE, SUR, ESTE, ANA = "Barrio Norte", "Barrio Sur", "Villa Este", "Ana"
COUNCIL = "Valley council"
PRINCIPLES = ("Water is a commons", "No member is suspended without a hearing")


def ago(days: int) -> str:
    return (dt.date.today() - dt.timedelta(days=days)).isoformat()


@dataclass(frozen=True)
class Week:
    root: Path
    charter: str
    water: str  # open, Norte and Sur voted, Este pending
    roads: str  # open, Norte has not voted: Ana's indicative vote
    seeds: str  # adopted by all three
    ana_key: str
    ana_mandate: str
    bruno_mandate: str

    def data(self, name: str) -> Path:
        return self.root / name


def week(root: Path) -> Week:
    """Write the week into data directories under `root` (named NORTE, SUR, ESTE, ANA)."""
    world = World(root)
    try:
        for name, place, members in ((NORTE, "Plaza 3", 120), (SUR, "Old school", 60),
                                     (ESTE, "Church hall", 45)):
            assembly_key = new_key()
            create_data_dir(root / name, assembly_key.public, new_key(), assembly_key)
            world.nodes[name] = open_node(root / name)
            world.recorders[name] = Recorder(world.nodes[name])
            world.recorders[name].found(Profile(key_text(assembly_key.public), name, place, members))
        ana_key = world.delegate(ANA, NORTE)
        rules = Rules(COUNCIL, "simple", "2/3", "1/2", 60, PRINCIPLES)
        charter = world.recorders[NORTE].found_confederation(new_charter(
            dt.date.fromisoformat(ago(90)), [world.key(n) for n in (NORTE, SUR, ESTE)], [], rules))
        for name in (NORTE, SUR, ESTE):
            world.accept(name, charter, on=ago(88))
        norte = world.recorders[NORTE]
        norte.decide(vote(ago(20), 80, 12, 5, title="Community kitchen",
                          dissent="Prefer Sundays: the market fills Mondays"))
        norte.decide(vote(ago(13), 10, 30, 2, title="Night market on the plaza every Friday "
                          "from April to October, with stalls run by the neighbourhood's cooperatives"))
        ana_mandate = norte.issue_mandate(
            vote(ago(30), 70, 3, 2, title="Mandate for Ana"), "Ana", ana_key, charter,
            dt.date.fromisoformat(ago(30)), dt.date.fromisoformat(ago(-300)),
            (Instruction("Shared water plan", Position.FOR, Binding.IMPERATIVE),))
        bruno_mandate = norte.issue_mandate(
            vote(ago(30), 60, 10, 2, title="Mandate for Bruno"), "Bruno", None, COUNCIL,
            dt.date.fromisoformat(ago(30)), dt.date.fromisoformat(ago(-300)), ())
        norte.recall_mandate(bruno_mandate, vote(ago(6), 50, 20, 1, title="Recall of Bruno"))
        seeds = world.propose(SUR, charter, ago(50), title="Seed library")
        for name, tally in ((NORTE, (40, 10, 2)), (SUR, (33, 4, 0)), (ESTE, (20, 9, 1))):
            world.ratify(name, seeds, ago(45), *tally)
        water = world.propose(NORTE, charter, ago(5), title="Shared water plan")
        world.spread()
        norte.ratify(water, vote(ago(4), 90, 22, 4, dissent="Too costly this year"))
        world.recorders[SUR].ratify(water, vote(ago(3), 30, 25, 1, dissent="Wait for the spring"))
        roads = world.propose(SUR, charter, ago(3), title="Road repairs before winter")
        world.spread()
        ana = world.recorders[ANA]
        for kind, proposal, position, binding, text in (
                (ActKind.VOTE, water, Position.FOR, Binding.IMPERATIVE, ""),
                (ActKind.VOTE, roads, Position.FOR, Binding.INDICATIVE, ""),
                (ActKind.SIGN, None, None, None, "joint-letter-7"),
                (ActKind.REPORT, None, None, None, "The council met; water plan tabled")):
            ana.delegate_act(ana_mandate, Act(new_record_id(), kind, dt.date.fromisoformat(ago(2)),
                                              proposal, position, binding, text))
        Economy(norte).record("needs", {"confederation": charter, "item": "seed potatoes", "quantity": 300,
                                        "unit": "kg", "by": ago(-90), "priority": "high"})
        Economy(world.recorders[ESTE]).record("offers", {
            "confederation": charter, "item": "seed potatoes", "quantity": 120, "unit": "kg",
            "from": ago(1), "until": ago(-120), "conditions": "bring sacks"})
        world.spread()
        return Week(root, charter, water, roads, seeds, ana_key, ana_mandate, bruno_mandate)
    finally:
        world.close()

