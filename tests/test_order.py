"""Two devices of one assembly record offline at the same time: every arrival order of
their signed changes gives every store the same ledger and the same document heads."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pnyx.daemon.services.records import Recorder
from pnyx.federation.envelope import Envelope
from pnyx.federation.ledger import Binding, Instruction, Ledger, Position, read_ledger

from .ledgerkit import Assembly, found_assembly, fresh_store, vote

OPS = ("decide", "supersede", "mandate", "recall-common", "recall-own", "new-run")


class OfflineDevice:
    """One device recording on its own copy of the ledger, remembering what it wrote."""

    def __init__(self, assembly: Assembly, name: str) -> None:
        self.node = assembly.home if name == "home" else assembly.devices[name]
        self.recorder = Recorder(self.node)
        self.after = self.node.store.last_seqno()
        self.decisions: list[str] = []
        self.mandates: list[str] = []

    def run(self, op: str, n: int, common: dict[str, str]) -> None:
        r = self.recorder
        if op == "new-run":
            self.recorder = Recorder(self.node)  # a restarted daemon: a fresh actor id
        elif op == "decide":
            self.decisions.append(r.decide(vote(f"decision {n}", day=n % 28 + 1)))
        elif op == "supersede" and common:
            self.decisions.append(r.decide(vote(f"revision {n}", supersedes=common["decision"])))
        elif op == "mandate":
            self.mandates.append(r.issue_mandate(
                vote(f"mandate {n}"), f"delegate {n}", None, "Water council",
                vote().date, vote(day=28).date,
                (Instruction("water plan", Position.FOR, Binding.IMPERATIVE),)))
        elif op == "recall-common" and common and not self.recalled(common["mandate"]):
            self.decisions.append(r.recall_mandate(common["mandate"], vote(f"recall {n}")))
        elif op == "recall-own" and self.mandates and not self.recalled(self.mandates[-1]):
            self.decisions.append(r.recall_mandate(self.mandates[-1], vote(f"recall {n}")))

    def recalled(self, mandate: str) -> bool:
        return self.recorder.ledger().mandates[mandate].recalled_by is not None

    def envelopes(self) -> list[Envelope]:
        return [s.envelope for s in self.node.store.envelopes(self.after)]


def offline_scenario(ops_home: list[str], ops_away: list[str], with_common: bool) -> tuple[
        list[Envelope], set[str], set[str]]:
    """All envelopes of a common ledger (with a decision and a mandate if `with_common`,
    else just founded) and of two devices' offline work, with the ids of the decisions
    recorded by `decide` (not those issuing mandates) and of the mandates."""
    assembly = found_assembly()
    home = assembly.recorder
    common: dict[str, str] = {}
    if with_common:
        common = {"decision": home.decide(vote("common decision")),
                  "mandate": home.issue_mandate(vote("common mandate"), "Ana", None, "Council",
                                                vote().date, vote(day=20).date, ())}
    assembly.add_device("away")
    devices = [OfflineDevice(assembly, "home"), OfflineDevice(assembly, "away")]
    for n, (device, op) in enumerate([(devices[0], op) for op in ops_home]
                                     + [(devices[1], op) for op in ops_away]):
        device.run(op, n, common)
    shared = assembly.envelopes()
    everything = shared + devices[1].envelopes()
    decisions = {d for dev in devices for d in dev.decisions}
    mandates = {m for dev in devices for m in dev.mandates}
    if common:
        decisions.add(common["decision"])
        mandates.add(common["mandate"])
    return everything, decisions, mandates


def assert_nothing_lost(ledger: Ledger, decisions: set[str], mandates: set[str]) -> None:
    """Every decision and mandate either device recorded is in the merged ledger."""
    assert set(ledger.mandates) == mandates
    issuing = {m.decision for m in ledger.mandates.values()}
    assert set(ledger.decisions) == decisions | issuing
    assert len(ledger.decisions) == len(decisions) + len(mandates)


def ingest_in_order(envelopes: list[Envelope]) -> tuple[Ledger, list[bytes]]:
    store, docs, ingestor = fresh_store()
    report = ingestor.ingest(envelopes)
    assert not report.rejected and report.pending == 0 and store.pending.count() == 0, report
    assert report.accepted == len(envelopes)
    doc = docs.get(envelopes[0].doc_id)
    return read_ledger(doc), sorted(doc.get_heads())


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[Envelope], set[str], set[str], list[int]]:
    ops = st.lists(st.sampled_from(OPS), min_size=1, max_size=5)
    envelopes, decisions, mandates = offline_scenario(draw(ops), draw(ops), draw(st.booleans()))
    order = draw(st.permutations(range(len(envelopes))))
    return envelopes, decisions, mandates, order


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_every_arrival_order_gives_the_same_ledger(
        scenario: tuple[list[Envelope], set[str], set[str], list[int]]) -> None:
    envelopes, decisions, mandates, order = scenario
    reference, reference_heads = ingest_in_order(envelopes)
    ledger, heads = ingest_in_order([envelopes[i] for i in order])
    assert ledger == reference
    assert heads == reference_heads
    assert_nothing_lost(ledger, decisions, mandates)
    recall_decisions = {d.subject: d.id for d in ledger.decisions.values() if d.kind == "recall"}
    for mandate_id, recall_id in recall_decisions.items():
        assert ledger.mandates[mandate_id].recalled_by is not None, recall_id


def test_concurrent_first_records_of_two_devices_both_survive() -> None:
    """The collections exist from the genesis: two devices that each record the first
    decision and mandate offline do not create two conflicting maps, one of them hidden."""
    envelopes, decisions, mandates = offline_scenario(["decide", "mandate"], ["decide", "mandate"],
                                                      with_common=False)
    ledger, _ = ingest_in_order(envelopes)
    assert len(decisions) == 2 and len(mandates) == 2
    assert_nothing_lost(ledger, decisions, mandates)
