"""`make test` installs the programs its tests need (tests/system-packages.txt) where the
machine allows it (root with apt-get), and elsewhere stops at once with the command to run
(README, "Two commands"). The script runs with stand-ins for `id` and `apt-get` first on
its PATH, so that both cases are tried on any machine and nothing is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.systemtools import LIST, packages, require

SCRIPT = LIST.with_name("system-packages.sh")


def run(tmp_path: Path, uid: int, listing: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """The script on `listing` as user `uid`; its result and the apt-get calls it made."""
    tests, fake = tmp_path / "tests", tmp_path / "bin"
    tests.mkdir()
    fake.mkdir()
    shutil.copy(SCRIPT, tests / SCRIPT.name)
    (tests / LIST.name).write_text(listing)
    calls = tmp_path / "apt-get.calls"
    for name, body in {"id": f'echo {uid}', "apt-get": f'echo "$*" >> {calls}'}.items():
        (fake / name).write_text(f"#!/bin/sh\n{body}\n")
        (fake / name).chmod(0o755)
    result = subprocess.run(["bash", str(tests / SCRIPT.name)], capture_output=True, text=True, timeout=60,
                            env={"PATH": f"{fake}:/usr/bin:/bin"})
    return result, calls.read_text().splitlines() if calls.exists() else []


LISTING = "# a comment\nsh  dash  present\npnyx-no-such-program  pnyx-missing-package  absent\n"


def test_as_root_with_apt_get_it_installs_what_is_missing(tmp_path: Path) -> None:
    result, calls = run(tmp_path, 0, LISTING)
    assert result.returncode == 0, result.stderr
    assert calls == ["update -qq", "install -y --no-install-recommends pnyx-missing-package -qq"]


def test_elsewhere_it_stops_at_once_with_the_command_to_run(tmp_path: Path) -> None:
    result, calls = run(tmp_path, 1000, LISTING)
    assert result.returncode == 1 and calls == []
    assert result.stderr.strip() == ("the tests need pnyx-missing-package; run: sudo apt-get update && "
                                     "sudo apt-get install -y --no-install-recommends pnyx-missing-package")


def test_with_everything_installed_it_does_nothing(tmp_path: Path) -> None:
    result, calls = run(tmp_path, 1000, "sh  dash  present\n")
    assert (result.returncode, result.stdout, result.stderr, calls) == (0, "", "", [])


def test_this_machine_has_every_program_the_tests_need() -> None:
    """What `make test` saw to first; run without it, this names what to install."""
    require(*packages())
