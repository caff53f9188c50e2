"""Say how to repeat a shuffled run: `make test` runs `pytest -q`, which hides the seed that
pytest-randomly puts in the session header."""

from __future__ import annotations

import pytest


def shuffle_note(config: pytest.Config) -> str | None:
    if not config.pluginmanager.hasplugin("randomly") or not config.getoption("randomly_reorganize"):
        return None
    return f"tests shuffled: repeat this order with --randomly-seed={config.option.randomly_seed}"


def pytest_collection_finish(session: pytest.Session) -> None:
    note = shuffle_note(session.config)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if note and reporter is not None:
        reporter.write_line(note)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    note = shuffle_note(config)
    if note:
        terminalreporter.write_line(note)
