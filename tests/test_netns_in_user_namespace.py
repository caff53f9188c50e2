"""The multi-host tests (marker `netns`) run again inside a user namespace, in a pytest of
their own: that is how they run without root, and, run as root too, this proves that path
keeps working. Only the avahi interoperability test cannot run there (avahi-daemon needs
its own `avahi` user, which a user namespace mapping one uid lacks; README, Tests)."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.netlan import IN_USER_NAMESPACE, in_user_namespace, mode

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
CANNOT_RUN_THERE = {"test_avahi_browse_lists_our_service_with_its_txt_data"}


def test_netns_tests_pass_inside_a_user_namespace(tmp_path: Path) -> None:
    how, why = mode()
    if how is None:
        pytest.skip(f"no network namespaces on this machine (README, Tests): {why}")
    report = tmp_path / "inner.xml"
    modules = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "tests").glob("test_*.py"))
               if "pytest.mark.netns" in p.read_text()]
    inner = in_user_namespace([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "--basetemp", str(tmp_path / "inner"), "--junitxml", str(report),
                               "-m", "netns", *modules])
    result = subprocess.run(inner, cwd=ROOT, capture_output=True, text=True, timeout=600,
                            env={**os.environ, IN_USER_NAMESPACE: "1"})
    print(result.stdout[-4000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    cases = {case.get("name", "").split("[")[0]: case for case in ET.parse(report).iter("testcase")}
    assert len(cases) >= 5, sorted(cases)  # the LAN discovery tests and the API-from-afar test
    skipped = {name for name, case in cases.items() if case.find("skipped") is not None}
    assert skipped == CANNOT_RUN_THERE, skipped
