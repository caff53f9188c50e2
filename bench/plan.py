"""The confederal plan of 1,000 assemblies and 50 items: incremental update against scratch.

One confederation of 1,000 member assemblies; each needs some of 50 items and
offers others (about 33,000 needs and offers in 1,000 Automerge ledgers), and
every tenth need has a pledge from its needing side. The baseline recomputes
the plan from scratch: every ledger read into normalized records, then every
line (confederation, item, unit) judged and the canonical JSON written. The
incremental path is what the daemon does when one new need arrives: re-read
that one ledger, replace its records, and render again, judging only the one
line it touched. Both must give byte-identical plans; the ratio is scratch
time over incremental.
"""

from __future__ import annotations

import datetime as dt
import time

from automerge.core import Document
from pnyx.federation.charter import Rules, charter_change, new_charter
from pnyx.federation.chunk import parse_change
from pnyx.federation.confed import ACCEPTANCE, ledger_records
from pnyx.federation.docids import charter_doc_id, ledger_id
from pnyx.federation.economy import NEEDS, OFFERS, PLEDGES, Record, write_record
from pnyx.federation.envelope import run_actor
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import Profile, Tally, write_decision, write_genesis
from pnyx.federation.plan import render_plan

from .view import assembly_key, decision, read_all, record_id

ASSEMBLIES = 1_000
ITEMS = 50
AS_OF = dt.date(2026, 11, 1)


def need(charter_id: str, item: int, quantity: int, by: dt.date) -> Record:
    return {"confederation": charter_id, "item": f"item {item}", "quantity": quantity, "unit": "kg",
            "by": by.isoformat(), "priority": ("urgent", "high", "normal", "low")[item % 4],
            "cooperative": "", "note": "", "date": "2026-10-01", "supersedes": None, "withdrawn": False}


def offer(charter_id: str, item: int, quantity: int, start: dt.date) -> Record:
    return {"confederation": charter_id, "item": f"item {item}", "quantity": quantity, "unit": "kg",
            "from": start.isoformat(), "until": (start + dt.timedelta(days=180)).isoformat(),
            "conditions": "", "cooperative": "", "date": "2026-10-01", "supersedes": None,
            "withdrawn": False}


def build() -> tuple[str, Document, dict[str, Document], int]:
    keys = [assembly_key(i) for i in range(ASSEMBLIES)]
    rules = Rules("Bench confederation", "simple", "2/3", "1/2", 30, ())
    raw = charter_change(new_charter(dt.date(2026, 1, 1), [key_text(k.public) for k in keys], [], rules),
                         run_actor(keys[0].public, bytes(8)))
    charter_id = charter_doc_id(parse_change(raw).hash).removeprefix("charter/")
    ledgers, records = {}, 0
    for i, key in enumerate(keys):
        doc = Document(run_actor(key.public, bytes(8)))
        me = key_text(key.public)
        with doc.transaction() as tx:
            write_genesis(tx, Profile(me, f"Assembly {i}", "", 100))
            write_decision(tx, decision(0, ACCEPTANCE, charter_id, Tally(50, 1, 0), dt.date(2026, 1, 2)))
            for k in range(ITEMS):
                day = AS_OF + dt.timedelta(days=(i * 7 + k * 13) % 300)
                n = 1 + i * ITEMS + k
                if (i + k) % 3 == 0:
                    write_record(tx, NEEDS, record_id(n), need(charter_id, k, 10 + (i * k) % 90, day))
                    records += 1
                    if (i + k) % 30 == 0:  # the needing side's pledge on the next assembly's offer
                        offering = key_text(keys[(i + 1) % ASSEMBLIES].public)
                        write_record(tx, PLEDGES, record_id(10**6 + n), {
                            "confederation": charter_id, "item": f"item {k}", "unit": "kg",
                            "need": f"{me}/{record_id(n)}", "offer": f"{offering}/{record_id(n + ITEMS)}",
                            "quantity": 5, "date": "2026-10-02", "supersedes": None, "withdrawn": False})
                        records += 1
                elif (i + k) % 3 == 1:
                    write_record(tx, OFFERS, record_id(n), offer(charter_id, k, 20 + (i + k) % 70, day))
                    records += 1
        ledgers[ledger_id(key.public)] = doc
    return charter_id, Document.load(raw), ledgers, records


def run() -> None:
    began = time.perf_counter()
    charter_id, charter, ledgers, count = build()
    print(f"built {ASSEMBLIES} ledgers, {ITEMS} items, {count} needs, offers and pledges "
          f"in {time.perf_counter() - began:.1f} s")
    records = read_all(charter_id, charter, ledgers)
    render_plan(records, AS_OF)

    voter = assembly_key(10)
    doc_id = ledger_id(voter.public)
    with ledgers[doc_id].transaction() as tx:
        write_record(tx, NEEDS, record_id(9_999_999), need(charter_id, 0, 77, AS_OF + dt.timedelta(days=30)))

    began = time.perf_counter()
    records.put(doc_id, ledger_records(voter.public, ledgers[doc_id]))
    incremental_plan = render_plan(records, AS_OF)
    incremental = time.perf_counter() - began

    began = time.perf_counter()
    scratch_plan = render_plan(read_all(charter_id, charter, ledgers), AS_OF)
    from_scratch = time.perf_counter() - began
    assert incremental_plan == scratch_plan, "incremental plan differs from scratch"

    began = time.perf_counter()
    fresh = read_all(charter_id, charter, ledgers)
    read = time.perf_counter() - began
    began = time.perf_counter()
    render_plan(fresh, AS_OF)
    judge = time.perf_counter() - began

    print(f"plan: {len(scratch_plan) / 1e6:.1f} MB of canonical JSON, identical both ways")
    print(f"from scratch:  {from_scratch * 1e3:8.1f} ms  (reading documents {read * 1e3:.0f} ms, "
          f"judging lines and encoding {judge * 1e3:.0f} ms)")
    print(f"incremental:   {incremental * 1e3:8.1f} ms  (one ledger re-read, one line judged again)")
    print(f"ratio: incremental is {from_scratch / incremental:.1f}x faster than scratch")
