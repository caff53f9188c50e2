"""A small LAN of network namespaces for multi-host tests (shared/notes/network-testing.md).

A switch namespace holds a bridge; each host namespace is joined to it by a
veth pair and has 10.213.0.<i>/24 on eth0. Addresses and traffic exist only
inside namespaces this module creates, under a prefix unique to the run, and
`close()` always kills what runs in them and deletes them.

With root, namespaces are made with `ip netns`. Without root but with user
namespaces, `in_user_namespace(argv)` runs a command as root of a new user,
network and mount namespace with a private tmpfs on /run, where `ip netns`
works the same way. `netns_mode()` says which applies, or why neither does.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.pnyxproc import PNYX
from tests.systemtools import require

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
PORT = 7464


IN_USER_NAMESPACE = "PNYX_TEST_IN_USER_NAMESPACE"  # set for a pytest run inside one
USERNS = ["unshare", "--user", "--map-root-user", "--net", "--mount", "--propagation", "private",
          "sh", "-c", 'mount -t tmpfs tmpfs /run && exec "$@"', "sh"]


def in_user_namespace(argv: list[str]) -> list[str]:
    """`argv` run as root of fresh user, network and mount namespaces (a private /run)."""
    return [*USERNS, *argv]


def netns_mode() -> tuple[str | None, str]:
    """("root" | "userns" | None, why): how namespace tests can run here; None only where the
    kernel refuses network namespaces (a missing `ip` or `unshare` fails the calling test)."""
    require("ip", "unshare")
    probe = ["ip", "netns", "add", f"pxprobe{secrets.token_hex(3)}"]
    if os.geteuid() == 0:
        made = subprocess.run(probe, capture_output=True, text=True)
        if made.returncode != 0:
            return None, f"`ip netns add` is refused here: {made.stderr.strip()}"
        subprocess.run(["ip", "netns", "del", probe[-1]], check=True)
        return "root", "ip netns as root"
    made = subprocess.run(in_user_namespace(probe), capture_output=True, text=True)
    if made.returncode != 0:
        return None, (f"not root, and user namespaces are refused here "
                      f"(`unshare --user --net`): {made.stderr.strip()}")
    return "userns", "ip netns inside a user namespace"


mode = functools.cache(netns_mode)


def require_namespaces() -> None:
    """Let the calling test run only where `ip netns` works directly: as root (also as root
    of a user namespace). Without root, test_netns_in_user_namespace.py runs it inside a user
    namespace; where the kernel refuses both, the README ("Tests") says it is skipped."""
    how, why = mode()
    if how is None:
        pytest.skip(f"no network namespaces on this machine (README, Tests): {why}")
    if how == "userns":
        pytest.skip("not root: test_netns_in_user_namespace.py runs this inside a user namespace")


def ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class Lan:
    """Hosts 1..n on one bridge; use as a context manager so that it is always deleted."""

    def __init__(self, hosts: int) -> None:
        self.prefix = f"px{secrets.token_hex(3)}"
        self.switch = f"{self.prefix}-sw"
        self.hosts = [f"{self.prefix}-h{i}" for i in range(1, hosts + 1)]
        self.created: list[str] = []

    def __enter__(self) -> Lan:
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _add(self, ns: str) -> None:
        ip("netns", "add", ns)
        self.created.append(ns)
        ip("-n", ns, "link", "set", "lo", "up")

    def _build(self) -> None:
        self._add(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for i, ns in enumerate(self.hosts, start=1):
            self._add(ns)
            ip("-n", self.switch, "link", "add", f"p{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("-n", self.switch, "link", "set", f"p{i}", "master", "br0", "up")
            ip("-n", ns, "addr", "add", f"{self.address(i)}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")

    def address(self, host: int) -> str:
        return f"10.213.0.{host}"

    def ns(self, host: int) -> str:
        return self.hosts[host - 1]

    def isolate(self, host: int) -> None:
        ip("-n", self.switch, "link", "set", f"p{host}", "down")

    def heal(self, host: int) -> None:
        ip("-n", self.switch, "link", "set", f"p{host}", "up")

    def close(self) -> None:
        for ns in reversed(self.created):
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.created.clear()


def in_netns(ns: str, call: Callable[[], T]) -> T:
    """Run `call` in a thread that has entered network namespace `ns` (sockets it opens stay there)."""
    result: list[T] = []
    failure: list[BaseException] = []

    def enter_and_call() -> None:
        try:
            with open(f"/run/netns/{ns}") as handle:
                if ctypes.CDLL(None, use_errno=True).setns(handle.fileno(), CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {ns}")
            result.append(call())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=enter_and_call)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


class HostDaemon:
    """`pnyx run` inside one host of a Lan, listening on the host's address."""

    def __init__(self, lan: Lan, host: int, data: Path, *extra: str) -> None:
        self.ns = lan.ns(host)
        self.url = f"http://{lan.address(host)}:{PORT}"
        self.log_path = data.parent / f"{data.name}.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, *PNYX, "--data", str(data), "run",
                 "--listen", f"{lan.address(host)}:{PORT}", *extra], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.status()
                self.started = time.monotonic()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"daemon in {self.ns} did not start: "
                                         f"{self.log_path.read_text()[-2000:]}") from None
                time.sleep(0.05)

    def status(self) -> Any:
        def get() -> Any:
            with urllib.request.urlopen(f"{self.url}/pnyx/v1/status", timeout=5) as response:
                return json.load(response)
        return in_netns(self.ns, get)

    def neighbours(self) -> dict[str, Any]:
        """Neighbours this daemon heard, by device key."""
        return {n["device"]: n for n in self.status()["discovery"]["neighbours"]}

    def stop(self) -> None:
        """SIGTERM, and the clean exit the README promises: status 0 (else the test fails)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(timeout=20)
            assert code == 0, f"daemon in {self.ns} exited with {code}: {self.log_path.read_text()[-2000:]}"

