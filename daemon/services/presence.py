"""Whether a daemon serves a data directory, so the CLI writes through it.

`pnyx run` writes `daemon.json` (pid, API URL, device key) into its data
directory once it listens, and removes it when it stops cleanly. A file left
behind by a killed daemon must not get in the way: the CLI trusts it only if
that pid is alive and the URL answers as the same device; otherwise it
works on the store directly, as without a daemon.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from pnyx.federation.keys import key_text

PRESENCE_FILE = "daemon.json"
PROBE_TIMEOUT = 1.0  # an unreachable address must not stall the CLI; it then writes directly
DEFAULT_PORT = 7464
DEFAULT_LISTEN = f"127.0.0.1:{DEFAULT_PORT}"


def parse_listen(text: str) -> tuple[str, int]:
    """`pnyx run --listen HOST:PORT`: kept here, beside `local_url`, so that the command line
    names the address without loading the server (aiohttp)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"--listen takes HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def local_url(host: str, port: int) -> str:
    """A URL this machine reaches a server on, listening on `host`."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextlib.contextmanager
def announced(data: Path, url: str, device: bytes) -> Iterator[None]:
    """`daemon.json` exists while the block runs (and after a crash, until the next start)."""
    path = data / PRESENCE_FILE
    tmp = data / (PRESENCE_FILE + ".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "url": url, "device": key_text(device)}) + "\n")
    os.replace(tmp, path)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def running_daemon(data: Path) -> str | None:
    """The API base URL of the live daemon serving `data`, or None."""
    try:
        info = json.loads((data / PRESENCE_FILE).read_text())
        pid, url, device = int(info["pid"]), str(info["url"]), str(info["device"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not alive(pid):
        return None
    import urllib.request  # only when a daemon may run: http.client costs every command ~10 ms of CPU

    try:
        with urllib.request.urlopen(f"{url}/api/v1/status", timeout=PROBE_TIMEOUT) as response:
            answered = json.load(response).get("device")
    except (OSError, ValueError, AttributeError):  # URLError is an OSError
        return None
    return url if answered == device else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
