"""The README's pnyx.client example, run as written against a daemon of a confederation member."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apikit import confederation, serve

README = Path(__file__).resolve().parent.parent / "README.md"


def example() -> str:
    found = re.search(r"<!-- client-example -->\n```python\n(.*?)```", README.read_text(), re.S)
    assert found is not None, "README lost its client example"
    return found.group(1)


@pytest.mark.slow
def test_readme_example_ratifies_and_waits_for_the_confederal_outcome(tmp_path: Path) -> None:
    ids = confederation(tmp_path, on=dt.datetime.now(dt.timezone.utc).date())  # north: 30/5; south not yet
    script = tmp_path / "example.py"
    script.write_text(example())
    daemon = serve(tmp_path / "south")
    try:
        result = subprocess.run([sys.executable, str(script), str(tmp_path / "south"), ids["proposal"]],
                                capture_output=True, text=True, timeout=120)
    finally:
        daemon.stop()
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("recorded ") and lines[0].endswith(": Ratification of Shared water plan")
    assert lines[1] == "adopted: 110 for, 17 against, 5 abstain"
    assert sorted(lines[2:]) == sorted([f"  {ids['north']}: 30/5/0", f"  {ids['south']}: 80/12/5"])
