"""protocol-spec/vectors/outcomes.json: every decision's outcome under the bylaws in force."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from pnyx.federation.bylaws import judge
from pnyx.federation.ledger import Ledger, Profile, read_decisions

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"
CASES = json.loads((VECTORS / "outcomes.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_outcomes_recompute_from_the_decisions_as_written(case: dict[str, Any]) -> None:
    judged = judge(Ledger(Profile("", "", "", case["members"]), {}, read_decisions(case["decisions"]), {}))
    verdicts = {k: {"outcome": v.outcome.value, "reason": v.reason, "bylaws": v.bylaws}
                for k, v in judged.verdicts.items()}
    assert verdicts == case["expected"]["verdicts"]
    assert [b.plain() for _, _, b in judged.history] == [b["in_force"] for b in case["expected"]["bylaws"]]
    assert judged.ill_formed == case["expected"]["ill_formed"]


def test_regenerating_the_outcome_vectors_changes_nothing(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("generate_outcomes", VECTORS / "generate_outcomes.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(tmp_path)]) == 0
    assert (tmp_path / "outcomes.json").read_bytes() == (VECTORS / "outcomes.json").read_bytes()
