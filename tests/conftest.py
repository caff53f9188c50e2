"""Say how to repeat a shuffled run: `make test` runs `pytest -q`, which hides the seed that
pytest-randomly puts in the session header; and say when federation's decoding modules run
as pure Python rather than compiled (pnyx.compiled), as after editing one of them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pnyx.compiled import why_pure

SOURCES = Path(__file__).resolve().parent.parent / "federation"


def shuffle_note(config: pytest.Config) -> str | None:
    if not config.pluginmanager.hasplugin("randomly") or not config.getoption("randomly_reorganize"):
        return None
    return f"tests shuffled: repeat this order with --randomly-seed={config.option.randomly_seed}"


def pytest_collection_finish(session: pytest.Session) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    pure = why_pure(SOURCES)
    for note in (shuffle_note(session.config), pure and f"federation's hot modules run as source: {pure}"):
        if note and reporter is not None:
            reporter.write_line(note)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    note = shuffle_note(config)
    if note:
        terminalreporter.write_line(note)
