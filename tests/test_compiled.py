"""Under `make test`, federation's hot decoding modules run compiled by mypyc (pnyx.compiled)
from exactly the sources beside them, so a silent fall back to pure Python fails here; a
source edited since the build runs as source, never as stale compiled code; and the same
sources run as pure Python pass the decoding tests too, so both ways are tried."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import FunctionType, ModuleType

import automerge.core as am
import pytest
from pnyx.compiled import MODULES, PACKAGE_DIR, federation_path, stale, why_pure
from pnyx.federation.changepack import Link
from pnyx.federation.chunk import ParsedChange, parse_change
from pnyx.federation.docids import ledger_id, parse_doc_id
from pnyx.federation.envelope import Envelope, VerifiedChange, Voucher
from pnyx.federation.frozen import Frozen
from pnyx.federation.ledger import Decision, Tally

from tests.examples import SHARE_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "federation"
# The tests of what the compiled modules do, run again on their source.
DECODING_TESTS = ("tests/test_chunk.py", "tests/test_ops.py", "tests/test_fast_paths.py",
                  "tests/test_writerules.py", "tests/test_vectors.py", "tests/test_indexrows.py",
                  "tests/test_whole_records.py")


def own_functions(module: ModuleType) -> list[object]:
    """The functions a module defines; for one that defines only classes (federation/frozen.py),
    its classes' methods."""
    own = [value for value in vars(module).values()
           if getattr(value, "__module__", None) == module.__name__ and callable(value)]
    functions = [value for value in own if not isinstance(value, type)]
    return functions or [method for cls in own for method in vars(cls).values()
                         if callable(method) and not isinstance(method, type)]


def test_the_compiled_modules_are_the_ones_loaded() -> None:
    """Judged by what runs: a compiled module's functions are C functions, not Python ones.
    (Not by `__file__`: mypyc names a module imported by another of its group as if the
    group's library sat above the package, which build/compiled/ does not.)"""
    reason = why_pure(SOURCES)
    if reason is not None:
        pytest.fail(f"federation's decoding modules run as pure Python: {reason}", pytrace=False)
    for name in MODULES:
        functions = own_functions(importlib.import_module(f"pnyx.federation.{name}"))
        assert functions and not any(isinstance(f, FunctionType) for f in functions), name
    assert "pnyx.federation.native__mypyc" in sys.modules  # the group's library, beside them
    pure = own_functions(importlib.import_module("pnyx.federation.view"))  # never compiled
    assert pure and all(isinstance(f, FunctionType) for f in pure)


def test_a_source_edited_since_the_build_runs_as_source(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PNYX_PURE", raising=False)
    copy = tmp_path / "federation"
    shutil.copytree(SOURCES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert stale(copy) is None and federation_path([str(copy)]) == [str(PACKAGE_DIR), str(copy)]
    ops = copy / "ops.py"
    ops.write_text(ops.read_text().replace("MAX_OPS", "MAX_OPS + 1", 1))
    assert stale(copy) == "federation/ changed since they were compiled (`make compiled` compiles them again)"
    assert federation_path([str(copy)]) == [str(copy)]
    assert stale(copy, tmp_path / "no-stamp") == "they are not compiled (`make compiled` compiles them)"


@pytest.mark.slow
def test_the_decoding_tests_pass_on_the_pure_source() -> None:
    """With a fifth of each fuzzer's examples (tests/examples.py): all of them ran compiled."""
    env = {**os.environ, "PNYX_PURE": "1", SHARE_VARIABLE: "0.2"}
    loaded = subprocess.run([sys.executable, "-c", "from pnyx.federation import ops; print(ops.__file__)"],
                            env=env, capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.strip() == str(SOURCES / "ops.py")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *DECODING_TESTS],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def hot_records() -> tuple[ParsedChange, Envelope, VerifiedChange, Link]:
    """One of each record federation/frozen.py serves, built as ingest builds them."""
    doc = am.Document(bytes(range(40)))
    with doc.transaction() as tx:
        tx.put(am.ROOT, "title", am.ScalarType.Str, "assembly")
    doc_id, raw = ledger_id(bytes(range(32))), bytes(doc.get_changes([])[0].raw_bytes)
    change = parse_change(raw)
    envelope = Envelope(doc_id, raw, change.actor[:32], b"")
    return (change, envelope, VerifiedChange(envelope, parse_doc_id(doc_id), change),
            Link(change.actor, False, [0]))


def test_the_hot_records_compare_and_show_by_their_fields() -> None:
    """What their frozen dataclasses did: equal when their FIELDS are, whatever else they hold
    (a voucher, the columns), hashed alike, shown by their fields."""
    first, second = hot_records(), hot_records()
    assert first == second and first is not second
    change, envelope, verified, _ = first
    assert hash(change) == hash(second[0]) and hash(envelope) == hash(second[1])
    assert len({change, second[0], envelope, verified}) == 3
    assert Envelope(envelope.doc_id, envelope.change, envelope.signer, b"", Voucher(envelope)) == envelope
    assert Envelope(envelope.doc_id, envelope.change, envelope.signer, bytes(64)) != envelope
    assert repr(envelope).startswith(f"Envelope(doc_id={envelope.doc_id!r}, change=b")
    assert "voucher" not in repr(envelope) and "columns" not in repr(change)


def test_the_compiled_hot_records_refuse_assignment() -> None:
    """Compiled, a Final attribute is read-only (mypy refuses the assignment in the source)."""
    if why_pure(SOURCES) is not None:
        pytest.fail("federation's modules run as pure Python", pytrace=False)
    records: tuple[Frozen, ...] = hot_records()
    for record in records:
        name = record.FIELDS[0]
        with pytest.raises(AttributeError):
            setattr(record, name, getattr(record, name))


def test_tally_and_decision_built_by_their_own_init_stay_their_frozen_dataclasses() -> None:
    """Their __init__ is written out (compiled, it stores each field directly): it takes each
    field by position and by name, in the dataclass's order, with the dataclass's defaults;
    the records stay frozen, compare and copy by their fields, and a negative tally is refused."""
    tally = Tally(3, 1, 0)
    decision = Decision("d-1", "title", "text", dt.date(2026, 11, 20), tally, 7, "dissent", "d-0",
                        "bylaws", "m-1", {"quorum": 3}, {"seats": 2}, {"claim": "x"}, "d-2")
    values = [getattr(decision, f.name) for f in dataclasses.fields(Decision)]
    assert values == ["d-1", "title", "text", dt.date(2026, 11, 20), tally, 7, "dissent", "d-0",
                      "bylaws", "m-1", {"quorum": 3}, {"seats": 2}, {"claim": "x"}, "d-2"]
    assert Decision(**{f.name: getattr(decision, f.name) for f in dataclasses.fields(Decision)}) == decision
    assert dataclasses.replace(decision, title="other").title == "other"
    required = [f for f in dataclasses.fields(Decision) if f.default is dataclasses.MISSING]
    bare = Decision(*[getattr(decision, f.name) for f in required])
    assert all(getattr(bare, f.name) == f.default for f in dataclasses.fields(Decision)
               if f not in required)
    assert [getattr(tally, f.name) for f in dataclasses.fields(Tally)] == [3, 1, 0]
    assert Tally(votes_for=3, against=1, abstain=0) == tally and hash(tally) == hash(Tally(3, 1, 0))
    for bad in ((-1, 0, 0), (0, -1, 0), (0, 0, -1)):
        with pytest.raises(ValueError, match="negative"):
            Tally(*bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.title = "changed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tally.against = 2  # type: ignore[misc]
