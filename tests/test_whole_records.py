"""Write rule W10: a change that makes a record makes it whole (protocol-spec/ledger.md
"Records are made whole"). A record missing what its readers need is refused where it is
written and wherever it is received, so no daemon stores or relays what every reader skips."""

from __future__ import annotations

from pathlib import Path

import pytest
from pnyx.federation.amvalues import ensure_map, put_value
from pnyx.federation.docids import DocKind
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.ledger import read_ledger
from pnyx.federation.wholerecords import BY_KIND, CHARTER_ROOT, REQUIRED
from pnyx.federation.writerules import TABLE, match

from tests.ledgerkit import author_on, found_assembly, founded, lift_write_rules, memory_node, new_key, vote
from tests.pnyxproc import cli

TITLE_ONLY = "aaaaaaaaaaaaaaaa"


def title_only(tx: object) -> None:
    put_value(tx, ensure_map(tx, "decisions"), TITLE_ONLY, {"title": "Title only"})  # type: ignore[arg-type]


def test_a_local_write_lacking_a_field_is_refused_naming_it_and_nothing_is_stored() -> None:
    assembly = found_assembly()
    held = len(assembly.envelopes())
    with pytest.raises(Rejected) as refused:
        assembly.recorder.write(assembly.doc_id, title_only)
    assert refused.value.reason is Reason.SCHEMA_VIOLATION
    detail = str(refused.value)
    assert "rule W10" in detail and f"decisions/{TITLE_ONLY}" in detail, detail
    assert "lacks abstain, against, date, for, kind, text" in detail, detail
    assert len(assembly.envelopes()) == held
    # the cached document was let go: the next honest write is stored and read
    decision_id = assembly.recorder.decide(vote("After the refusal"))
    ledger = read_ledger(assembly.home.docs.get(assembly.doc_id))
    assert list(ledger.decisions) == [decision_id]


def test_a_received_title_only_decision_is_refused_and_a_whole_one_accepted() -> None:
    assembly = found_assembly()
    receiver = memory_node(assembly.key.public, new_key())
    assert not receiver.ingestor.ingest(assembly.envelopes()).rejected
    forger, author = (author_on(assembly.home, assembly.key, nonce=n) for n in (1, 2))
    bad = forger.sign(forger.change(title_only))
    report = receiver.ingestor.ingest([bad])
    [(reason, detail)] = report.rejected
    assert reason == "schema-violation" and "rule W10 (row L5)" in detail and "lacks" in detail
    assert report.accepted == 0 and len(assembly.envelopes(receiver)) == len(assembly.envelopes())
    assert receiver.ingestor.ingest([author.decide("Whole")]).accepted == 1


def test_pnyx_verify_names_a_stored_record_that_lacks_a_field(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that took a title-only decision (an older daemon's; here: the write rules
    lifted) fails `pnyx verify`, which judges it by the same rule and names the record."""
    data = tmp_path / "a"
    with founded(data, "Barrio Norte") as recorder:
        node = recorder.node
        assert node.assembly_key is not None
        forger = author_on(node, node.assembly_key, nonce=3)
        with monkeypatch.context() as lifted:
            lift_write_rules(lifted)
            assert node.ingestor.ingest([forger.sign(forger.change(title_only))]).accepted == 1
    checked = cli(data, "verify", check=False)
    assert checked.returncode == 1, checked
    assert "1 failed" in checked.stdout and f"decisions/{TITLE_ONLY} (a decision) lacks" in checked.stdout, \
        checked.stdout


@pytest.mark.parametrize("rule", sorted({*REQUIRED, *BY_KIND}))
def test_every_map_w10_requires_fields_of_is_a_map_its_row_names(rule: str) -> None:
    """A rule, a path or a field misspelt in wholerecords.py would silently require nothing."""
    (row,) = [r for r in TABLE if r.rule == rule]
    record = tuple(TITLE_ONLY if segment == "{record}" else segment for segment in row.path)
    wanted = dict(REQUIRED.get(rule, {}))
    wanted[()] = wanted.get((), frozenset()).union(*BY_KIND.get(rule, {}).values())
    for rel, keys in wanted.items():
        found = match(row.doc, (*record, *rel))
        assert found is not None and found[0] is row and "map" in found[2], (rule, rel)
        for key in keys:
            field = match(row.doc, (*record, *rel, key))
            assert field is not None and field[0] is row and field[2], (rule, rel, key)


def test_a_charter_root_requires_only_rows_of_the_charter() -> None:
    assert CHARTER_ROOT.issubset(r.path[0] for r in TABLE if r.doc is DocKind.CHARTER)
