"""protocol-spec/vectors/plan/: every set of records gives exactly the expected plan bytes, also
when the documents arrive in reverse order with a render between each (the incremental upkeep),
and regenerating the vectors from their generator changes nothing."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path

import pytest
from pnyx.federation.plan import render_plan
from pnyx.federation.recordset import RecordSet, records_from
from pnyx.federation.valueflows import plan_jsonld

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"
CASES = sorted(p.name.removesuffix(".json") for p in (VECTORS / "plan").glob("*.json")
               if not p.name.endswith(".expected.json"))


def load(name: str) -> tuple[dict[str, dict[str, object]], dt.date, bytes]:
    case = json.loads((VECTORS / "plan" / f"{name}.json").read_text())
    expected = (VECTORS / "plan" / f"{name}.expected.json").read_bytes()
    return case["documents"], dt.date.fromisoformat(case["as_of"]), expected


def test_there_are_vectors_for_each_rule() -> None:
    assert {"needs-offers", "revisions", "strangers", "commons", "village"} <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_vector_gives_the_expected_bytes(name: str) -> None:
    documents, as_of, expected = load(name)
    assert render_plan(records_from(documents), as_of) == expected
    records = RecordSet()
    for doc_id in sorted(documents, reverse=True):
        records.put(doc_id, documents[doc_id])
        render_plan(records, as_of)
    assert render_plan(records, as_of) == expected
    for doc_id in sorted(documents):  # a ledger put again unchanged: nothing moves
        records.put(doc_id, documents[doc_id])
    assert render_plan(records, as_of) == expected


def test_needs_offers_vector_says_what_the_spec_says() -> None:
    plan = json.loads(load("needs-offers")[2])
    (grain,) = plan["confederations"][0]["items"]
    assert [grain[k] for k in ("needed", "offered", "pledged", "delivered", "proposed", "uncovered",
                               "surplus")] == [450, 750, 120, 40, 130, 200, 500]
    assert [m["quantity"] for m in grain["proposal"]] == [100, 30]


def test_village_vector_says_how_old_its_news_is() -> None:
    members = json.loads(load("village")[2])["confederations"][0]["members"]
    assert [(m["state"], m["held"], m["newest"]) for m in members] == [
        ("member", True, "2027-02-01"), ("member", True, "2026-05-01"),
        ("awaiting-acceptance", False, None)]


def test_jsonld_names_things_as_valueflows_does() -> None:
    graph = plan_jsonld(json.loads(load("needs-offers")[2]))["@graph"]
    types = sorted({node["@type"] for node in graph})
    assert types == ["vf:Agreement", "vf:Commitment", "vf:EconomicEvent", "vf:Intent", "vf:Proposal"]
    receivers = [n for n in graph if n["@type"] == "vf:Intent" and "vf:receiver" in n]
    assert len(receivers) == 3  # the needs; the offers have providers
    ids = {n["@id"] for n in graph}
    for node in graph:  # every reference points into the graph
        for target in node.get("vf:satisfies", []):
            assert target["@id"] in ids
    commons = plan_jsonld(json.loads(load("commons")[2]))["@graph"]
    assert [n["@type"] for n in commons] == ["vf:EconomicResource"]


def test_regenerating_changes_nothing() -> None:
    spec = importlib.util.spec_from_file_location("plan_vectors", VECTORS / "generate_plan.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data in module.files().items():
        assert (VECTORS / "plan" / name).read_bytes() == data, name
