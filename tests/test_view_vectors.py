"""protocol-spec/vectors/view/: every set of records gives exactly the expected view bytes,
and regenerating the vectors from their generator changes nothing."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pnyx.federation.recordset import records_from
from pnyx.federation.view import render_view

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"
CASES = sorted(p.name.removesuffix(".json") for p in (VECTORS / "view").glob("*.json")
               if not p.name.endswith(".expected.json"))


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


def rendered(name: str) -> Any:
    """The view the code computes from vector `name`'s records (not its expected file)."""
    case = json.loads((VECTORS / "view" / f"{name}.json").read_text())
    return json.loads(render_view(records_from(case["documents"]), dt.date.fromisoformat(case["as_of"])))


def proposals(view: Any, kind: str | None = None) -> list[Any]:
    return [p for c in view["confederations"] for p in c["proposals"] if kind in (None, p["kind"])]


def members(view: Any) -> dict[str, Any]:
    return {m["name"]: m for c in view["confederations"] for m in c["members"]}


def sums_citizens(view: Any) -> bool:
    (p,) = proposals(view)
    rows = p["breakdown"]
    return (p["outcome"], p["tally"]["for"], p["tally"]["against"]) == ("adopted", 97, 23) and \
        (sum(r["for"] for r in rows), sum(r["against"] for r in rows)) == (97, 23) and len(rows) == 3


def ignored_because(view: Any, reason: str) -> bool:
    return any(reason in i["reason"] for p in proposals(view) for i in p["ignored"])


def delegate_classes(view: Any) -> set[str]:
    return {act["class"] for m in view["mandates"] for act in m["acts"]}


# Each rule the view must apply, and the vector that exercises it, checked on the computed view.
RULES: dict[str, Callable[[Any], bool]] = {
    "tally-97-23": sums_citizens,  # citizens are summed, not assemblies counted
    "amendment-60": lambda v: [p["outcome"] for p in proposals(v, "amend")] == ["rejected"],  # < 2/3
    "amendment-70": lambda v: [p["outcome"] for p in proposals(v, "amend")] == ["adopted"],
    "admission": lambda v: members(v)["D"]["state"] == "member"
    and [e["kind"] for e in members(v)["D"]["events"]] == ["admit"]
    and any(p["members"] == 4 for p in proposals(v)),
    "suspension": lambda v: members(v)["C"]["state"] == "suspended"
    and ignored_because(v, "suspended"),
    "non-member": lambda v: ignored_because(v, "not-a-member"),
    "lapse": lambda v: [p["outcome"] for p in proposals(v)] == ["lapsed"]
    and ignored_because(v, "after the deadline"),
    "delegates": lambda v: {"within-mandate", "exceeds-mandate", "void", "disputed"} <= delegate_classes(v),
    "nested": lambda v: any(r["via"] for p in proposals(v) for r in p["breakdown"])
    and members(v)["South"]["kind"] != "assembly",
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_each_rule_is_applied_in_its_vector(name: str) -> None:
    assert name in CASES
    assert RULES[name](rendered(name)), json.dumps(rendered(name), indent=1)[:3000]


def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("view_vectors", VECTORS / "generate_view.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, data in module.files().items():
        assert (VECTORS / "view" / name).read_bytes() == data, name
