"""The running daemon against protocol-spec/openapi.yaml, with schemathesis.

Every operation but the event stream gets schema-valid requests (their answers
must match the document: status, content type, body), schema-violating and
hostile ones (they must get a 4xx, never a 5xx or a 2xx), requests without the
token, and methods the path does not take. The daemon serves one assembly of
a small confederation, so the view, proposals and mandates have content.
Afterwards every stored change must still verify.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.apikit import confederation, serve, token
from tests.pnyxproc import cli_json

SPEC = Path(__file__).resolve().parent.parent / "protocol-spec" / "openapi.yaml"
CONFIG = """
# A body valid by the schema may still break a ledger rule (a second recall, an
# unknown decision to supersede): 422 and nothing written. A body over the size
# limit gets 413 whatever it holds.
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "413", "422"]
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422"]

[[operations]]
include-path-regex = "^/proposals/"
parameters = {{ "path.assembly" = "{assembly}", "path.decision" = "{decision}" }}

[[operations]]
include-path-regex = "^/mandates/"
parameters = {{ "path.id" = "{mandate}", "path.mandate" = "{mandate}" }}

[[operations]]
include-path-regex = "^/confederations/"
parameters = {{ "path.id" = "{charter}", "path.confederation" = "{charter}" }}
"""


@pytest.mark.slow
def test_the_running_daemon_answers_as_its_openapi_document_says(tmp_path: Path) -> None:
    ids = confederation(tmp_path)
    assembly, _, decision = ids["proposal"].partition("/")
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(assembly=assembly, decision=decision, mandate=ids["mandate"],
                                    charter=ids["charter"]))
    data = tmp_path / "north"
    daemon = serve(data)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "--no-color",
             "run", str(SPEC), "--url", f"{daemon.url}/api/v1",
             "-H", f"Authorization: Bearer {token(data)}", "--checks", "all",
             "--exclude-path", "/events", "--phases", "examples,coverage,fuzzing",
             "--max-examples", "6", "--seed", "7", "--workers", "1",
             "--generation-database", "none", "--suppress-health-check", "all",
             "--output-truncate", "true"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    finally:
        daemon.stop()
    report = result.stdout[-6000:]
    assert result.returncode == 0, f"schemathesis found problems:\n{report}\n{result.stderr[-2000:]}"
    assert " passed" in report or "No issues found" in report, report
    audit = cli_json(data, "verify")
    assert audit["failed"] == 0 and audit["verified"] == audit["changes"]
