"""Say how to repeat a shuffled run: `make test` runs `pytest -q`, which hides the seed that
pytest-randomly puts in the session header; say when federation's decoding modules run
as pure Python rather than compiled (pnyx.compiled), as after editing one of them; and
keep apart what must not run at once when `make test` spreads the tests over the machine's
cores (pytest-xdist, `--dist loadgroup`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pnyx.compiled import why_pure

SOURCES = Path(__file__).resolve().parent.parent / "federation"

# Tests that must never run at the same time as each other, by module: each group runs on one
# worker, one test after another. "mdns-loopback": daemons that announce on loopback (mDNS on
# 127.0.0.1 reaches every process of the machine) would hear each other's services and gossip
# with them. "crowd": the tests that start a crowd of processes at once (a dozen daemons, or a
# pytest of their own): two of them together overload two cores until their waits time out.
GROUPS = {
    "test_discovery_loopback.py": "mdns-loopback",
    "test_run_signals.py": "mdns-loopback",  # `make run` announces, as it should
    "test_village_scenario.py": "crowd",
    "test_netns_in_user_namespace.py": "crowd",
    "test_discovery_lan.py": "crowd",
}


def group_of(item: pytest.Item) -> str | None:
    """The one xdist group of a test (xdist joins two groups' names into a third): its module's
    entry in GROUPS; else its module, when it uses a fixture set up once per module or class
    (a worker of its own builds it once, not every worker again); else none: any worker."""
    module = item.path.name
    if module in GROUPS:
        return GROUPS[module]
    info = getattr(item, "_fixtureinfo", None)
    shared = info is not None and any(d.scope in ("module", "class", "package", "session")
                                      for defs in info.name2fixturedefs.values() for d in defs
                                      if d.baseid)  # pytest's own session fixtures have none
    return module if shared else None


@pytest.hookimpl(tryfirst=True)  # before xdist reads the marks
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = group_of(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


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
