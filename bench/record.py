"""Recording each kind of write, whatever the size of the ledger; and what `status` and `show` load.

For each size, a data directory is founded afresh, then its ledger is filled with
100, 10,000 or 100,000 plain decisions (500 to a change, so that filling is quick).
After the fill, every kind of write a secretary or a delegate makes is recorded as the
daemon records it for the local API, the web page and the CLI: through the table
of writes (daemon/services/writes.py) on the open node, which checks the input
against the ledger, makes the change, signs it and stores it through ingest:

- a decision; a mandate granted; a recall of a mandate; a delegate's act under its
  mandate (the device's own key is the delegate's); a ratification of a proposal;
  the acceptance of a charter; the revocation of a device.

What each needs (the mandates to recall, the proposals to ratify, the charters to
accept, the devices to revoke) is written first, untimed. Each size starts from its own
founding, so these, and the writes timed, are as many at every size: only the plain
decisions grow, and the ratio isolates the size of the ledger. The goal is under 20 ms
whatever the size; the ratio printed is the time at each size over the time at 100
records, the baseline in the same run (1.0: a write does not grow with the ledger); each
write's CPU time is printed too, which leaves out the wait for the disk's sync of the store.
Then, as a command would, a fresh process state opens the node and reads `status`
(the profile alone), `show decisions` (the newest 50, from the index of records;
bench/show.py measures the reads further) and `show devices` (from the table of devices; as
the baseline of the same run, the devices read from the whole ledger document, as before
that table), and the same first read of a store whose ledger
was indexed before the index existed, or in an older format: the one-time indexing of the
whole ledger from its document. `PNYX_BENCH_RECORD_SIZES` (e.g. `100,10000`) picks other
sizes.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from automerge.core import Transaction
from pnyx.daemon.services.listing import decision_listing, device_rows
from pnyx.daemon.services.records import Recorder
from pnyx.daemon.services.status import node_status
from pnyx.daemon.services.writes import WRITES
from pnyx.daemon.store.node import Node, create_data_dir, new_key, open_node
from pnyx.federation.charter import Rules, new_charter
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import Decision, Profile, Tally, read_devices, write_decision

SIZES = tuple(int(s) for s in os.environ.get("PNYX_BENCH_RECORD_SIZES", "100,10000,100000").split(","))
PER_CHANGE = 500
WRITES_EACH = 9  # writes of each kind at each size: the median is printed
AS_OF = dt.date(2026, 12, 31)  # the clock the writes are checked against
VOTE = {"for": 12, "against": 3, "abstain": 1}
Params = dict[str, str]
Body = dict[str, Any]


def fill(recorder: Recorder, size: int) -> None:
    """Decisions 0..size-1, PER_CHANGE to a change."""
    for first in range(0, size, PER_CHANGE):
        numbers = range(first, min(first + PER_CHANGE, size))

        def edit(tx: Transaction, numbers: range = numbers) -> None:
            for n in numbers:
                write_decision(tx, Decision(record_id(n), f"Decision {n}", "Filled for the bench.",
                                            dt.date(2026, 1, 1), Tally(10, 1, 0), None, "", None,
                                            "decision", None))

        recorder.write(recorder.node.ledger_id, edit)


def record_id(n: int) -> str:
    """A record id (16 of a-z2-7, federation/docids.py) of its own for each n."""
    return f"fill{n:012d}".translate(str.maketrans("0123456789", "abcdefghij"))


def timed_ms(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def cold_ms(data: Path, read: Callable[[Node], object]) -> float:
    """`read` on a node opened afresh, as a command opens it: nothing cached."""
    node = open_node(data)
    try:
        return timed_ms(lambda: read(node))
    finally:
        node.close()


def show_decisions(node: Node) -> object:
    """`pnyx show decisions`: the newest 50, from the index of records."""
    return decision_listing(node.ingestor.ledgers, node.ledger_id, node.docs.profile(node.ledger_id), 50)


def show_devices(node: Node) -> object:
    """`pnyx show devices`: from the table of devices kept beside the index of records."""
    return device_rows(node.ingestor.ledgers, node.ledger_id)


def devices_from_document(node: Node) -> object:
    """What `pnyx show devices` read before that table: the ledger's whole document."""
    return read_devices(node.docs.get(node.ledger_id))


def reindexed(node: Node) -> object:
    """The first read of a ledger held before the index of records existed (or indexed in an
    older format): it is indexed whole from its document, once."""
    node.store.db.execute("UPDATE ledger_indexed SET format = 'older'")
    node.docs.forget(node.ledger_id)
    return show_decisions(node)


def vote(title: str, day: str) -> Body:
    return {"title": title, "date": day, "tally": VOTE}


def charter(recorder: Recorder, name: str) -> str:
    """A confederation of this assembly alone, founded here."""
    return recorder.found_confederation(new_charter(
        dt.date(2026, 1, 1), [key_text(recorder.node.assembly)], [],
        Rules(name, "simple", "2/3", "1/2", 30, ())))


def found(data: Path) -> str:
    """The assembly, a confederation it accepted (its id is returned), and a mandate naming this
    device's key (for the delegate's acts)."""
    assembly_key, device_key = new_key(), new_key()
    create_data_dir(data, assembly_key.public, device_key, assembly_key)
    node = open_node(data)
    try:
        recorder = Recorder(node, today=lambda: AS_OF)
        recorder.found(Profile(key_text(assembly_key.public), "Bench assembly", "", 100))
        valley = charter(recorder, "Bench valley")
        WRITES["confed-accept"].run(recorder, {"confederation": valley}, vote("Join", "2026-01-02"))
        WRITES["mandate-issue"].run(recorder, {}, {
            **vote("Send our delegate", "2026-01-02"), "delegate": "Our delegate",
            "delegate_key": key_text(device_key.public), "council": valley,
            "term_from": "2026-01-02", "term_until": "2026-12-31"})
        return valley
    finally:
        node.close()


def grant(i: int) -> Body:
    return {**vote(f"Send {i}", "2026-02-01"), "delegate": f"Delegate {i}", "council": "Water council",
            "term_from": "2026-02-01", "term_until": "2026-12-31"}


def prepared(recorder: Recorder, valley: str) -> dict[str, list[tuple[Params, Body]]]:
    """Each kind of write WRITES_EACH times: write name -> (path parameters, body) of each. What
    the writes act on is written here first, untimed."""
    me = key_text(recorder.node.assembly)
    n = range(WRITES_EACH)
    mandates = [WRITES["mandate-issue"].run(recorder, {}, grant(i))["id"] for i in n]
    proposals = [WRITES["propose"].run(recorder, {}, {**vote(f"Wells {i}", "2026-03-01"),
                                                      "confederation": valley})["id"] for i in n]
    charters = [charter(recorder, f"Valley {os.urandom(4).hex()}") for _ in n]
    devices = [key_text(new_key().public) for _ in n]
    for device in devices:
        WRITES["device-add"].run(recorder, {}, {"key": device, "label": "bench"})
    return {
        "decide": [({}, vote("One more decision", "2026-02-01")) for _ in n],
        "mandate-issue": [({}, grant(i)) for i in n],
        "mandate-recall": [({"mandate": m}, {"date": "2026-04-01", "tally": VOTE}) for m in mandates],
        "delegate-act": [({}, {"kind": "report", "date": "2026-06-01", "text": "Reported back."})
                         for _ in n],
        "ratify": [({"assembly": me, "decision": p.partition("/")[2]},
                    {"date": "2026-03-02", "tally": VOTE}) for p in proposals],
        "confed-accept": [({"confederation": c}, vote("Join", "2026-03-01")) for c in charters],
        "device-revoke": [({"device": d}, {}) for d in devices],
    }


KINDS = {"decide": "a decision", "mandate-issue": "a mandate granted", "mandate-recall": "a recall",
         "delegate-act": "a delegate's act", "ratify": "a ratification",
         "confed-accept": "a charter accepted", "device-revoke": "a device revoked"}


def writes_ms(data: Path, valley: str, size: int) -> dict[str, tuple[float, float]]:
    """Fill the ledger with `size` decisions, then the median ms of each kind of write, in time
    and in the process's CPU time."""
    node = open_node(data)
    try:
        recorder = Recorder(node, today=lambda: AS_OF)
        fill(recorder, size)
        writes = prepared(recorder, valley)
        node.docs.save_snapshots()
        out = {}
        for name, each in writes.items():
            times = times_of(recorder, name, each)
            out[name] = (statistics.median(t for t, _ in times), statistics.median(c for _, c in times))
        return out
    finally:
        node.close()


def times_of(recorder: Recorder, name: str, each: list[tuple[Params, Body]]) -> list[tuple[float, float]]:
    """The ms of each write `name` with these parameters and bodies, one after the other, in
    time and in CPU time: a write waits for the disk to sync the store, which on a shared
    machine takes anything from nothing to several ms, whatever the ledger holds."""
    run = WRITES[name].run
    out = []
    for params, body in each:
        cpu = time.process_time()
        ms = timed_ms(lambda: run(recorder, params, body))  # noqa: B023 (called at once)
        out.append((ms, (time.process_time() - cpu) * 1000))
    return out


def run() -> None:
    times: dict[str, list[float]] = {name: [] for name in KINDS}
    cpu: dict[str, list[float]] = {name: [] for name in KINDS}
    reads: dict[str, list[float]] = {"status (cold)": [], "show decisions (cold)": [],
                                     "show devices (cold)": [], "before: devices, document": [],
                                     "one-time indexing": []}
    for size in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "node"
            valley = found(data)
            for name, (ms, cpu_ms) in writes_ms(data, valley, size).items():
                times[name].append(ms)
                cpu[name].append(cpu_ms)
            reads["status (cold)"].append(cold_ms(data, node_status))
            reads["show decisions (cold)"].append(cold_ms(data, show_decisions))
            reads["show devices (cold)"].append(cold_ms(data, show_devices))
            reads["before: devices, document"].append(cold_ms(data, devices_from_document))
            reads["one-time indexing"].append(cold_ms(data, reindexed))
    print(f"median of {WRITES_EACH} writes of each kind, in ms (ratio to {SIZES[0]:,} records in "
          "this run); goal: under 20 ms at every size")
    print(f"{'records':<28}" + "".join(f"{size:>20,}" for size in SIZES))
    rows = [*((KINDS[k], v) for k, v in times.items()), *reads.items(),
            *((f"{KINDS[k]}, CPU", v) for k, v in cpu.items())]
    for name, found_ms in rows:
        print(f"{name:<28}" + "".join(f"{ms:>11.1f} ({ms / found_ms[0]:5.2f}x)" for ms in found_ms))
