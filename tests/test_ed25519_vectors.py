"""Ed25519 verification vectors (protocol-spec/vectors/ed25519.json, identity.md "Verifying").

Each case is answered by the daemon's own verifier: an honest signature verifies, and
the signatures a lenient verifier would take (S not below L, small-order or
non-canonical keys and R) do not.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from pnyx.federation.keys import verify_signature

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"
CASES = json.loads((VECTORS / "ed25519.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_verifier_answers_as_the_vector_says(case: dict[str, object]) -> None:
    public, signature, message = (bytes.fromhex(str(case[k])) for k in ("public", "signature", "message"))
    assert verify_signature(public, signature, message) is case["valid"]


def test_only_the_honest_signature_verifies() -> None:
    assert [c["name"] for c in CASES if c["valid"]] == ["valid"]
    assert {"s-not-canonical", "identity-key-identity-r", "non-canonical-key", "non-canonical-r"} <= {
        c["name"] for c in CASES}


def test_regenerating_changes_nothing() -> None:
    spec = importlib.util.spec_from_file_location("ed25519_vectors", VECTORS / "generate_ed25519.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (VECTORS / "ed25519.json").read_text() == module.text()
