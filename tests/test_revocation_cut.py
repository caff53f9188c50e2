"""A revocation's cut is read defensively: any certified device can write into the ledger,
so a `revoked` entry that is not exactly what the assembly key signs must count as no
revocation, never crash ingest, and never be a second reading of a real signature."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from automerge.core import Document, Transaction
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.amvalues import ensure_map, put_value
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import run_actor, sign_change
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import (
    Decision,
    Profile,
    Tally,
    revocation_cut,
    revocation_input,
    write_decision,
    write_device,
    write_genesis,
)

ASSEMBLY, A, B = (SigningKey(bytes([n]) * 32) for n in (1, 2, 3))
DOC = ledger_id(ASSEMBLY.public)


def test_a_revocation_the_assembly_did_not_sign_is_refused_and_ingest_goes_on(tmp_path: Path) -> None:
    """Written once and never again, an unsigned `revoked` would block the real revocation:
    write rule W9 refuses it, and what depends on it waits."""
    founder = Document(run_actor(ASSEMBLY.public, bytes(8)))
    with founder.transaction() as tx:
        write_genesis(tx, Profile(key_text(ASSEMBLY.public), "Barrio Norte", "", None))
        write_device(tx, ASSEMBLY, A.public, "a")
        write_device(tx, ASSEMBLY, B.public, "b")
    a = founder.fork()
    a.set_actor(run_actor(A.public, bytes(8)))

    def junk_revocation(tx: Transaction) -> None:
        found = tx.get(ensure_map(tx, "devices"), key_text(B.public))
        assert found is not None
        put_value(tx, found[1], "revoked", {"cut": {"ab" * 40: 1}, "signature": bytes(64)})

    with a.transaction() as tx:
        junk_revocation(tx)
    b = a.fork()
    b.set_actor(run_actor(B.public, bytes(8)))
    with b.transaction() as tx:
        write_decision(tx, Decision("aaaaaaaaaaaaaaaa", "Still certified", "", dt.date(2026, 1, 1),
                                    Tally(1, 0, 0), None, "", None, "decision", None))
    envelopes = [sign_change(key, DOC, bytes(c.raw_bytes)) for key, c in
                 zip((ASSEMBLY, A, B), b.get_changes([]), strict=True)]
    store = Store(tmp_path / "pnyx.sqlite")
    try:
        report = Ingestor(store, DocumentCache(store)).ingest(envelopes)
        assert report.accepted == 1 and report.pending == 1
        ((reason, detail),) = report.rejected
        assert reason == "schema-violation" and "rule W9" in detail, detail
    finally:
        store.close()


def test_a_signed_cut_read_another_way_is_no_revocation() -> None:
    x, y = "ab" * 40, "cd" * 40
    cut = {x: 1, y: 2}
    signature = ASSEMBLY.sign(revocation_input(ASSEMBLY.public, B.public, cut))
    entry = {"certificate": bytes(64), "revoked": {"cut": cut, "signature": signature}}
    assert revocation_cut(ASSEMBLY.public, B.public, entry) == cut
    regrouped = {f"{x}=1;{y}": 2}  # the same signed bytes, but neither actor is in it any more
    assert revocation_input(ASSEMBLY.public, B.public, regrouped) == \
        revocation_input(ASSEMBLY.public, B.public, cut)
    entry["revoked"] = {"cut": regrouped, "signature": signature}
    assert revocation_cut(ASSEMBLY.public, B.public, entry) is None
