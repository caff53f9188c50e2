"""A draw by lot across three running daemons: declared by one assembly's vote (through the
CLI), committed and revealed by two others (one through the API, one through the CLI), and
recomputed identically everywhere: the same chances, seed and panel at every daemon, and by
`pnyx sortition verify` on each data directory. Reveals before every commitment is held, and
steps by an assembly that does not participate, are refused and write nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .apikit import call, serve, token
from .confedkit import World
from .pnyxproc import Daemon, cli, wait_for

pytestmark = pytest.mark.slow
GOSSIP = ("--gossip-interval", "1", "--watch-interval", "0.1")
AS_OF = "2026-10-20"
POOL = {f"p{n:02d}": {"gender": "woman" if n % 2 else "man", "area": "north" if n < 4 else "south"}
        for n in range(8)}


def draws(daemon: Daemon) -> list[dict[str, Any]]:
    status, rows = call(daemon, "GET", f"/draws?as_of={AS_OF}")
    assert status == 200
    return list(rows)


def one_draw(daemon: Daemon, ref: str) -> dict[str, Any]:
    status, row = call(daemon, "GET", f"/draws/{ref}?as_of={AS_OF}")
    return dict(row) if status == 200 else {"status": f"http {status}"}


def test_a_draw_declared_at_one_daemon_committed_and_revealed_by_two_others(tmp_path: Path) -> None:
    world = World(tmp_path)
    keys = {name: world.assembly(name) for name in ("hall", "north", "south", "stranger")}
    world.spread()
    world.close()
    hall, north, south, stranger = (tmp_path / n for n in ("hall", "north", "south", "stranger"))
    (tmp_path / "pool.json").write_text(json.dumps(POOL))

    declared = cli(hall, "sortition", "draw", "--pool", str(tmp_path / "pool.json"), "--seats", "4",
                   "--quota", "gender=woman:2:2", "--quota", "area=north:1:3",
                   "--participant", keys["north"], "--participant", keys["south"],
                   "--commit-by", "2026-10-05", "--reveal-by", "2026-10-10", "--title", "Water council",
                   "--date", "2026-10-01", "--for", "30", "--against", "2", "--abstain", "1")
    ref = declared.stdout.strip()
    assert ref.startswith(keys["hall"] + "/")
    assert "pnyx: lottery: " in declared.stderr and "profiles have their chance" in declared.stderr
    bad = cli(hall, "sortition", "draw", "--pool", str(tmp_path / "pool.json"), "--seats", "4",
              "--quota", "gender=woman:5:5", "--participant", keys["north"], "--participant", keys["south"],
              "--commit-by", "2026-10-05", "--reveal-by", "2026-10-10",
              "--date", "2026-10-01", "--for", "30", "--against", "2", "--abstain", "1", check=False)
    assert bad.returncode != 0 and bad.stderr.startswith("pnyx: error: ") and "Traceback" not in bad.stderr

    daemons = {name: serve(tmp_path / name, *GOSSIP) for name in ("hall", "north", "south")}
    try:
        urls = {name: d.url for name, d in daemons.items()}
        for name in daemons:
            for other in daemons:
                if other != name:
                    cli(tmp_path / name, "peers", "add", urls[other])
        wait_for("the declaration reaches every daemon",
                 lambda: all(one_draw(d, ref).get("status") == "void" for d in daemons.values()), 60)
        row = one_draw(daemons["hall"], ref)
        chances = row["chances"]
        assert sorted(chances) == sorted(POOL)
        total = sum(int(c.split("/")[0]) / int(c.split("/")[1]) for c in chances.values())
        assert abs(total - 4) < 1e-9  # the chances add up to the seats

        # north commits through the API; south through the CLI; the stranger is refused
        status, committed = call(daemons["north"], "POST", f"/draws/{ref}/commit", {"date": "2026-10-03"},
                                 auth=token(north))
        assert status == 201 and committed["step"] == "commit"
        status, again = call(daemons["north"], "POST", f"/draws/{ref}/commit", {"date": "2026-10-04"},
                             auth=token(north))
        assert status == 422 and "already committed" in again["error"]["message"]
        wait_for("north's commitment reaches south",
                 lambda: any(p["committed"] for p in one_draw(daemons["south"], ref).get("participants", [])),
                 60)
        early = cli(south, "sortition", "reveal", ref, "--date", "2026-10-06", check=False)
        assert early.returncode != 0 and "commitment" in early.stderr and "Traceback" not in early.stderr
        cli(south, "sortition", "commit", ref, "--date", "2026-10-04")
        outsider = cli(hall, "sortition", "commit", ref, "--date", "2026-10-04", check=False)
        assert outsider.returncode != 0 and "not a participant" in outsider.stderr

        wait_for("both commitments reach north",
                 lambda: all(p["committed"] for p in one_draw(daemons["north"], ref)["participants"]), 60)
        status, revealed = call(daemons["north"], "POST", f"/draws/{ref}/reveal", {"date": "2026-10-07"},
                                auth=token(north))
        assert status == 201, revealed
        wait_for("both commitments reach south",
                 lambda: all(p["committed"] for p in one_draw(daemons["south"], ref)["participants"]), 60)
        cli(south, "sortition", "reveal", ref, "--date", "2026-10-08")
        wait_for("every daemon draws the same panel",
                 lambda: len({json.dumps(one_draw(d, ref), sort_keys=True) for d in daemons.values()}) == 1
                 and one_draw(daemons["hall"], ref)["status"] == "drawn", 60)
        drawn = one_draw(daemons["hall"], ref)
        assert len(drawn["panel"]) == 4
        assert sum(POOL[p]["gender"] == "woman" for p in drawn["panel"]) == 2
        assert all(chances[p] != "0/1" for p in drawn["panel"])
        assert draws(daemons["south"]) == [drawn]
    finally:
        for daemon in daemons.values():
            daemon.stop()
    # offline, each data directory recomputes the same draw from the records it holds
    for data in (hall, north, south):
        verified = cli(data, "sortition", "verify", ref, "--as-of", AS_OF, "--json")
        assert json.loads(verified.stdout)["panel"] == drawn["panel"]
        assert "verified" in verified.stderr
    # before the reveals' dates the draw is still open; the stranger holds nothing of it
    assert json.loads(cli(hall, "sortition", "show", ref, "--as-of", "2026-10-06",
                          "--json").stdout)["status"] == "revealing"
    missing = cli(stranger, "sortition", "verify", ref, "--as-of", AS_OF, check=False)
    assert missing.returncode != 0 and "not held" in missing.stderr
