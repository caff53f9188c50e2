"""The confederal view of 1,000 assemblies and 100 proposals: incremental update against scratch.

One confederation of 1,000 member assemblies; assembly 0 has put 100 proposals;
every assembly has ratified 90 of them (about 90,000 ratification decisions
in 1,000 Automerge ledgers). The baseline recomputes the view from scratch:
every document read into normalized records, then every proposal tallied and
the canonical JSON written. The incremental path is what the daemon does when
one new ratification arrives: re-read that one ledger, replace its records in
the RecordSet, and render again, re-tallying only the proposal it touched.
Both must give byte-identical views; the ratio is scratch time over incremental.
"""

from __future__ import annotations

import datetime as dt
import time

from automerge.core import Document
from pnyx.federation.charter import Rules, charter_change, new_charter
from pnyx.federation.chunk import parse_change
from pnyx.federation.confed import (
    ACCEPTANCE,
    PROPOSAL,
    RATIFICATION,
    ProposalBody,
    ProposalKind,
    charter_record,
    ledger_records,
    proposal_id,
    write_proposal,
)
from pnyx.federation.docids import charter_doc_id, ledger_id
from pnyx.federation.envelope import run_actor
from pnyx.federation.keys import SigningKey, key_text, parse_key
from pnyx.federation.ledger import Decision, Profile, Tally, write_decision, write_genesis
from pnyx.federation.recordset import RecordSet
from pnyx.federation.view import render_view

ASSEMBLIES = 1_000
PROPOSALS = 100
AS_OF = dt.date(2026, 2, 20)
START = dt.date(2026, 2, 1)


def assembly_key(n: int) -> SigningKey:
    return SigningKey(n.to_bytes(4, "big") * 8)


def record_id(n: int) -> str:
    return f"{n:016d}".translate(str.maketrans("0123456789", "abcdefghij"))


def decision(n: int, kind: str, subject: str | None, tally: Tally, on: dt.date) -> Decision:
    return Decision(record_id(n), kind, "", on, tally, None, "", None, kind, subject)


def pending(assembly: int, proposal: int) -> bool:
    return (assembly + proposal) % 10 == 0


def build() -> tuple[str, Document, dict[str, Document], list[str]]:
    keys = [assembly_key(i) for i in range(ASSEMBLIES)]
    rules = Rules("Bench confederation", "simple", "2/3", "1/2", 30, ())
    raw = charter_change(new_charter(dt.date(2026, 1, 1), [key_text(k.public) for k in keys], [], rules),
                         run_actor(keys[0].public, bytes(8)))
    charter_id = charter_doc_id(parse_change(raw).hash).removeprefix("charter/")
    charter = Document.load(raw)
    pids = [proposal_id(keys[0].public, record_id(1_000 + k)) for k in range(PROPOSALS)]
    ledgers = {}
    for i, key in enumerate(keys):
        doc = Document(run_actor(key.public, bytes(8)))
        with doc.transaction() as tx:
            write_genesis(tx, Profile(key_text(key.public), f"Assembly {i}", "", 100))
            write_decision(tx, decision(0, ACCEPTANCE, charter_id, Tally(50, 1, 0), dt.date(2026, 1, 2)))
            if i == 0:
                for k in range(PROPOSALS):
                    write_decision(tx, decision(1_000 + k, PROPOSAL, None, Tally(9, 1, 0), START))
                    write_proposal(tx, record_id(1_000 + k),
                                   ProposalBody(charter_id, ProposalKind.POLICY, None, None))
            for k, pid in enumerate(pids):
                if not pending(i, k):
                    write_decision(tx, decision(2_000 + k, RATIFICATION, pid,
                                                Tally(40 + (i * k) % 50, (i + k) % 45, i % 5),
                                                START + dt.timedelta(days=1 + k % 5)))
        ledgers[ledger_id(key.public)] = doc
    return charter_id, charter, ledgers, pids


def read_all(charter_id: str, charter: Document, ledgers: dict[str, Document]) -> RecordSet:
    records = RecordSet()
    records.put(f"charter/{charter_id}", charter_record(charter_id, charter))
    for doc_id, doc in ledgers.items():
        records.put(doc_id, ledger_records(_key(doc_id), doc))
    return records


def _key(doc_id: str) -> bytes:
    return parse_key(doc_id.removeprefix("ledger/"))


def run() -> None:
    began = time.perf_counter()
    charter_id, charter, ledgers, pids = build()
    print(f"built {ASSEMBLIES} ledgers, {PROPOSALS} proposals, "
          f"{sum(1 for i in range(ASSEMBLIES) for k in range(PROPOSALS) if not pending(i, k))} "
          f"ratifications in {time.perf_counter() - began:.1f} s")

    # the daemon's state before the new ratification: records held, view rendered once
    records = read_all(charter_id, charter, ledgers)
    render_view(records, AS_OF)

    # one new ratification: assembly 10 votes on proposal 0, which it had not yet
    voter = assembly_key(10)
    doc_id = ledger_id(voter.public)
    with ledgers[doc_id].transaction() as tx:
        write_decision(tx, decision(9_999, RATIFICATION, pids[0], Tally(70, 2, 1), AS_OF))

    began = time.perf_counter()
    records.put(doc_id, ledger_records(voter.public, ledgers[doc_id]))
    incremental_view = render_view(records, AS_OF)
    incremental = time.perf_counter() - began

    began = time.perf_counter()
    scratch_view = render_view(read_all(charter_id, charter, ledgers), AS_OF)
    from_scratch = time.perf_counter() - began
    assert incremental_view == scratch_view, "incremental view differs from scratch"

    began = time.perf_counter()
    fresh = read_all(charter_id, charter, ledgers)
    read = time.perf_counter() - began
    began = time.perf_counter()
    render_view(fresh, AS_OF)
    tally = time.perf_counter() - began

    print(f"view: {len(scratch_view) / 1e6:.1f} MB of canonical JSON, identical both ways")
    print(f"from scratch:  {from_scratch * 1e3:8.1f} ms  (reading documents {read * 1e3:.0f} ms, "
          f"tallying and encoding {tally * 1e3:.0f} ms)")
    print(f"incremental:   {incremental * 1e3:8.1f} ms  (one ledger re-read, one proposal re-tallied)")
    print(f"ratio: incremental is {from_scratch / incremental:.1f}x faster than scratch")
