"""Running pnyx as real processes in tests: the CLI, and daemons on loopback ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pnyx.daemon.store.peers import PeerBook
from pnyx.daemon.store.sqlite import Store

PNYX = [sys.executable, "-m", "pnyx.daemon.cli.main"]


def cli(data: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one `pnyx` command on `data`; raise with its stderr if it fails and `check`."""
    result = subprocess.run([*PNYX, "--data", str(data), *args], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if check and result.returncode != 0:
        raise AssertionError(f"pnyx {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def cli_json(data: Path, *args: str) -> Any:
    return json.loads(cli(data, *args, "--json").stdout)


PORTS_BELOW = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def port_range() -> range:
    """Ports below the kernel's ephemeral range, where no outgoing connection takes one between
    free_port() and the daemon's bind, shared out between pytest-xdist's workers (gw0, gw1,
    ...) by remainder, so that two workers of one run never hand out the same one, and each
    draws from the whole range, so that two runs on one machine seldom do."""
    index = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    return range(1024 + index, PORTS_BELOW, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))


handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port that is free now and that this process has not handed out before (a
    test may pick several before starting their daemons), at random from this worker's share."""
    ports = port_range()
    for _ in range(1000):
        port = ports[int.from_bytes(os.urandom(4), "big") % len(ports)]
        if port in handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        handed_out.add(port)
        return port
    raise AssertionError(f"no free port found in {ports}")


class Daemon:
    """A `pnyx run` process on a loopback port, stopped by `stop()` or `kill()`.

    mDNS discovery is off unless `discovery`: daemons of other tests on this
    machine would otherwise find each other on loopback.
    """

    def __init__(self, data: Path, *extra: str, port: int | None = None, discovery: bool = False,
                 ready_timeout: float = 20.0) -> None:
        self.data = data
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data.parent / f"{data.name}.log"
        self.log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*PNYX, "--data", str(data), "run", "--listen", f"127.0.0.1:{self.port}", *extra,
             *([] if discovery else ["--no-discovery"])],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready(ready_timeout)

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited with {self.proc.returncode}")
            try:
                self.status()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("daemon did not start")

    def status(self) -> Any:
        with urllib.request.urlopen(f"{self.url}/pnyx/v1/status", timeout=5) as response:
            return json.load(response)

    def stop(self) -> int:
        """SIGTERM, and the clean exit the README promises: status 0 (else the test fails)."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=20)
        self.log.close()
        assert code == 0, f"daemon exited with {code} after SIGTERM: {self.log_path.read_text()[-2000:]}"
        return code

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=20)
        self.log.close()


def init_all(datas: list[Path]) -> None:
    """`pnyx init` each data directory (assembly "Assembly NAME"), all at once."""
    procs = [subprocess.Popen([*PNYX, "--data", str(d), "init", "--assembly", f"Assembly {d.name}"],
                              stdout=subprocess.DEVNULL) for d in datas]
    assert all(p.wait(timeout=60) == 0 for p in procs)


def add_peers(data: Path, *urls: str) -> None:
    """What `pnyx peers add` does (tested in test_sync_http.py), without a process per peer."""
    store = Store(data / "pnyx.sqlite")
    try:
        for url in urls:
            PeerBook(store).add(url, "added", time.time())
    finally:
        store.close()


def post(url: str, body: bytes, content_type: str = "application/msgpack") -> tuple[int, bytes]:
    """POST raw bytes; (status, body) also for 4xx answers."""
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> float:
    """Seconds until `check()` holds; fails the test after `timeout`."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


def query(data: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read a data directory's store directly: cheaper than a CLI process for polling."""
    db = sqlite3.connect(data / "pnyx.sqlite", timeout=30)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def held_hashes(data: Path) -> set[bytes]:
    """Hashes of the changes stored in a data directory (read while its daemon runs)."""
    db = sqlite3.connect(data / "pnyx.sqlite")
    try:
        return {bytes(r[0]) for r in db.execute("SELECT hash FROM changes")}
    finally:
        db.close()
