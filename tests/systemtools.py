"""Programs the tests run besides Python (tests/system-packages.txt): a test whose program is
missing fails with the command that installs it, rather than being skipped as if it passed."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pytest

LIST = Path(__file__).with_name("system-packages.txt")
SBIN = ":/usr/local/sbin:/usr/sbin:/sbin"  # where avahi-daemon lives, off a user's PATH


@functools.cache
def packages() -> dict[str, str]:
    """Debian package by command."""
    rows = (line.split() for line in LIST.read_text().splitlines() if line and not line.startswith("#"))
    return {row[0]: row[1] for row in rows}


def install_line(*commands: str) -> str:
    names = " ".join(sorted({packages()[c] for c in commands}))
    return f"apt-get install -y --no-install-recommends {names}"


def require(*commands: str) -> None:
    """Fail the calling test unless every command is installed, saying how to install them."""
    missing = [c for c in commands if shutil.which(c, path=os.environ.get("PATH", "") + SBIN) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: run `{install_line(*missing)}` as root "
                    f"(`make test` does it where it can)", pytrace=False)
