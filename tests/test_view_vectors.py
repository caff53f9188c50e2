"""protocol-spec/vectors/view/: every set of records gives exactly the expected view bytes,
and regenerating the vectors from their generator changes nothing."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path

import pytest
from pnyx.federation.recordset import records_from
from pnyx.federation.view import render_view

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"
CASES = sorted(p.name.removesuffix(".json") for p in (VECTORS / "view").glob("*.json")
               if not p.name.endswith(".expected.json"))


def test_there_are_vectors_for_every_rule_the_issue_names() -> None:
    assert {"tally-97-23", "amendment-60", "amendment-70", "admission", "suspension", "non-member",
            "lapse", "delegates", "nested"} <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_vector_gives_the_expected_bytes(name: str) -> None:
    case = json.loads((VECTORS / "view" / f"{name}.json").read_text())
    expected = (VECTORS / "view" / f"{name}.expected.json").read_bytes()
    view = render_view(records_from(case["documents"]), dt.date.fromisoformat(case["as_of"]))
    assert view == expected
    # and in reverse document order, with the records put twice: still the same bytes
    records = records_from({})
    for doc_id in sorted(case["documents"], reverse=True):
        records.put(doc_id, case["documents"][doc_id])
        render_view(records, dt.date.fromisoformat(case["as_of"]))
    assert render_view(records, dt.date.fromisoformat(case["as_of"])) == expected


def test_tally_vector_sums_citizens() -> None:
    view = json.loads((VECTORS / "view" / "tally-97-23.expected.json").read_bytes())
    (p,) = view["confederations"][0]["proposals"]
    assert (p["outcome"], p["tally"]["for"], p["tally"]["against"]) == ("adopted", 97, 23)


def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("view_vectors", VECTORS / "generate_view.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data in module.files().items():
        assert (VECTORS / "view" / name).read_bytes() == data, name
