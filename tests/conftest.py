"""Say how to repeat a shuffled run: `make test` runs `pytest -q`, which hides the seed that
pytest-randomly puts in the session header; say when federation's decoding modules run
as pure Python rather than compiled (pnyx.compiled), as after editing one of them; and
keep apart what must not run at once when `make test` spreads the tests over the machine's
cores (pytest-xdist with `--dist loadgroup`: the groups are the ones this file gives)."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
from pnyx.compiled import why_pure

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "federation"

# Tests that must never run at the same time as each other, by module: each group runs on one
# worker, one test after another. "mdns-loopback": daemons that announce on loopback (mDNS on
# 127.0.0.1 reaches every process of the machine) would hear each other's services and gossip
# with them. "crowd": the tests that start a crowd of processes at once (a dozen daemons, or
# LANs of namespaces): two of them together overload two cores until their waits time out.
GROUPS = {
    "test_discovery_loopback.py": "mdns-loopback",
    "test_run_signals.py": "mdns-loopback",  # `make run` announces, as it should
    "test_village_scenario.py": "crowd",
    "test_netns_in_user_namespace.py": "crowd",
    "test_discovery_lan.py": "crowd",
}
SHARED_FIXTURE = re.compile(r"@pytest\.fixture\(scope=[\"'](?:module|class|package|session)")


@functools.cache
def shares_a_fixture(module: str) -> bool:
    """Whether a test module defines a fixture set up once for several of its tests."""
    path = ROOT / module
    return path.is_file() and SHARED_FIXTURE.search(path.read_text()) is not None


def group_of(nodeid: str) -> str:
    """The group of a test, whose tests one worker runs: its module's entry in GROUPS; else its
    module, when the module shares a fixture among its tests (set up by one worker, once, not
    by every worker again); else the test alone, for any worker."""
    module = nodeid.split("::")[0]
    name = Path(module).name
    if name in GROUPS:
        return GROUPS[name]
    return module if shares_a_fixture(module) else nodeid


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` by group_of. (pytest-xdist's own reads `xdist_group` marks from node
    ids that pytest 9.2 no longer lets a plugin rename, so it would group nothing.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Grouped(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return Grouped(config, log)


def shuffle_note(config: pytest.Config) -> str | None:
    if not config.pluginmanager.hasplugin("randomly") or not config.getoption("randomly_reorganize"):
        return None
    return f"tests shuffled: repeat this order with --randomly-seed={config.option.randomly_seed}"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


@pytest.hookimpl(trylast=True)  # the notes after pytest's header, once (not from every worker)
def pytest_sessionstart(session: pytest.Session) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or is_worker(session.config):
        return
    pure = why_pure(SOURCES)
    for note in (shuffle_note(session.config), pure and f"federation's hot modules run as source: {pure}"):
        if note:
            reporter.write_line(note)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    note = shuffle_note(config)
    if note:
        terminalreporter.write_line(note)
