"""protocol-spec/vectors/records.json: normalized records derived again from the raw documents.

The view vectors start from records; these check the step before (view.md, "From raw
documents to records"): the saved ledger and mandate-log bytes are loaded, the records
derived by federation/confed.py, and compared with the file, and regenerating the
file from its generator gives the same bytes."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from automerge.core import Document
from pnyx.federation.confed import ledger_records, mandate_log_records
from pnyx.federation.keys import parse_key

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"
FILE = VECTORS / "records.json"
CASES = json.loads(FILE.read_text())


def load(hex_bytes: str) -> Document:
    return Document.load(bytes.fromhex(hex_bytes))


@pytest.mark.parametrize("case", CASES["ledgers"], ids=lambda c: c["name"])
def test_ledger_records_derive_from_the_saved_ledger(case: dict[str, Any]) -> None:
    assert ledger_records(parse_key(case["assembly"]), load(case["ledger"])) == case["record"]


@pytest.mark.parametrize("case", CASES["mandate_logs"], ids=lambda c: c["name"])
def test_mandate_log_records_derive_from_the_saved_documents(case: dict[str, Any]) -> None:
    record = mandate_log_records(parse_key(case["assembly"]), case["mandate"], load(case["log"]),
                                 load(case["ledger"]))
    assert record == case["record"]


def test_the_vectors_show_every_causal_flag() -> None:
    """Each combination the delegate rules tell apart appears at least once."""
    flags = {(a["saw_recall"], a["seen_by_recall"]) for c in CASES["mandate_logs"]
             for a in c["record"]["acts"].values()}
    assert flags == {(False, False), (False, True), (True, False)}


def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("records_generator", VECTORS / "generate_records.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path / "records.json")
    assert (tmp_path / "records.json").read_bytes() == FILE.read_bytes()
