"""Dates in the ledger have one written form, so that every machine reads a ledger the same.

Python 3.11 and later also parse 20261120 or 2026-W47-5 as dates; 3.10 does not. A
record written with such a date by some other client must be skipped everywhere, not
shown on one machine and hidden on another."""

from __future__ import annotations

import pytest
from automerge.core import ROOT, Document
from pnyx.federation.amvalues import put_value
from pnyx.federation.ledger import parse_date, read_ledger


def decision_dated(date: str) -> dict[str, object]:
    return {"title": "Repair the well", "text": "", "date": date, "for": 9, "against": 0,
            "abstain": 1, "quorum": None, "dissent": "", "supersedes": None, "kind": "decision",
            "subject": None}


def test_a_decision_dated_in_another_iso_form_is_skipped_on_every_python() -> None:
    doc = Document()
    with doc.transaction() as tx:
        put_value(tx, ROOT, "decisions", {"aaaaaaaaaaaaaaaa": decision_dated("2026-11-20"),
                                          "bbbbbbbbbbbbbbbb": decision_dated("20261120"),
                                          "cccccccccccccccc": decision_dated("2026-W47-5")})
    assert list(read_ledger(doc).decisions) == ["aaaaaaaaaaaaaaaa"]


@pytest.mark.parametrize("text", ["20261120", "2026-W47-5", "2026-11-20T00:00", " 2026-11-20", "2026-02-30"])
def test_a_secretary_typing_another_form_is_told_the_one_form(text: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_date(text)
