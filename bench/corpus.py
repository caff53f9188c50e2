"""Signed changes made in bulk, for benchmarks and tests that need many of them quickly.

Each chain is one assembly key writing to its own ledger (always authorized),
one Automerge change per entry, signed exactly as the daemon signs.
"""

from __future__ import annotations

import os

from automerge.core import ROOT, Document, ScalarType
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import Envelope, run_actor, sign_change
from pnyx.federation.keys import SigningKey


def new_key() -> SigningKey:
    return SigningKey(os.urandom(32))


def ledger_chain(key: SigningKey, n: int, doc: Document | None = None) -> tuple[Document, list[Envelope]]:
    """`n` signed changes to ledger/<key>, each setting one entry; continues `doc` if given
    (with a fresh actor, as a new run of the daemon would)."""
    doc_id = ledger_id(key.public)
    if doc is None:
        doc = Document()
    doc.set_actor(run_actor(key.public, os.urandom(8)))
    out = []
    for i in range(n):
        heads = doc.get_heads()
        with doc.transaction() as tx:
            tx.put(ROOT, f"entry-{os.urandom(4).hex()}", ScalarType.Int, i)
        (change,) = doc.get_changes(heads)
        out.append(sign_change(key, doc_id, change.raw_bytes))
    return doc, out
