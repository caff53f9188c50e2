"""Signed changes made in bulk, for benchmarks and tests that need many of them quickly.

Each chain is one assembly key writing to its own ledger (always authorized):
a genesis, then one Automerge change per entry (a whole decision, every field
as the daemon writes it: write rule W10 refuses a record lacking what its
readers need), signed exactly as the daemon signs.
"""

from __future__ import annotations

import datetime as dt
import os

from automerge.core import Document, Transaction
from pnyx.federation.charter import Rules, charter_change, new_charter
from pnyx.federation.chunk import parse_change
from pnyx.federation.docids import charter_doc_id, ledger_id
from pnyx.federation.envelope import Envelope, run_actor, sign_change
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import Decision, Profile, Tally, write_decision, write_genesis


def new_key() -> SigningKey:
    return SigningKey(os.urandom(32))


def ledger_chain(key: SigningKey, n: int, doc: Document | None = None,
                 title: str | None = None) -> tuple[Document, list[Envelope]]:
    """`n` signed changes to ledger/<key>, each setting one entry (titled `title`, else its
    number); continues `doc` if given (with a fresh actor, as a new run of the daemon would)."""
    doc_id = ledger_id(key.public)
    fresh = doc is None
    if doc is None:
        doc = Document()
    doc.set_actor(run_actor(key.public, os.urandom(8)))
    out = []
    for i in range(n):
        heads = doc.get_heads()
        with doc.transaction() as tx:
            if fresh and i == 0:
                write_genesis(tx, Profile(key_text(key.public), "Bench", "", None))
            else:
                entry(tx, str(i) if title is None else title)
        (change,) = doc.get_changes(heads)
        out.append(sign_change(key, doc_id, change.raw_bytes))
    return doc, out


DATE = dt.date(2026, 11, 20)
TALLY = Tally(12, 3, 1)


def entry(tx: Transaction, title: str) -> None:
    """A new decision titled `title`, adopted 12 to 3, under a fresh record id."""
    record_id = os.urandom(10).hex()[:16].translate(str.maketrans("0189", "abcd"))
    write_decision(tx, Decision(record_id, title, "", DATE, TALLY, None, "", None, "decision", None))


def charter(members: list[bytes], confederations: list[bytes] = (), name: str = "Bench") -> Envelope:  # type: ignore[assignment]
    """A confederation's charter founded by these assembly keys and confederations (charter
    hashes), signed for `charter/<hash>` by a fresh key (a charter's id is its hash)."""
    rules = Rules(name, "simple", "2/3", "1/2", 30, ())
    made = new_charter(dt.date(2026, 1, 1), [key_text(m) for m in members],
                       [c.hex() for c in confederations], rules)
    signer = new_key()
    raw = charter_change(made, run_actor(signer.public, os.urandom(8)))
    return sign_change(signer, charter_doc_id(parse_change(raw).hash), raw)
