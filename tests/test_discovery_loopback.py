"""Two daemons on loopback find each other with mDNS, sync, flag a spoofed announcement,
ignore garbage announcements and say goodbye.

Runs everywhere (no namespaces needed): mDNS is pinned to 127.0.0.1, so no
packet leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pnyx.federation.keys import SigningKey, key_text, parse_key

from tests.pnyxproc import Daemon, cli, cli_json, free_port, held_hashes, wait_for

CHARTER = "c4" * 32
# Two neighbours that lie. "garbage" announces TXT data that does not decode: it must be
# ignored, with a log line. "spoof" announces a valid record claiming device key argv[3]
# but points at port argv[2], where another daemon answers: it must be flagged.
ANNOUNCER = """
import asyncio, signal, sys
from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
from pnyx.federation.discovery_txt import Announcement, encode_txt
from pnyx.federation.keys import parse_key
async def main():
    azc = AsyncZeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    garbage, spoof = int(sys.argv[1]), int(sys.argv[2])
    claimed = parse_key(sys.argv[3])
    infos = [
        AsyncServiceInfo("_pnyx._tcp.local.", "garbage-%d._pnyx._tcp.local." % garbage, port=garbage,
                         properties={b"v": b"1", b"dk": b"not-a-key", b"port": str(garbage).encode()},
                         server="garbage.local.", parsed_addresses=["127.0.0.1"]),
        AsyncServiceInfo("_pnyx._tcp.local.", "spoof-%d._pnyx._tcp.local." % spoof, port=spoof,
                         properties=encode_txt(Announcement(claimed, claimed, spoof)),
                         server="spoof.local.", parsed_addresses=["127.0.0.1"]),
    ]
    for info in infos:
        await (await azc.async_register_service(info))
    print("registered", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for info in infos:
        await (await azc.async_unregister_service(info))
    await azc.async_close()
asyncio.run(main())
"""


def neighbour_keys(daemon: Daemon) -> set[str]:
    return {n["device"] for n in daemon.status()["discovery"]["neighbours"]}


@contextlib.contextmanager
def liars(spoofed_port: int, claimed_key: str) -> Iterator[None]:
    proc = subprocess.Popen([sys.executable, "-c", ANNOUNCER, str(free_port()), str(spoofed_port),
                             claimed_key], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "registered"
        yield
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def peers(data: Path) -> dict[str, dict[str, Any]]:
    return {p["url"]: p for p in cli_json(data, "peers")}


def init(path: Path, name: str) -> str:
    """A new data directory; its device key."""
    cli(path, "init", "--assembly", name)
    return key_text(SigningKey(parse_key((path / "device.key").read_text())).public)


@pytest.mark.slow
def test_two_daemons_discover_each_other_on_loopback(tmp_path: Path) -> None:
    a_key, b_key, quiet_key, claimed_key = (init(tmp_path / n, n) for n in ("a", "b", "quiet", "claimed"))
    started: list[Daemon] = []
    try:
        a = Daemon(tmp_path / "a", "--announce-confed", CHARTER, "--mdns-reannounce", "2", discovery=True)
        started.append(a)
        b = Daemon(tmp_path / "b", discovery=True)
        started.append(b)
        took = wait_for("a and b find each other",
                        lambda: b_key in neighbour_keys(a) and a_key in neighbour_keys(b), timeout=10)
        print(f"mutual discovery {took:.2f} s after the second daemon answered")
        quiet = Daemon(tmp_path / "quiet")  # --no-discovery; the spoofed announcement points here
        started.append(quiet)
        with liars(quiet.port, claimed_key):
            seen_by_b = {n["device"]: n for n in b.status()["discovery"]["neighbours"]}[a_key]
            assert seen_by_b["url"] == a.url
            assert seen_by_b["confederations"] == [CHARTER]
            assert a.status()["discovery"]["announced_as"].startswith(f"pnyx-{a_key[:16]}.")

            # found by mDNS, they gossip: each holds the other's ledger, with no peer added by hand
            wait_for("a and b hold each other's records",
                     lambda: held_hashes(tmp_path / "a") == held_hashes(tmp_path / "b"), timeout=15)
            peer_b = peers(tmp_path / "a")[b.url]
            assert (peer_b["source"], peer_b["announced_device"], peer_b["device"]) == (
                "discovered", b_key, b_key)
            assert peer_b["flag"] is None and peer_b["last_success"] is not None

            # the spoof claims a key that the daemon behind its address does not prove
            wait_for("a flags the spoofed announcement",
                     lambda: (peers(tmp_path / "a").get(quiet.url) or {}).get("flag") is not None, timeout=10)
            spoofed = peers(tmp_path / "a")[quiet.url]
            assert spoofed["announced_device"] == claimed_key
            assert spoofed["flag"] == f"announces {claimed_key} but proves {quiet_key}"
            assert f"FLAGGED: announces {claimed_key}" in cli(tmp_path / "a", "peers").stdout

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
            wait_for("a logs the garbage it ignores",
                     lambda: "ignoring announcement of 'garbage-" in a.log_path.read_text(), timeout=5)

        b.stop()  # a clean shutdown says goodbye: a forgets b at once
        gone = wait_for("a forgets b", lambda: b_key not in neighbour_keys(a), timeout=5)
        print(f"goodbye seen after {gone:.2f} s")
    finally:
        for daemon in started:
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


