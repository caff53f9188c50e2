"""A command that opens no socket starts without importing aiohttp or zeroconf (about a
quarter of a second of CPU at every start): the server, gossip, sync and discovery are
imported by the commands that use them (daemon/cli/run.py, sync.py, discovery.py). Nor
does it import rich, unless it shows a progress bar (daemon/cli/progress.py), nor asyncio
or http.client (the client of a running daemon's API, daemon/services/submit.py and
presence.py, is imported once a daemon's presence file names a live process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pnyxproc import cli

LATE = ["aiohttp", "asyncio", "http", "rich", "zeroconf"]
# Runs one command in a fresh interpreter, as `pnyx` does, after importing the modules named
# before `--`; prints its exit code and which of LATE it left imported.
RUN = f"""
import importlib, json, sys
from pnyx.daemon.cli.main import main
cut = sys.argv.index("--")
for module in sys.argv[1:cut]:
    importlib.import_module(module)
code = main(sys.argv[cut + 1:])
print(json.dumps([code, sorted({{m.split(".")[0] for m in sys.modules}} & set({LATE!r}))]))
"""


def imported(data: Path, *command: str, first: tuple[str, ...] = ()) -> list[str]:
    result = subprocess.run([sys.executable, "-c", RUN, *first, "--", "--data", str(data), *command],
                            capture_output=True, text=True, timeout=120, check=True)
    code, found = json.loads(result.stdout.splitlines()[-1])
    assert code == 0, result.stderr
    return list(found)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "data"
    cli(path, "init", "--assembly", "Startup")
    return path


@pytest.mark.parametrize("command", [
    ("status",),
    ("show", "decisions"),
    ("view",),
    ("decide", "--title", "Kitchen opens", "--date", "2026-01-01", "--for", "5", "--against", "1",
     "--abstain", "0"),
    ("peers",),
    ("verify",),
], ids=lambda c: c[0])
def test_a_command_that_opens_no_socket_imports_neither_aiohttp_nor_zeroconf_nor_rich(
        data: Path, command: tuple[str, ...]) -> None:
    assert imported(data, *command) == []


def test_the_check_sees_what_the_server_and_a_progress_bar_import(data: Path) -> None:
    """What the check above looks for is there once the server and rich's bars are: it can fail."""
    assert imported(data, "status", first=("pnyx.daemon.http.server", "rich.progress")) == LATE
