"""A hostile peer against a real daemon, each figure beside the same run without attack.

1. Floods: while a flood runs against the victim daemon, an honest peer it knows (it
   pushed stored changes before) brings it HONEST new changes (`pnyx sync VICTIM` on the
   peer's data directory: they arrive as pushes, judged by the victim daemon under attack),
   and /pnyx/v1/status is polled: catch-up time and status latency (median, worst) as
   ratios to the same measurement without the flood, taken right before it (goal: at most
   1.5).
   - pending: 10,500 changes on made-up dependencies from a throwaway key;
   - bad signatures: three pushes at once of 20,000 envelopes (a pack's most) whose
     signatures fail; 26,500 of them, one item over a pack's bound, were refused as they
     were decoded, never verified, until such bodies were charged to their sender;
   - equivocations: 600 changes of 50 KB claiming one actor's seq 1.
2. Bombs: peak memory (VmHWM) of the victim daemon after four 7.8 MiB sync bodies of nested
   empty arrays at once, and of the CLI reading a 15 MiB bundle header and state file
   of the same, above the same process quiet (goal: at most 50 MB).
"""

from __future__ import annotations

import http.client
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from pnyx.federation.wirelimits import PACK

from bench.attacks import (
    bad_signatures,
    bundle_header_bomb,
    equivocations,
    nested_empty_arrays,
    push_bodies,
    state_file_bomb,
    waiting_junk,
)
from bench.corpus import ledger_chain, new_key
from bench.peak import cli_peak_mb, peak_mb
from bench.sync import PNYX, Daemon, count, ingest, init_all

HONEST = 2_000
POLLS = 40
GOAL_RATIO = 1.5
GOAL_MB = 50.0


def post(url: str, body: bytes, source: str = "127.0.0.1") -> int:
    """POST a sync body from the local address `source` (each attacker its own address)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=120, source_address=(source, 0))
    try:
        connection.request("POST", "/pnyx/v1/sync", body=body,
                           headers={"Content-Type": "application/msgpack"})
        response = connection.getresponse()
        response.read()
        return int(response.status)
    except OSError:
        return 0
    finally:
        connection.close()


def status_latency(url: str, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set() and len(out) < POLLS:
        start = time.perf_counter()
        with urllib.request.urlopen(f"{url}/pnyx/v1/status", timeout=120) as response:
            response.read()
        out.append(time.perf_counter() - start)
        time.sleep(0.05)


class Flood:
    """Posts `bodies` over and over from `threads` threads until stopped; counts answers."""

    def __init__(self, url: str, bodies: list[bytes], threads: int, source: str) -> None:
        self.url, self.bodies, self.source = url, bodies, source
        self.stop = threading.Event()
        self.answers: dict[int, int] = {}
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, offset: int) -> None:
        i = offset
        while not self.stop.is_set():
            status = post(self.url, self.bodies[i % len(self.bodies)], self.source)
            self.answers[status] = self.answers.get(status, 0) + 1
            i += 1

    def __enter__(self) -> Flood:
        for t in self.threads:
            t.start()
        time.sleep(0.5)  # the flood is under way before anything is measured
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def measure(victim: Path, daemon: Daemon, source: Path) -> tuple[float, list[float]]:
    """Seconds for the victim to catch up a fresh honest chain, and status latencies meanwhile."""
    before = count(victim)
    ingest(source, ledger_chain(new_key(), HONEST)[1])
    latencies: list[float] = []
    stop = threading.Event()
    poller = threading.Thread(target=status_latency, args=(daemon.url, stop, latencies))
    poller.start()
    start = time.perf_counter()
    subprocess.run([*PNYX, "--data", str(source), "sync", daemon.url], check=True,
                   capture_output=True, timeout=600)
    took = time.perf_counter() - start
    poller.join()
    stop.set()
    assert count(victim) >= before + HONEST, "the honest chain did not arrive"
    return took, latencies


def report(name: str, quiet: tuple[float, list[float]], loud: tuple[float, list[float]],
           answers: dict[int, int]) -> None:
    q_med, l_med = statistics.median(quiet[1]), statistics.median(loud[1])
    q_max, l_max = max(quiet[1]), max(loud[1])
    ratios = (loud[0] / quiet[0], l_med / q_med, l_max / q_max)
    verdict = "ok" if max(ratios[:2]) <= GOAL_RATIO else "OVER GOAL"
    print(f"  {name:15} quiet: catch-up {quiet[0]:5.2f} s, status median {q_med * 1000:5.1f} ms, "
          f"worst {q_max * 1000:6.1f} ms", flush=True)
    print(f"  {'':15} flood: catch-up {loud[0]:5.2f} s ({ratios[0]:4.2f}x), status median "
          f"{l_med * 1000:5.1f} ms ({ratios[1]:4.2f}x), worst {l_max * 1000:6.1f} ms "
          f"({ratios[2]:4.2f}x)  [{verdict}]  answers {dict(sorted(answers.items()))}", flush=True)


def floods(root: Path) -> None:
    victim, source = root / "victim", root / "source"
    init_all([victim, source])
    daemon = Daemon(victim)
    daemon.wait_ready()
    try:
        measure(victim, daemon, source)  # the victim gets to know the honest peer
        attacks: list[tuple[str, Callable[[], list[bytes]], int]] = [
            ("pending", lambda: push_bodies(waiting_junk(new_key(), 10_500)), 1),
            ("bad signatures", lambda: push_bodies(bad_signatures(PACK.max_array), PACK.max_array), 3),
            ("equivocations", lambda: push_bodies(equivocations(new_key(), 600, 50_000), 150), 1),
        ]
        for n, (name, make, threads) in enumerate(attacks):
            bodies = make()
            quiet = measure(victim, daemon, source)  # right before: the machine's load drifts
            # each attacker from an address of its own, as from another machine
            with Flood(daemon.url, bodies, threads, f"127.0.0.{10 + n}") as flood:
                loud = measure(victim, daemon, source)
            report(name, quiet, loud, flood.answers)
    finally:
        daemon.stop()


def bombs(root: Path) -> None:
    victim = root / "bombed"
    init_all([victim])
    daemon = Daemon(victim)
    daemon.wait_ready()
    try:
        for _ in range(POLLS):
            urllib.request.urlopen(f"{daemon.url}/pnyx/v1/status", timeout=60).read()
        quiet = peak_mb(daemon.proc.pid)
        body = nested_empty_arrays()
        answers: list[int] = []
        threads = [threading.Thread(target=lambda: answers.append(post(daemon.url, body)))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        above = peak_mb(daemon.proc.pid) - quiet
        print(f"  {'sync bodies':15} +{above:6.1f} MB above the quiet daemon ({quiet:.0f} MB)"
              f"  [{'ok' if above <= GOAL_MB else 'OVER GOAL'}]  answers {sorted(answers)}", flush=True)
    finally:
        daemon.stop()
    quiet_cli, _ = cli_peak_mb(["--data", str(victim), "status"])
    for name, data, args in [
        ("bundle header", bundle_header_bomb(), ["bundle", "import"]),
        ("state file", state_file_bomb(), ["bundle", "export", "--output", str(root / "out.bundle"),
                                           "--for"]),
    ]:
        path = root / f"{name.replace(' ', '-')}.bomb"
        path.write_bytes(data)
        peak, _ = cli_peak_mb(["--data", str(victim), *args, str(path)])
        above = peak - quiet_cli
        print(f"  {name:15} +{above:6.1f} MB above the quiet CLI ({quiet_cli:.0f} MB)"
              f"  [{'ok' if above <= GOAL_MB else 'OVER GOAL'}]", flush=True)


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        floods(Path(tmp))
        bombs(Path(tmp))
