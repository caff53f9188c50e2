"""`pnyx run --advertise URL`: the address a daemon gives peers for itself, when the one it
listens on (0.0.0.0, behind a forward) is not one they can reach it by."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pnyxproc import Daemon, add_peers, free_port, init_all, query, wait_for

pytestmark = pytest.mark.slow
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1")


def learned(data: Path) -> dict[str, float | None]:
    """The peers a daemon learned from others, with when it last synced with each."""
    return dict(query(data, "SELECT url, last_success FROM peers WHERE source != 'added'"))


@pytest.mark.parametrize("advertised", [True, False], ids=["advertised", "listening-on-any"])
def test_peers_learn_and_reach_a_daemon_by_the_url_it_advertises(tmp_path: Path, advertised: bool) -> None:
    """A daemon on 0.0.0.0 has no address of its own to give; with --advertise its peers learn
    that URL (127.0.0.2 here: another loopback address, not the one it was added by) and sync
    with it there, and the daemon does not take its own URL for a peer."""
    a_data, b_data = tmp_path / "a", tmp_path / "b"
    init_all([a_data, b_data])
    port = free_port()
    url = f"http://127.0.0.2:{port}"
    b = Daemon(b_data, *GOSSIP)
    add_peers(a_data, b.url)
    a = Daemon(a_data, "--listen", f"0.0.0.0:{port}", *(["--advertise", url] if advertised else []),
               *GOSSIP, port=port)
    try:
        wait_for("a and b sync", lambda: bool(query(
            a_data, "SELECT 1 FROM peers WHERE url = ? AND last_success IS NOT NULL", b.url)), timeout=30)
        if advertised:
            wait_for("b syncs with a at the advertised URL",
                     lambda: learned(b_data).get(url) is not None, timeout=30)
            assert url not in learned(a_data)
        else:
            assert learned(b_data) == {}  # nothing to learn: 0.0.0.0 is nobody's address
    finally:
        a.stop()
        b.stop()
