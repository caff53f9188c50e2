"""The daemon's folders are its layers (daemon/__init__.py): imports run one way, and federation/ is pure.

Read from the source with `ast`, so a new upward import fails here before a
reader has to notice it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DAEMON = ROOT / "daemon"

# package -> the daemon packages it may import (besides itself)
ALLOWED = {
    "cli": {"http", "net", "services", "store"},
    "http": {"net", "services", "store"},
    "net": {"store"},
    "services": {"store"},
    "store": set(),
}
FORBIDDEN_IN_FEDERATION = {"socket", "sqlite3", "aiohttp", "zeroconf", "time", "os", "pathlib", "random",
                           "secrets", "asyncio", "urllib.request", "subprocess"}


def daemon_imports(path: Path) -> set[str]:
    """The daemon packages a module imports, relative or absolute, at any depth in the file."""
    package = path.parent.name
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1:
            found.add(package)
        elif node.level == 2 and node.module:
            found.add(node.module.split(".")[0])
        elif node.level == 0 and node.module and node.module.startswith("pnyx.daemon."):
            found.add(node.module.split(".")[2])
    return found


@pytest.mark.parametrize("path", sorted(DAEMON.glob("*/*.py")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_daemon_imports_run_one_way(path: Path) -> None:
    package = path.parent.name
    assert package in ALLOWED, f"daemon/{package}/ is not a layer named in daemon/__init__.py"
    upward = daemon_imports(path) - ALLOWED[package] - {package}
    assert not upward, f"daemon/{package}/{path.name} imports {sorted(upward)} against the layering"


def test_daemon_has_no_modules_outside_its_layers() -> None:
    assert sorted(p.name for p in DAEMON.glob("*.py")) == ["__init__.py"]


@pytest.mark.parametrize("path", sorted((ROOT / "federation").glob("*.py")), ids=lambda p: p.name)
def test_federation_does_no_io(path: Path) -> None:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            assert not node.module.startswith("pnyx.daemon"), f"federation/{path.name} imports the daemon"
    io = names & FORBIDDEN_IN_FEDERATION
    assert not io, f"federation/{path.name} imports {sorted(io)}"
