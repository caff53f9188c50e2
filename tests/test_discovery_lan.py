"""Discovery across hosts: daemons in separate network namespaces on one bridge, no static peers.

Three daemons find each other and converge on each other's decisions;
`pnyx discover` and an independent client (avahi-browse, from an
avahi-daemon started here in its own namespace) see them with the documented
TXT data; a host cut off from the bridge while the others record decisions is
heard again soon after it rejoins, catches up, and finds a daemon that
appeared while it was away, within a bound set by the re-announcement
interval; a daemon killed without goodbye stays in mDNS caches but failed
syncs retire it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pnyx.federation.keys import SigningKey, key_text, parse_key

from tests.netlan import IN_USER_NAMESPACE, PORT, HostDaemon, Lan, require_namespaces
from tests.pnyxproc import PNYX, cli, held_hashes, query, wait_for
from tests.systemtools import require

pytestmark = [pytest.mark.slow, pytest.mark.netns]
REANNOUNCE = 2.0  # seconds, --mdns-reannounce: bounds rediscovery after a partition heals
REDISCOVERY_BOUND = 3 * REANNOUNCE + 2
GOSSIP = ("--gossip-interval", "5", "--watch-interval", "0.1")
STARTUP_QUERIES_OVER = 16.0  # s; a zeroconf browser queries at 0, 1, 5 and 14 s, then rarely
CHARTER = "5a" * 32
DAEMONS, LATE, CLIENT = (1, 2, 3), 4, 5

AVAHI_CONF = """[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces=eth0
[wide-area]
enable-wide-area=no
[publish]
disable-publishing=yes
"""
# A system bus of its own for avahi; no user switch, so that it runs in a user namespace too.
DBUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <pidfile>/run/dbus/pid</pidfile>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
"""
# A private dbus and avahi-daemon in a private mount namespace (a tmpfs over /run),
# then avahi-browse until it has resolved `want` services.
AVAHI_BROWSE = """
set -e
mount -t tmpfs tmpfs /run
mkdir -p /run/dbus /run/avahi-daemon
dbus-daemon --config-file="$4" --fork
avahi-daemon --daemonize --no-drop-root --no-chroot --no-rlimits --file "$1"
for attempt in $(seq 40); do
    avahi-browse --resolve --terminate --parsable --no-db-lookup _pnyx._tcp > "$2" 2>/dev/null || true
    [ "$(grep -c '^=' "$2")" -ge "$3" ] && break
    sleep 0.5
done
avahi-daemon --kill || true
kill "$(cat /run/dbus/pid)" || true
"""


@pytest.fixture(scope="module")
def lan() -> Iterator[Lan]:
    require_namespaces()
    with Lan(hosts=5) as lan:
        yield lan


@pytest.fixture(scope="module")
def data_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, tuple[Path, str]]:
    """Data directory and device key of each host that runs a daemon."""
    root = tmp_path_factory.mktemp("lan")
    dirs = {}
    for host in DAEMONS:
        dirs[host] = initialized(root / f"h{host}", f"Assembly {host}")
    return dirs


def initialized(data: Path, name: str) -> tuple[Path, str]:
    """A new data directory and its device key."""
    cli(data, "init", "--assembly", name)
    return data, key_text(SigningKey(parse_key((data / "device.key").read_text())).public)


@pytest.fixture(scope="module")
def daemons(lan: Lan, data_dirs: dict[int, tuple[Path, str]]) -> Iterator[dict[int, HostDaemon]]:
    started: dict[int, HostDaemon] = {}
    try:
        for host in DAEMONS:
            extra = ["--announce-confed", CHARTER] if host == 1 else []
            started[host] = HostDaemon(lan, host, data_dirs[host][0], "--mdns-reannounce", str(REANNOUNCE),
                                       *GOSSIP, *extra)
        yield started
    finally:
        for daemon in started.values():
            daemon.stop()


def decide(data: Path, title: str) -> None:
    cli(data, "decide", "--title", title, "--text", title, "--date", "2026-11-20",
        "--for", "10", "--against", "2", "--abstain", "1", "--quorum", "13")


def everything(datas: list[Path]) -> set[bytes]:
    """Every change held by any of these stores now."""
    return set().union(*(held_hashes(data) for data in datas))


def converged(datas: list[Path], recorded: set[bytes]) -> bool:
    """Whether every store holds the same changes, all those `recorded` among them."""
    held = [held_hashes(data) for data in datas]
    return recorded <= held[0] and all(h == held[0] for h in held)


def all_heard(daemons: dict[int, HostDaemon], keys: dict[int, str]) -> bool:
    """Whether each daemon has heard every other one (and perhaps daemons of earlier tests)."""
    return all({keys[o] for o in DAEMONS if o != h} <= set(daemons[h].neighbours()) for h in DAEMONS)


def peers(data: Path) -> dict[str, Any]:
    return {p["url"]: p for p in json.loads(cli(data, "peers", "--json").stdout)}


def test_three_hosts_discover_each_other_without_static_peers(
        lan: Lan, daemons: dict[int, HostDaemon], data_dirs: dict[int, tuple[Path, str]]) -> None:
    keys = {host: data_dirs[host][1] for host in DAEMONS}
    took = wait_for("every daemon hears the two others", lambda: all_heard(daemons, keys), timeout=15)
    print(f"three hosts discovered each other {took:.2f} s after the last one started")
    for host in DAEMONS:
        for other, seen in daemons[host].neighbours().items():
            owner = next((h for h in DAEMONS if keys[h] == other), None)
            if owner is None:
                continue  # a newcomer of another test, heard before it stopped
            assert seen["url"] == f"http://{lan.address(owner)}:{PORT}"
            assert seen["addresses"] == [lan.address(owner)]

    # found by mDNS only, they gossip: every decision reaches every host
    for host in DAEMONS:
        decide(data_dirs[host][0], f"Decision of assembly {host}")
    datas = [data_dirs[h][0] for h in DAEMONS]
    recorded = everything(datas)
    took = wait_for("the three hosts hold the same records, every decision included",
                    lambda: converged(datas, recorded), timeout=20)
    print(f"converged {took:.2f} s after the decisions were recorded")
    for url, peer in peers(data_dirs[1][0]).items():
        owner = next((h for h in DAEMONS if url == daemons[h].url), None)
        if owner is None:
            continue
        assert (peer["source"], peer["announced_device"], peer["device"], peer["flag"]) == (
            "discovered", keys[owner], keys[owner], None)

    listed = subprocess.run(["ip", "netns", "exec", lan.ns(CLIENT), *PNYX, "discover", "--json",
                             "--timeout", "2"], capture_output=True, text=True, timeout=30, check=True)
    by_key = {n["device"]: n for n in json.loads(listed.stdout)}
    assert set(keys.values()) <= set(by_key)
    assert by_key[keys[1]]["confederations"] == [CHARTER]
    assert by_key[keys[2]]["url"] == f"http://{lan.address(2)}:{PORT}"


def test_avahi_browse_lists_our_service_with_its_txt_data(
        lan: Lan, daemons: dict[int, HostDaemon], data_dirs: dict[int, tuple[Path, str]],
        tmp_path: Path) -> None:
    if os.environ.get(IN_USER_NAMESPACE):
        pytest.skip("avahi-daemon cannot run in a user namespace: it needs the `avahi` user, "
                    "which a namespace mapping only the caller's uid does not have (README, Tests)")
    require("avahi-daemon", "avahi-browse", "dbus-daemon")
    conf, dbus_conf, out = tmp_path / "avahi-daemon.conf", tmp_path / "dbus.conf", tmp_path / "browse.txt"
    conf.write_text(AVAHI_CONF)
    dbus_conf.write_text(DBUS_CONF)
    subprocess.run(["ip", "netns", "exec", lan.ns(CLIENT), "unshare", "--mount", "--propagation", "private",
                    "sh", "-c", AVAHI_BROWSE, "avahi", str(conf), str(out), str(len(DAEMONS)),
                    str(dbus_conf)], check=True, timeout=60)
    resolved = [line.split(";") for line in out.read_text().splitlines() if line.startswith("=")]
    # =;interface;protocol;name;type;domain;host;address;port;"txt" "txt" ...
    by_name = {fields[3]: fields for fields in resolved}
    for host in DAEMONS:
        device = data_dirs[host][1]
        fields = by_name[f"pnyx-{device[:16]}"]
        assert (fields[4], fields[7], fields[8]) == ("_pnyx._tcp", lan.address(host), str(PORT))
        txt = dict(item.strip('"').split("=", 1) for item in fields[9].split('" "'))
        assert txt["v"] == "1" and txt["dk"] == device and txt["port"] == str(PORT)
        assert txt["ak"] == daemons[host].status()["assembly"]
        assert (txt.get("c0") == CHARTER) is (host == 1)


def test_isolated_host_is_heard_again_and_finds_a_newcomer_after_healing(
        lan: Lan, daemons: dict[int, HostDaemon], data_dirs: dict[int, tuple[Path, str]],
        tmp_path: Path) -> None:
    wait_for("every daemon hears the two others", lambda: all_heard(
        daemons, {h: data_dirs[h][1] for h in DAEMONS}), timeout=15)
    h1_key = data_dirs[1][1]
    late_data, late_key = initialized(tmp_path / "newcomer", "Newcomer")
    with contextlib.ExitStack() as cleanup:  # heal, and stop the newcomer, also on failure
        lan.isolate(1)
        cleanup.callback(lan.heal, 1)
        late = HostDaemon(lan, LATE, late_data, "--mdns-reannounce", str(REANNOUNCE), *GOSSIP)
        cleanup.callback(late.stop)
        decide(data_dirs[2][0], "Decided while host 1 was cut off")
        wait_for("host 2 finds the newcomer", lambda: late_key in daemons[2].neighbours(), timeout=10)
        wait_for("host 2 stops hearing the isolated host",
                 lambda: daemons[2].neighbours()[h1_key]["heard_seconds_ago"] > 2 * REANNOUNCE, timeout=10)
        assert late_key not in daemons[1].neighbours()
        # host 1's browser no longer queries on its own: only re-announcements can bring news
        uptime = time.monotonic() - daemons[1].started
        if uptime < STARTUP_QUERIES_OVER:
            time.sleep(STARTUP_QUERIES_OVER - uptime)

        assert held_hashes(data_dirs[2][0]) - held_hashes(data_dirs[1][0])  # host 1 missed a decision
        lan.heal(1)
        healed = time.monotonic()
        took = wait_for("after healing, host 1 and the newcomer find each other and host 2 hears host 1",
                        lambda: late_key in daemons[1].neighbours() and h1_key in late.neighbours()
                        and daemons[2].neighbours()[h1_key]["heard_seconds_ago"] < REANNOUNCE,
                        timeout=REDISCOVERY_BOUND)
        print(f"rediscovered {took:.2f} s after healing (re-announcement every {REANNOUNCE:g} s)")
        datas = [*(data_dirs[h][0] for h in DAEMONS), late_data]
        recorded = everything(datas)
        wait_for("host 1 catches up with everything recorded while it was cut off",
                 lambda: converged(datas, recorded), timeout=REDISCOVERY_BOUND)
        print(f"converged {time.monotonic() - healed:.2f} s after healing")


def test_a_killed_neighbour_is_retired_by_failed_syncs_not_by_mdns(
        lan: Lan, daemons: dict[int, HostDaemon], data_dirs: dict[int, tuple[Path, str]],
        tmp_path: Path) -> None:
    late_data, late_key = initialized(tmp_path / "newcomer", "Newcomer")
    late = HostDaemon(lan, LATE, late_data, "--mdns-reannounce", str(REANNOUNCE), *GOSSIP)
    try:
        wait_for("host 2 syncs with the newcomer",  # its key proves this newcomer, not an earlier one
                 lambda: (peers(data_dirs[2][0]).get(late.url) or {}).get("device") == late_key,
                 timeout=15)
    finally:
        late.proc.kill()  # no goodbye
        late.proc.wait(timeout=10)
    decide(data_dirs[2][0], "Decided after host 4 died")  # host 2 pushes to its peers at once
    def backing_off() -> tuple[Any, ...] | None:
        """The failure row once the peer is out of the active set for a while (2 s × 0.5..1.5).

        An announcement the newcomer sent just before it was killed may still be resolved
        after the first failed push and make the peer due again (being heard counts); the
        next failed sync then backs off anew, so the back-off is polled for, not read once."""
        rows = query(data_dirs[2][0], "SELECT last_error, last_attempt, next_attempt FROM peers"
                     " WHERE url = ? AND failures >= 1 AND next_attempt - last_attempt >= 1", late.url)
        return rows[0] if rows else None

    wait_for("host 2 backs off from the dead neighbour", lambda: backing_off() is not None, timeout=15)
    error, _, _ = backing_off() or ()
    assert error
