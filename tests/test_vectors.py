"""Every vector in protocol-spec/vectors/ against the code, and the vectors against their generator.

A second implementation is written from protocol-spec/ and checked against these
files; this test makes sure the files say what this implementation does: keys and
signatures recompute, the valid history is accepted with the stated heads and
ledger, each invalid envelope is refused with its stated reason and leaves the
store as it was, each early envelope waits and is released, and regenerating
the files gives the same bytes.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import msgpack
import pytest
from pnyx.daemon.services.jsonable import to_jsonable
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor, IngestReport
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.changepack import unpack
from pnyx.federation.chunk import parse_change
from pnyx.federation.envelope import Envelope, decode_envelope, signing_input
from pnyx.federation.errors import Rejected
from pnyx.federation.keys import SigningKey, key_text, parse_key, verify_signature
from pnyx.federation.ledger import certificate_input, read_ledger, revocation_input

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vector_generator", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HISTORY = load("history.json")
INVALID = load("invalid.json")["vectors"]
PENDING = load("pending.json")["vectors"]
STEPS = [decode_envelope(bytes.fromhex(e["envelope"])) for e in HISTORY["envelopes"]]


class Node:
    """A fresh store in a real SQLite file, with the ingest pipeline over it."""

    def __init__(self, path: Path) -> None:
        self.store = Store(path / "pnyx.sqlite")
        self.docs = DocumentCache(self.store)
        self.ingestor = Ingestor(self.store, self.docs)

    def ingest(self, *envelopes: Envelope) -> IngestReport:
        return self.ingestor.ingest(envelopes)

    def heads(self) -> dict[str, list[str]]:
        return {doc: sorted(bytes(h).hex() for h in self.docs.get(doc).get_heads())
                for doc in self.store.documents()}

    def held(self) -> tuple[object, ...]:
        """Everything a refused envelope must leave as it was."""
        db = self.store.db
        return (self.heads(), db.execute("SELECT hash, change FROM changes ORDER BY seqno").fetchall(),
                db.execute("SELECT hash FROM pending ORDER BY hash").fetchall(),
                self.ledger())

    def ledger(self) -> Any:
        return to_jsonable(read_ledger(self.docs.get(HISTORY["ledger_doc_id"])))


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    n = Node(tmp_path)
    yield n
    n.store.close()


def test_keys_recompute() -> None:
    for entry in load("keys.json")["keys"]:
        key = SigningKey(bytes.fromhex(entry["seed"]))
        assert key.public.hex() == entry["public"], entry["name"]
        assert key_text(key.public) == entry["text"], entry["name"]
        assert parse_key(entry["text"]) == key.public


def test_signatures_recompute() -> None:
    vectors = load("signatures.json")
    seeds = {e["public"]: bytes.fromhex(e["seed"]) for e in load("keys.json")["keys"]}
    for c in vectors["change"]:
        message = signing_input(c["doc_id"], bytes.fromhex(c["change_hash"]))
        assert message.hex() == c["input"]
        assert SigningKey(seeds[c["signer"]]).sign(message).hex() == c["signature"]
    for c in vectors["certificate"]:
        message = certificate_input(bytes.fromhex(c["assembly"]), bytes.fromhex(c["device"]))
        assert message.hex() == c["input"]
        assert SigningKey(seeds[c["assembly"]]).sign(message).hex() == c["signature"]
    for r in vectors["revocation"]:
        message = revocation_input(bytes.fromhex(r["assembly"]), bytes.fromhex(r["device"]), r["cut"])
        assert message.hex() == r["input"]
        assert verify_signature(bytes.fromhex(r["assembly"]), bytes.fromhex(r["signature"]), message)
        assert SigningKey(seeds[r["assembly"]]).sign(message).hex() == r["signature"]


def test_valid_history_is_accepted_with_the_stated_heads_and_ledger(node: Node) -> None:
    for step, envelope in zip(HISTORY["envelopes"], STEPS, strict=True):
        report = node.ingest(envelope)
        assert (report.accepted, report.rejected, report.pending) == (1, [], 0), step["name"]
        assert node.heads() == step["heads_after"], step["name"]
    assert node.ledger() == HISTORY["ledger"]
    assert node.store.count_changes() == len(STEPS)


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_envelope_is_refused_and_changes_nothing(node: Node, vector: dict[str, Any]) -> None:
    node.ingest(*STEPS[:vector["after"]])
    before = node.held()
    try:
        envelope = decode_envelope(bytes.fromhex(vector["envelope"]))
    except Rejected as exc:
        reasons = [exc.reason.value]
    else:
        report = node.ingest(envelope)
        assert (report.accepted, report.pending) == (0, 0)
        reasons = [reason for reason, _ in report.rejected]
    assert reasons == [vector["reason"]]
    assert node.held() == before
    evidence = [(e[0], e[3]) for e in node.store.evidence()]
    # Equivocation: the change kept and the one refused are both kept as evidence.
    assert evidence == ([(HISTORY["ledger_doc_id"], "equivocation")] * 2
                        if vector["reason"] == "equivocation" else [])


@pytest.mark.parametrize("vector", PENDING, ids=[v["name"] for v in PENDING])
def test_early_envelope_waits_until_released(node: Node, vector: dict[str, Any]) -> None:
    node.ingest(*STEPS[:vector["after"]])
    before = node.heads()
    report = node.ingest(decode_envelope(bytes.fromhex(vector["envelope"])))
    assert (report.accepted, report.rejected, report.pending) == (0, [], 1)
    assert node.heads() == before
    assert [m.hex() for m in node.store.pending.missing()] == sorted(vector["waits_for"])
    names = [e["name"] for e in HISTORY["envelopes"]]
    report = node.ingest(STEPS[names.index(vector["released_by"])])
    assert (report.accepted, report.rejected, report.pending) == (2, [], 0)
    assert node.store.pending.count() == 0
    assert node.heads() == vector["heads_after_release"]


EVIDENCE = load("sync.json")["evidence"]


@pytest.mark.parametrize("case", ["vouched", "forged"])
def test_an_equivocation_refused_vouched_keeps_the_stated_evidence(node: Node, case: str) -> None:
    """sync.json `evidence`: the fork's first change is refused, kept with its voucher and
    chain; with the voucher forged, every change is refused and nothing is kept."""
    vector = EVIDENCE if case == "vouched" else EVIDENCE["forged"]
    node.ingest(*STEPS[:EVIDENCE["after"]])
    received = unpack(bytes.fromhex(vector["pack"]))
    report = node.ingest(*received)
    outcomes = [reason for reason, _ in report.rejected] + ["pending"] * report.pending
    outcomes += ["dropped"] * (len(received) - len(outcomes) - report.duplicate - report.deferred)
    assert sorted(outcomes) == sorted(vector["outcomes"]) and report.accepted == 0
    assert node.store.pending.count() == report.pending
    rows = node.store.db.execute("SELECT hash, reason, vouch, chain FROM evidence ORDER BY id")
    assert [{"hash": bytes(h).hex(), "reason": reason, "vouch": None if vouch is None else bytes(vouch).hex(),
             "chain": [parse_change(c).hash.hex() for c in msgpack.unpackb(chain or b"\x90")]}
            for h, reason, vouch, chain in rows] == vector["evidence"]
    if case == "vouched":
        assert [bool(e.signature) for e in unpack(bytes.fromhex(vector["pack"]))] == vector["signed"]
        voucher = node.store.voucher(bytes.fromhex(vector["evidence"][1]["vouch"]))
        assert voucher is not None and parse_change(voucher.change).hash.hex() == EVIDENCE["changes"][-1]


def test_regenerating_the_vectors_gives_identical_files() -> None:
    rendered = generator().render()
    for name, data in rendered.items():
        assert (VECTORS / name).read_bytes() == data, f"{name} is stale: run {VECTORS / 'generate.py'}"
    # generate_outcomes.py, generate_sortition.py, generate_ed25519.py, generate_writerules.py,
    # generate_records.py, generate_accountability.py
    others = {"outcomes.json", "sortition.json", "ed25519.json", "writerules.json", "records.json",
              "accountability.json"}
    assert sorted(rendered) == sorted(p.name for p in VECTORS.glob("*.json") if p.name not in others)


WRITERULES = load("writerules.json")["vectors"]


@pytest.mark.parametrize("vector", WRITERULES, ids=[v["name"] for v in WRITERULES])
def test_write_rule_vectors(node: Node, vector: dict[str, Any]) -> None:
    """One change that follows each write rule and schema row, and one that breaks it."""
    assert node.ingest(*STEPS[:vector["after"]]).rejected == []
    before = node.held()
    report = node.ingest(decode_envelope(bytes.fromhex(vector["envelope"])))
    if vector["valid"]:
        assert (report.accepted, report.rejected) == (1, []), report.rejected
        return
    assert [r for r, _ in report.rejected] == ["schema-violation"], report.rejected
    detail = report.rejected[0][1]
    assert f"rule {vector['rule']}" in detail or f"row {vector['rule']}" in detail, detail
    assert node.held() == before


def test_regenerating_the_write_rule_vectors_gives_identical_files() -> None:
    spec = importlib.util.spec_from_file_location("writerule_vectors", VECTORS / "generate_writerules.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (VECTORS / "writerules.json").read_bytes() == module.render()
