"""protocol-spec/vectors/accountability.json: minority reopenings (RO1–RO3) and rotation (RT1–RT2)
recomputed from the decisions and mandates as written."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from pnyx.federation.bylaws import judge
from pnyx.federation.ledger import Ledger, Profile, read_decisions, read_mandates
from pnyx.federation.reopening import reopenings
from pnyx.federation.rotation import breaches

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"
CASES = json.loads((VECTORS / "accountability.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reopenings_and_rotation_recompute_from_the_records_as_written(case: dict[str, Any]) -> None:
    ledger = Ledger(Profile("", "", "", case["members"]), {}, read_decisions(case["decisions"]),
                    read_mandates(case["mandates"]))
    judged = judge(ledger)
    valid, ignored = reopenings(ledger, judged)
    assert {k: {"reopening": r.reopening, "by": r.by, "revote": r.revote}
            for k, r in valid.items()} == case["expected"]["reopened"]
    assert ignored == case["expected"]["ignored"]
    assert breaches(ledger, judged) == case["expected"]["rotation"]


def test_every_rule_is_shown_by_a_vector() -> None:
    reasons = " ".join(r for c in CASES for group in ("ignored", "rotation")
                       for r in c["expected"][group].values())
    for text in ("members asked; the bylaws require", "the dissenting side was", "could reopen it until",
                 "allow no reopening", "names no decision", "consecutive terms", "days held in"):
        assert text in reasons


def test_regenerating_the_accountability_vectors_changes_nothing(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("generate_accountability",
                                                  VECTORS / "generate_accountability.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(tmp_path)]) == 0
    assert (tmp_path / "accountability.json").read_bytes() == (VECTORS / "accountability.json").read_bytes()
