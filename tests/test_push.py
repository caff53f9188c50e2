"""Push and periodic rounds between real daemons (README, "Gossip with other daemons").

With rounds ten minutes apart, a new change still reaches a peer, and is relayed to that
peer's peer, at once: only the push can have carried it. With `--no-push` only the
rounds are left, and each round syncs with `--fanout` random peers: with a fanout of 1,
three peers get a new change one round after another, never together.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apikit import a_vote, call, token
from tests.pnyxproc import Daemon, add_peers, free_port, init_all, query, wait_for

pytestmark = pytest.mark.slow
LONG_ROUNDS = ("--gossip-interval", "600", "--no-learn")  # a first round 5 to 15 minutes away
PUSH_BOUND = 5.0  # seconds; far below any round, generous for a loaded machine


def holds(data: Path, change: bytes) -> bool:
    return bool(query(data, "SELECT 1 FROM changes WHERE hash = ?", change))


def synced(data: Path, urls: list[str]) -> bool:
    """Whether this daemon has completed an exchange with each of `urls`."""
    done = {url for (url,) in query(data, "SELECT url FROM peers WHERE last_success IS NOT NULL")}
    return set(urls) <= done


def record(daemon: Daemon, title: str) -> bytes:
    """Record a decision through the daemon's API; the hash of the change it stored."""
    before = {bytes(h) for (h,) in query(daemon.data, "SELECT hash FROM changes")}
    status, answer = call(daemon, "POST", "/decisions", a_vote(title=title), auth=token(daemon.data))
    assert status == 201, answer
    (change,) = {bytes(h) for (h,) in query(daemon.data, "SELECT hash FROM changes")} - before
    return change


@pytest.fixture
def started() -> Iterator[list[Daemon]]:
    """Daemons started by a test, all stopped (and their clean exit checked) afterwards."""
    daemons: list[Daemon] = []
    yield daemons
    for daemon in reversed(daemons):
        daemon.stop()


def test_a_new_change_is_pushed_and_relayed_at_once(tmp_path: Path, started: list[Daemon]) -> None:
    a, b, c = (tmp_path / name for name in "ABC")
    init_all([a, b, c])
    ports = [free_port() for _ in range(3)]
    add_peers(a, f"http://127.0.0.1:{ports[1]}")  # A -> B -> C
    add_peers(b, f"http://127.0.0.1:{ports[2]}")
    for data, port in ((c, ports[2]), (b, ports[1]), (a, ports[0])):
        started.append(Daemon(data, *LONG_ROUNDS, port=port))
    last, middle, first = started
    wait_for("the exchanges every daemon makes as it starts",
             lambda: synced(a, [middle.url]) and synced(b, [last.url]), 30)

    change = record(first, "Pushed at once")
    took = wait_for("the peer to hold the change", lambda: holds(b, change), PUSH_BOUND)
    relayed = wait_for("the peer's peer to hold it", lambda: holds(c, change), PUSH_BOUND)
    print(f"pushed in {took:.2f} s, relayed after {took + relayed:.2f} s (rounds every 600 s)")


def test_without_push_each_round_reaches_fanout_peers(tmp_path: Path, started: list[Daemon]) -> None:
    source, *sinks = (tmp_path / name for name in ("source", "X", "Y", "Z"))
    init_all([source, *sinks])
    started += [Daemon(data, *LONG_ROUNDS) for data in sinks]
    add_peers(source, *(d.url for d in started))
    urls = [d.url for d in started]
    started.append(Daemon(source, "--no-push", "--fanout", "1", "--gossip-interval", "3", "--no-learn"))
    wait_for("the source's first exchange with each sink", lambda: synced(source, urls), 30)

    change = record(started[-1], "Carried by rounds only")
    arrived: dict[Path, float] = {}

    def everywhere() -> bool:
        for sink in sinks:
            if sink not in arrived and holds(sink, change):
                arrived[sink] = time.monotonic()
        return len(arrived) == len(sinks)

    wait_for("every sink to get the change in some round", everywhere, 120)
    times = sorted(arrived.values())
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    print(f"arrivals {[round(t - times[0], 2) for t in times]} s apart (rounds every 1.5 to 4.5 s)")
    # a push, or a round to all three, would bring it to the three together
    assert min(gaps) > 0.75, gaps
