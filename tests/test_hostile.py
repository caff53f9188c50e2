"""A hostile peer against real daemons: floods stay bounded, junk is charged to its sender and
slowed, bombs cost no memory, every bad request is a JSON 4xx, and the local API answers only
requests addressed to this daemon (DNS rebinding)."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from pnyx.federation.envelope import Envelope
from pnyx.federation.syncmsg import Pushed, decode_reply

from bench.attacks import (
    bad_signatures,
    equivocations,
    nested_empty_arrays,
    push_bodies,
    waiting_junk,
)
from bench.corpus import new_key
from tests.apikit import a_vote, call, serve, token
from tests.pnyxproc import Daemon, cli, post, query

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    data = tmp_path_factory.mktemp("hostile") / "victim"
    cli(data, "init", "--assembly", "Barrio Norte")
    d = serve(data)
    yield d
    d.stop()


def push(daemon: Daemon, envelopes: list[Envelope]) -> Pushed:
    (body,) = push_bodies(envelopes, len(envelopes))
    status, answer = post(f"{daemon.url}/pnyx/v1/sync", body)
    assert status == 200, answer
    reply = decode_reply(answer)
    assert isinstance(reply, Pushed)
    return reply


def envelopes_of(data: Path) -> list[Envelope]:
    return [Envelope(d, bytes(c), bytes(k), bytes(s)) for d, c, k, s in query(
        data, "SELECT doc, change, signer, signature FROM changes ORDER BY seqno")]


def test_a_pending_flood_is_bounded_and_an_early_honest_change_still_waits(
        daemon: Daemon, tmp_path: Path) -> None:
    # Fifteen throwaway keys, 100 junk changes each (the most an unknown signer may park),
    # plus 50 more from one of them: the unknown signers' share (1,000) fills up.
    keys = [new_key() for _ in range(15)]
    replies = [push(daemon, waiting_junk(key, 100)) for key in keys]
    extra = push(daemon, waiting_junk(keys[0], 50))
    parked = sum(r.pending for r in replies)
    assert parked == 1_000, [(r.pending, r.deferred) for r in replies]
    assert extra.pending == 0 and extra.deferred == 50 and extra.duplicate == 0
    assert query(daemon.data, "SELECT count(*) FROM pending")[0][0] == 1_000
    # An honest assembly's change that arrives before its parent waits, and is never
    # reported as duplicate; its parent lets it in.
    honest = tmp_path / "honest"
    cli(honest, "init", "--assembly", "Barrio Sur")
    cli(honest, "decide", "--title", "Parent", "--date", "2026-11-01", "--for", "3", "--against", "1",
        "--abstain", "0")
    cli(honest, "decide", "--title", "Child", "--date", "2026-11-02", "--for", "3", "--against", "1",
        "--abstain", "0")
    genesis, parent, child = envelopes_of(honest)
    assert push(daemon, [genesis]).accepted == 1
    early = push(daemon, [child])
    assert (early.pending, early.duplicate, early.deferred) == (1, 0, 0), early
    again = push(daemon, [child])
    assert (again.pending, again.duplicate, again.deferred) == (1, 0, 0), again
    late = push(daemon, [parent])
    assert late.accepted == 2 and late.pending == 0, late
    held = query(daemon.data, "SELECT count(*) FROM changes WHERE doc = ?", genesis.doc_id)[0][0]
    assert held == 3


def test_equivocations_leave_one_pair_of_evidence(daemon: Daemon) -> None:
    key = new_key()
    reply = push(daemon, equivocations(key, 40, payload=2_000))
    assert reply.accepted == 1 and reply.rejected == 39 and reply.reasons == ("equivocation",)
    rows = query(daemon.data, "SELECT count(*), coalesce(sum(length(envelope)), 0) FROM evidence"
                              " WHERE signer = ?", key.public)
    assert rows[0][0] == 2 and rows[0][1] < 10_000


def test_bad_requests_are_answered_in_json_never_500(daemon: Daemon) -> None:
    pull = {"v": 3, "t": "pull", "wants": [], "cursor": 1 << 63, "limit": 10}
    status, body = post(f"{daemon.url}/pnyx/v1/sync", msgpack.packb(pull))
    assert status == 400 and json.loads(body)["error"] == "bad-message", body
    status, answer = call(daemon, "POST", "/decisions", raw=b'{"title": "\\ud800", "date": "2026-11-20",'
                          b' "tally": {"votes_for": 1, "against": 0, "abstain": 0}}',
                          auth=token(daemon.data))
    assert status == 400 and "surrogate" in answer["error"]["message"], answer
    for path, expected in [("/nowhere", 404), ("/pnyx/v1/view?as_of=yesterday", 400),
                           ("/pnyx/v1/sync", 405), ("/api/v1/nowhere", 404)]:
        status, raw = raw_get(daemon, path, f"127.0.0.1:{daemon.port}")
        assert status == expected and isinstance(json.loads(raw)["error"], (str, dict)), (path, raw)


def raw_get(daemon: Daemon, path: str, host: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        body = response.read(4096) if path.endswith("/events") else response.read()
        return response.status, body
    finally:
        connection.close()


REBOUND = ["/api/v1/peers", "/api/v1/decisions", "/", "/static/app.js", "/api/v1/events"]


def test_requests_addressed_to_another_name_are_refused(daemon: Daemon) -> None:
    evil = f"rebind.evil.example:{daemon.port}"
    for path in REBOUND:
        status, body = raw_get(daemon, path, evil)
        assert status == 403 and "rebind.evil.example" in json.loads(body)["error"]["message"], path
    for host in (f"localhost:{daemon.port}", f"127.0.0.1:{daemon.port}", f"[::1]:{daemon.port}"):
        status, _ = raw_get(daemon, "/api/v1/peers", host)
        assert status == 200, host
    # The peer protocol answers peers under any name.
    assert raw_get(daemon, "/pnyx/v1/status", evil)[0] == 200


def test_api_remote_names_what_else_is_allowed(tmp_path: Path) -> None:
    data = tmp_path / "named"
    cli(data, "init", "--assembly", "Barrio Este")
    d = serve(data, "--api-remote", "pnyx.barrio.example")
    try:
        assert raw_get(d, "/api/v1/peers", f"pnyx.barrio.example:{d.port}")[0] == 200
        assert raw_get(d, "/api/v1/peers", f"rebind.evil.example:{d.port}")[0] == 403
    finally:
        d.stop()


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_sync_body_bomb_costs_the_daemon_no_memory(tmp_path: Path) -> None:
    """A bomb is refused as it is decoded, and charged to its sender by its size: the next is
    refused unread. Its own daemon: the charge would slow down every other test's pushes."""
    data = tmp_path / "target"
    cli(data, "init", "--assembly", "Barrio Este")
    daemon = serve(data)
    try:
        body = nested_empty_arrays()
        post(f"{daemon.url}/pnyx/v1/sync", body[:1000])  # warm the body-reading path up
        before = vm_hwm_mb(daemon.proc.pid)
        for expected in ((413, "oversized"), (429, "slow-down")):
            status, answer = post(f"{daemon.url}/pnyx/v1/sync", body)
            assert (status, json.loads(answer)["error"]) == expected, answer
        assert vm_hwm_mb(daemon.proc.pid) - before < 50, "a refused bomb grew the daemon"
        assert daemon.status()["changes"] >= 1
    finally:
        daemon.stop()


def test_a_sender_of_junk_is_slowed_down_and_named(tmp_path: Path) -> None:
    data = tmp_path / "target"
    cli(data, "init", "--assembly", "Barrio Oeste")
    d = serve(data)
    try:
        junk = bad_signatures(1_200)
        first = push(d, junk)
        assert first.rejected >= 1_000 and first.deferred == 1_200 - first.rejected
        status, body = post(f"{d.url}/pnyx/v1/sync", push_bodies(junk[:10])[0])
        assert status == 429 and json.loads(body)["error"] == "slow-down", body
        assert d.status()["changes"] >= 1  # the daemon itself still answers
        listed = cli(data, "peers").stdout
        assert "address:127.0.0.1" in listed and "rejected" in listed and "bad-signature" in listed
    finally:
        d.stop()
    rows = query(data, "SELECT rejected, refused FROM push_senders WHERE sender = ?",
                 "address:127.0.0.1")
    assert rows[0][0] == first.rejected and rows[0][1] >= 1


def test_a_sender_of_large_malformed_bodies_is_slowed_down_before_they_are_read(tmp_path: Path) -> None:
    """A large push that is no valid message (a pack one item over its bound) is answered 400
    and charged to its sender by its size, so its next large push is answered 429 unread."""
    data = tmp_path / "target"
    cli(data, "init", "--assembly", "Barrio Sur")
    d = serve(data)
    try:
        (malformed,) = push_bodies(bad_signatures(20_001), 20_001)
        status, body = post(f"{d.url}/pnyx/v1/sync", malformed)
        assert status == 400 and "at most 20000" in json.loads(body)["detail"], body
        status, body = post(f"{d.url}/pnyx/v1/sync", push_bodies(bad_signatures(2_000), 2_000)[0])
        assert status == 429 and json.loads(body)["error"] == "slow-down", body
        assert d.status()["changes"] == 1  # nothing stored, and the daemon still answers
    finally:
        d.stop()


def test_a_write_with_a_request_id_is_recorded_once(daemon: Daemon) -> None:
    headers = {"Idempotency-Key": "retry-after-a-lost-reply-1"}
    auth = token(daemon.data)
    first = call(daemon, "POST", "/decisions", a_vote(title="Once only"), auth=auth, headers=headers)
    again = call(daemon, "POST", "/decisions", a_vote(title="Once only"), auth=auth, headers=headers)
    assert first[0] == again[0] == 201 and first[1] == again[1]
    titles = [d["title"] for d in call(daemon, "GET", "/decisions")[1]]
    assert titles.count("Once only") == 1
    other = call(daemon, "POST", "/decisions", a_vote(title="Another"), auth=auth, headers=headers)
    assert other[0] == 400 and "another write" in other[1]["error"]["message"]


def test_the_cli_records_a_write_once_per_request_id(tmp_path: Path) -> None:
    data = tmp_path / "secretary"
    cli(data, "init", "--assembly", "Barrio Centro")
    args = ("decide", "--title", "Retried", "--date", "2026-11-03", "--for", "5", "--against", "0",
            "--abstain", "0")
    cli(data, "--request-id", "cli-retry-0001", *args)
    cli(data, "--request-id", "cli-retry-0001", *args)
    decisions: list[dict[str, Any]] = json.loads(cli(data, "show", "decisions", "--json").stdout)
    assert [d["title"] for d in decisions].count("Retried") == 1
