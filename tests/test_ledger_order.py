"""Any set of envelopes, in any arrival order, split in any way across stores that then
sync, gives every store the same reads: the ledger, each mandate log's records and the
view. The envelopes include a revoked device's changes inside and outside its cut (and an
honest change built on the void one), a change refused by the write rules and one by a
device that had seen its own revocation (protocol-spec/ledger.md "Void records").

Equivocation is left out on purpose: of two changes with one (actor, seq) each store
keeps the first it receives (changes.md "Equivocation"), and flags the key.
"""

from __future__ import annotations

import datetime as dt
import functools
import json

from automerge.core import ROOT, ObjType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pnyx.daemon.services.jsonable import to_jsonable
from pnyx.daemon.services.records import Recorder
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.daemon.store.viewindex import document_records, scratch_view
from pnyx.federation.confed import Act, ActKind
from pnyx.federation.envelope import Envelope
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import Binding, Instruction, Position, read_ledger

from .ledgerkit import author_on, found_assembly, fresh_store, memory_node, new_key, vote


@functools.cache
def universe() -> tuple[Envelope, ...]:
    """Every envelope of the story, valid or not, in the order it was made."""
    assembly = found_assembly()
    b = assembly.add_device("b")
    honest = assembly.add_device("c")
    delegate_key = new_key()
    home = Recorder(assembly.home)
    mandate = home.issue_mandate(vote("Send Ana"), "Ana", key_text(delegate_key.public),
                                 "Water council", vote().date, vote(day=28).date,
                                 (Instruction("water plan", Position.FOR, Binding.IMPERATIVE),))
    delegate = memory_node(assembly.key.public, delegate_key)
    delegate.ingestor.ingest(assembly.envelopes())
    Recorder(delegate).delegate_act(mandate, Act("actactactactacta", ActKind.REPORT, vote(day=3).date,
                                                 None, None, None, "The council met"))
    inside = author_on(b, b.device_key, nonce=1).decide("inside the cut")
    assembly.home.ingestor.ingest([inside])
    outside_author = author_on(b, b.device_key, nonce=2)
    outside = outside_author.decide("outside the cut")
    outside_too = outside_author.decide("outside, later")
    honest.ingestor.ingest([inside, outside])  # c saw b's change before the revocation
    Recorder(honest).decide(vote("built on a void change", day=5))
    home.revoke_device(b.device_key.public)
    home.recall_mandate(mandate, vote("Recall Ana", day=9))
    b.ingestor.ingest(assembly.envelopes())
    defiant = author_on(b, b.device_key, nonce=3).decide("after seeing the revocation")
    overwrite = author_on(honest, honest.device_key, nonce=4)
    wipe = overwrite.sign(overwrite.change(lambda tx: tx.put_object(ROOT, "decisions", ObjType.Map)))
    stored = {e.change: e for node in (assembly.home, honest, delegate)
              for e in (s.envelope for s in node.store.envelopes())}
    return (*stored.values(), inside, outside, outside_too, defiant, wipe)


def reads(store: Store) -> str:
    docs = DocumentCache(store)
    out = {}
    for doc_id in store.documents():
        out[doc_id] = document_records(doc_id, docs.get)
        if doc_id.startswith("ledger/"):
            out[doc_id + " ledger"] = to_jsonable(read_ledger(docs.get(doc_id)))
    out["view"] = scratch_view(store, dt.date(2026, 12, 31)).decode()
    return json.dumps(out, sort_keys=True, default=str)


def sync_all(stores: list[tuple[Store, Ingestor]]) -> None:
    """Every store takes what every other holds, until nothing moves (rounds of gossip)."""
    moved = True
    while moved:
        moved = False
        for store, ingestor in stores:
            for other, _ in stores:
                if other is not store:
                    held = [s.envelope for s in other.envelopes()]
                    moved |= ingestor.ingest(held).accepted > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_set_any_order_any_split_reads_the_same(data: st.DataObject) -> None:
    every = universe()
    chosen = data.draw(st.lists(st.sampled_from(range(len(every))), unique=True), label="set")
    order = data.draw(st.permutations(chosen), label="order")
    n_stores = data.draw(st.integers(1, 3), label="stores")
    where = data.draw(st.lists(st.integers(0, n_stores - 1), min_size=len(order), max_size=len(order)),
                      label="split")
    reference, _, ingestor = fresh_store()
    ingestor.ingest([every[i] for i in sorted(chosen)])
    stores = [fresh_store() for _ in range(n_stores)]
    for i, store_index in zip(order, where, strict=True):
        stores[store_index][2].ingest([every[i]])
    sync_all([(store, ing) for store, _, ing in stores])
    expected = reads(reference)
    for store, _, _ in stores:
        assert reads(store) == expected


def test_the_story_has_what_the_property_needs() -> None:
    """Held in full, the void records are left out, the rest is read, the bad are refused."""
    store, _, ingestor = fresh_store()
    report = ingestor.ingest(universe())
    assert sorted(r for r, _ in report.rejected) == ["revoked-device", "schema-violation"]
    ledger = read_ledger(DocumentCache(store).get(store.documents()[0]))
    titles = {d.title for d in ledger.decisions.values()}
    assert {"inside the cut", "built on a void change"} <= titles
    assert not {"outside the cut", "outside, later"} & titles and len(ledger.void) == 2
