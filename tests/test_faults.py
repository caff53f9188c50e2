"""Faults of the machine, not of peers: a full disk (a small tmpfs this test mounts as root),
a damaged, emptied or misplaced store, a data directory that is not one. Each ends in one line
`pnyx: error: ...` saying what to do and a non-zero exit, or in a JSON 503/507 from the daemon;
nothing half-written is ever shown."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pnyx.daemon.store.node import read_key
from pnyx.federation.keys import key_text

from tests.apikit import a_vote, call, serve, token
from tests.pnyxproc import PNYX, cli, free_port

pytestmark = pytest.mark.slow


def one_line_error(result: subprocess.CompletedProcess[str], *words: str, logs: bool = False) -> None:
    """A non-zero exit with one line `pnyx: error: ...` naming `words`; after the daemon's log
    lines if `logs` (pnyx run logs to stderr)."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("pnyx: error: ")]
    assert errors == lines[-1:] and (logs or len(lines) == 1), result.stderr
    assert all(w in errors[0] for w in words), errors[0]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs mounted for this test (root only: CI and these machines run as root)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte; the filler file is returned to free it later."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_is_a_clear_error_and_shows_nothing_unstored(small_disk: Path) -> None:
    data = small_disk / "node"
    cli(data, "init", "--assembly", "Barrio Norte")
    daemon = serve(data)
    try:
        auth = token(data)
        assert call(daemon, "POST", "/decisions", a_vote(title="Before"), auth=auth)[0] == 201
        filler = fill(small_disk)
        refused = None
        for n in range(60):  # the store's journal has some room left; the disk runs out soon
            status, answer = call(daemon, "POST", "/decisions",
                                  a_vote(title=f"Big {n}", text="ñ" * 20_000), auth=auth)
            if status != 201:
                refused = (n, status, answer)
                break
        assert refused is not None, "the full disk never refused a write"
        n, status, answer = refused
        assert status == 507 and "full" in answer["error"]["message"], answer
        titles = [d["title"] for d in call(daemon, "GET", "/decisions")[1]]
        assert f"Big {n}" not in titles and "Before" in titles
        through_cli = cli(data, "decide", "--title", "From the CLI", "--date", "2026-11-05",
                          "--for", "1", "--against", "0", "--abstain", "0", check=False)
        one_line_error(through_cli, "full")
        filler.unlink()
        status, answer = call(daemon, "POST", "/decisions", a_vote(title="After"), auth=auth)
        assert status == 201, answer
        titles = [d["title"] for d in call(daemon, "GET", "/decisions")[1]]
        assert "After" in titles and f"Big {n}" not in titles
        fill(small_disk)
    finally:
        daemon.stop()
    # Without a daemon, and a daemon restarted while the disk is full: one line, or it serves.
    direct = cli(data, "decide", "--title", "Direct", "--date", "2026-11-05", "--for", "1",
                 "--against", "0", "--abstain", "0", check=False)
    if direct.returncode != 0:
        one_line_error(direct, "full")
    restarted = restart_outcome(data)
    if restarted is not None:
        one_line_error(restarted, "full", logs=True)


def restart_outcome(data: Path) -> subprocess.CompletedProcess[str] | None:
    """None if `pnyx run` serves; else how it ended."""
    port = free_port()
    proc = subprocess.Popen([*PNYX, "--data", str(data), "run", "--listen", f"127.0.0.1:{port}",
                             "--no-discovery"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                out, err = proc.communicate()
                return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
            if (data / "daemon.json").exists():
                return None
            time.sleep(0.05)
        raise AssertionError("pnyx run neither served nor stopped")
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.communicate(timeout=30)


@pytest.fixture
def secretary(tmp_path: Path) -> Path:
    data = tmp_path / "node"
    cli(data, "init", "--assembly", "Barrio Sur")
    cli(data, "decide", "--title", "Kept", "--date", "2026-11-01", "--for", "3", "--against", "0",
        "--abstain", "0")
    return data


def test_an_emptied_store_is_noticed(secretary: Path) -> None:
    (secretary / "pnyx.sqlite").write_bytes(b"")
    for wal in ("pnyx.sqlite-wal", "pnyx.sqlite-shm"):
        (secretary / wal).unlink(missing_ok=True)
    one_line_error(cli(secretary, "status", check=False), "emptied or replaced", "backup")
    one_line_error(cli(secretary, "run", "--no-discovery", "--listen", f"127.0.0.1:{free_port()}",
                       check=False), "emptied or replaced", logs=True)
    verify = cli(secretary, "verify", check=False)
    assert verify.returncode == 1 and "emptied or replaced" in verify.stdout, verify


def test_a_damaged_store_is_one_line(secretary: Path) -> None:
    store = secretary / "pnyx.sqlite"
    cli(secretary, "status")  # checkpointed and closed: the changes are in the main file
    data = bytearray(store.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)  # every page after the first is garbage
    store.write_bytes(bytes(data))
    for wal in ("pnyx.sqlite-wal", "pnyx.sqlite-shm"):
        (secretary / wal).unlink(missing_ok=True)
    one_line_error(cli(secretary, "status", check=False), "damaged")
    one_line_error(cli(secretary, "verify", check=False), "damaged")


def test_a_store_that_is_a_directory_and_a_data_dir_that_is_a_file(secretary: Path) -> None:
    store = secretary / "pnyx.sqlite"
    store.unlink()
    store.mkdir()
    one_line_error(cli(secretary, "status", check=False), "cannot be opened")
    shutil.rmtree(store)
    not_a_dir = secretary.parent / "a-file"
    not_a_dir.write_text("hello\n")
    one_line_error(cli(not_a_dir, "status", check=False), "not a data directory")


class SilentOnWrites(http.server.BaseHTTPRequestHandler):
    """A daemon that answers the CLI's probe as the data directory's device, then drops every
    write without a word: what a daemon killed in the middle of a write looks like."""

    device = ""

    def do_GET(self) -> None:
        body = json.dumps({"device": self.device}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def log_message(self, *args: object) -> None:
        pass


def test_the_cli_says_plainly_when_it_cannot_know_whether_a_write_was_stored(secretary: Path) -> None:
    device = key_text(read_key(secretary / "device.key").public)
    handler = type("Handler", (SilentOnWrites,), {"device": device})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (secretary / "daemon.json").write_text(json.dumps(
            {"pid": os.getpid(), "url": f"http://127.0.0.1:{server.server_port}", "device": device}))
        result = cli(secretary, "--request-id", "lost-reply-0001", "decide", "--title", "Unknown",
                     "--date", "2026-11-04", "--for", "1", "--against", "0", "--abstain", "0",
                     check=False)
    finally:
        server.shutdown()
        server.server_close()
    one_line_error(result, "unknown", "--request-id lost-reply-0001", "at most once")
    # The daemon is gone: the same command again writes the store itself, once.
    (secretary / "daemon.json").unlink()
    args = ("--request-id", "lost-reply-0001", "decide", "--title", "Unknown", "--date", "2026-11-04",
            "--for", "1", "--against", "0", "--abstain", "0")
    cli(secretary, *args)
    cli(secretary, *args)
    titles = [d["title"] for d in json.loads(cli(secretary, "show", "decisions", "--json").stdout)]
    assert titles.count("Unknown") == 1
