"""Two daemons on loopback find each other with mDNS, ignore garbage announcements, say goodbye.

Runs everywhere (no namespaces needed): mDNS is pinned to 127.0.0.1, so no
packet leaves the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pnyxproc import Daemon, cli, cli_json, free_port, wait_for

CHARTER = "c4" * 32
# A neighbour announcing garbage TXT data: it must be ignored, with a log line.
GARBAGE_ANNOUNCER = """
import asyncio, signal, sys
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
async def main():
    azc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    port = int(sys.argv[1])
    info = AsyncServiceInfo("_pnyx._tcp.local.", "garbage-%d._pnyx._tcp.local." % port, port=port,
                            properties={b"v": b"1", b"dk": b"not-a-key", b"port": str(port).encode()},
                            server="garbage.local.", parsed_addresses=["127.0.0.1"])
    await (await azc.async_register_service(info))
    print("registered", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await (await azc.async_unregister_service(info))
    await azc.async_close()
asyncio.run(main())
"""


def neighbour_keys(daemon: Daemon) -> set[str]:
    return {n["device"] for n in daemon.status()["discovery"]["neighbours"]}


@pytest.fixture
def garbage_announcer() -> Iterator[None]:
    proc = subprocess.Popen([sys.executable, "-c", GARBAGE_ANNOUNCER, str(free_port())],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "registered"
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def init(path: Path, name: str) -> str:
    cli(path, "init", "--assembly", name)
    device: str = cli_json(path, "status")["device"]
    return device


@pytest.mark.slow
def test_two_daemons_discover_each_other_on_loopback(tmp_path: Path, garbage_announcer: None) -> None:
    a_key, b_key, quiet_key = (init(tmp_path / n, n) for n in ("a", "b", "quiet"))
    started = time.monotonic()
    a = Daemon(tmp_path / "a", "--announce-confed", CHARTER, "--mdns-reannounce", "2", discovery=True)
    b = Daemon(tmp_path / "b", discovery=True)
    quiet = Daemon(tmp_path / "quiet")  # --no-discovery
    try:
        wait_for("a and b find each other",
                 lambda: b_key in neighbour_keys(a) and a_key in neighbour_keys(b), timeout=10)
        print(f"mutual discovery {time.monotonic() - started:.2f} s after starting the daemons")
        seen_by_b = {n["device"]: n for n in b.status()["discovery"]["neighbours"]}[a_key]
        assert seen_by_b["url"] == a.url
        assert seen_by_b["confederations"] == [CHARTER]
        assert a.status()["discovery"]["announced_as"].startswith(f"pnyx-{a_key[:16]}.")

        listed = json.loads(cli(tmp_path, "discover", "--mdns-interface", "127.0.0.1",
                                "--timeout", "1.5", "--json").stdout)
        by_key = {n["device"]: n for n in listed}
        assert {a_key, b_key} <= set(by_key)
        assert quiet_key not in by_key  # --no-discovery announces nothing
        assert by_key[a_key]["assembly"] == a.status()["assembly"]
        assert (by_key[a_key]["port"], by_key[a_key]["version"]) == (a.port, 1)
        assert by_key[a_key]["confederations"] == [CHARTER]
        assert by_key[b_key]["confederations"] == []
        assert all(not n["name"].startswith("garbage-") for n in listed)
        # garbage TXT data is ignored with one log line, and discovery goes on
        assert "ignoring announcement of 'garbage-" in a.log_path.read_text()

        b.stop()  # a clean shutdown says goodbye: a forgets b at once
        gone = wait_for("a forgets b", lambda: b_key not in neighbour_keys(a), timeout=5)
        print(f"goodbye seen after {gone:.2f} s")
    finally:
        for daemon in (a, b, quiet):
            if daemon.proc.poll() is None:
                daemon.stop()


def test_discover_rejects_bad_options(tmp_path: Path) -> None:
    result = cli(tmp_path, "discover", "--mdns-interface", "no-such-interface0", check=False)
    assert result.returncode == 2 and "neither an IPv4 address nor an interface" in result.stderr
    result = cli(tmp_path, "discover", "--timeout", "0", check=False)
    assert result.returncode == 2 and "--timeout" in result.stderr


def test_run_rejects_a_bad_confederation_before_starting(tmp_path: Path) -> None:
    init(tmp_path / "a", "a")
    result = cli(tmp_path / "a", "run", "--listen", f"127.0.0.1:{free_port()}",
                 "--announce-confed", "not-a-hash", check=False)
    assert result.returncode == 2 and "charter hash" in result.stderr


