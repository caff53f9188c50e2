"""The write-rule table agrees with what the writers write and with the spec that lists it."""

from __future__ import annotations

from pathlib import Path

from pnyx.federation.economy import FIELDS
from pnyx.federation.writerules import TABLE, match

SPEC = Path(__file__).resolve().parent.parent / "protocol-spec"


def test_every_economy_record_row_names_exactly_the_fields_the_economy_writes() -> None:
    for collection, fields in FIELDS.items():
        (record_row,) = [r for r in TABLE if r.path == (collection, "{record}")]
        assert {p[0] for p in record_row.fields} == set(fields), collection


def test_every_row_is_in_the_spec() -> None:
    spec = (SPEC / "ledger.md").read_text() + (SPEC / "charter.md").read_text()
    for r in TABLE:
        assert f"| {r.rule} |" in spec, r.rule


def test_a_record_row_wins_over_its_collection() -> None:
    found = match(TABLE[0].doc, ("devices", "a" * 52, "certificate"))
    assert found is not None and found[0].rule == "L3" and found[2] == {"bytes"}
