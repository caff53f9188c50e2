"""POST /pnyx/v1/sync on a real daemon: each bad request gets its 4xx and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import msgpack
import pytest
from pnyx.federation.syncmsg import MAX_BODY_BYTES, Same, decode_reply

from tests.pnyxproc import Daemon, cli, cli_json, free_port, post, query, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data = tmp_path_factory.mktemp("http") / "node"
    cli(data, "init", "--assembly", "Barrio Norte")
    d = Daemon(data)
    yield d
    d.stop()


def packed(value: object) -> bytes:
    return bytes(msgpack.packb(value, use_bin_type=True))


HELLO = {"v": 3, "t": "hello", "root": bytes(32), "key": bytes(32), "url": "http://127.0.0.1:9"}
BAD = [
    ("not msgpack", b"\xc1\xc1", "application/msgpack", 400, "malformed-msgpack"),
    ("wrong types", packed(HELLO | {"root": "zz"}), "application/msgpack", 400, "bad-message"),
    ("unknown version", packed(HELLO | {"v": 7}), "application/msgpack", 400, "unsupported-version"),
    ("unknown message", packed(HELLO | {"t": "delete-all"}), "application/msgpack", 400, "bad-message"),
    ("bad pack", packed({"v": 3, "t": "push", "pack": b"\x00\x01"}),
     "application/msgpack", 400, "bad-message"),
    ("json body", json.dumps({"v": 3}).encode(), "application/json", 415, "unsupported-media-type"),
    ("oversized", bytes(MAX_BODY_BYTES + 10), "application/msgpack", 413, "oversized"),
]


@pytest.mark.parametrize("name,body,content_type,status,code", BAD, ids=[b[0] for b in BAD])
def test_bad_requests(daemon: Daemon, name: str, body: bytes, content_type: str, status: int,
                      code: str) -> None:
    before = daemon.status()
    peers_before = query(daemon.data, "SELECT * FROM peers")
    got, answer = post(f"{daemon.url}/pnyx/v1/sync", body, content_type)
    assert got == status
    assert json.loads(answer)["error"] == code
    after = daemon.status()
    assert {k: after[k] for k in ("changes", "pending", "evidence", "sync_digest")} == \
        {k: before[k] for k in ("changes", "pending", "evidence", "sync_digest")}
    assert query(daemon.data, "SELECT * FROM peers") == peers_before  # the url in a bad hello was not learned


def test_equal_digest_is_one_small_round_trip(daemon: Daemon) -> None:
    digest = bytes.fromhex(daemon.status()["sync_digest"])
    body = packed(HELLO | {"root": digest, "key": b"\x01" * 32})
    status, answer = post(f"{daemon.url}/pnyx/v1/sync", body)
    assert status == 200 and isinstance(decode_reply(answer), Same)
    assert len(body) + len(answer) < 256
    assert [p["url"] for p in cli_json(daemon.data, "peers")] == ["http://127.0.0.1:9"]


def test_unreachable_peer_backs_off(tmp_path: Path) -> None:
    """Gossip rounds every 0.1 s, yet each retry of a dead peer waits until the time its
    last failure set, and those waits grow (2^n s times a factor in [0.5, 1.5))."""
    data = tmp_path / "lonely"
    dead = f"http://127.0.0.1:{free_port()}"
    cli(data, "init", "--assembly", "Lonely")
    cli(data, "peers", "add", dead)
    assert "was already a peer" in cli(data, "peers", "add", dead + "/").stdout
    assert cli(data, "peers", "add", "ftp://x", check=False).returncode == 2
    result = cli(data, "sync", dead, check=False)
    assert result.returncode == 1 and "sync stopped" in result.stderr
    attempts: dict[int, tuple[float, float]] = {}  # failures -> (attempted at, next attempt)

    def third_failure() -> bool:
        ((failures, attempted, due),) = query(data, "SELECT failures, last_attempt, next_attempt FROM peers")
        if failures:
            attempts.setdefault(failures, (attempted, due))
        return failures >= 3

    daemon = Daemon(data, "--gossip-interval", "0.1")
    try:
        wait_for("three failed attempts", third_failure, 40)
        (peer,) = cli_json(data, "peers")
        assert peer["retry_in_seconds"] > 0
        assert "ClientConnectorError" in peer["last_error"]
    finally:
        assert daemon.stop() == 0
    assert sorted(attempts) == [1, 2, 3], attempts  # each failure state was seen: none was skipped
    for n in (1, 2):
        attempted, due = attempts[n]
        assert due - attempted >= 0.5 * 2 ** n  # the wait grows with the failures
        assert due <= attempts[n + 1][0] < due + 5  # retried once it is over, not before
    assert cli(data, "peers", "remove", dead).returncode == 0
    assert cli_json(data, "peers") == []
