"""What this daemon knows exists but lacks, and when it last heard news of each assembly.

Every exchange leaves a trace here: the versions a peer advertised during
sync (its vectors of the documents where we differed), the exporter's state in
the header of an imported bundle, and, for each document, the last time an
exchange brought changes of it that were new here and from whom. From those
and the pending set, `pnyx status --completeness` reports per assembly the
newest record held, what is known to exist but is missing, and how old the
news is. Advertised versions only ever grow (a peer cannot make us forget),
and a claim is never trusted beyond this report: records still arrive only
through the ingest pipeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pnyx.federation.docids import DocKind, parse_doc_id
from pnyx.federation.errors import Rejected
from pnyx.federation.indexrows import DECISIONS
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import read_decisions

from .node import Node
from .schema import create_schema
from .sqlite import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS advertised (
    doc TEXT NOT NULL,
    actor BLOB NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (doc, actor)
);
CREATE TABLE IF NOT EXISTS news (
    doc TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    at REAL NOT NULL
);
"""


class Completeness:
    def __init__(self, store: Store) -> None:
        self.store = store
        create_schema(store.db, SCHEMA)

    def advertised(self, source: str, vectors: Iterable[tuple[str, Iterable[tuple[bytes, int]]]],
                   now: float) -> None:
        """Remember that `source` holds these versions (only raises what was known)."""
        rows = [(doc, actor, seq, source, now) for doc, vector in vectors for actor, seq in vector
                if _valid_doc(doc)]
        with self.store.transaction():
            self.store.db.executemany(
                "INSERT INTO advertised (doc, actor, seq, source, at) VALUES (?,?,?,?,?)"
                " ON CONFLICT (doc, actor) DO UPDATE SET seq = excluded.seq, source = excluded.source,"
                " at = excluded.at WHERE excluded.seq > advertised.seq", rows)

    def received(self, source: str, docs: Iterable[str], now: float) -> None:
        """An exchange with `source` brought changes of `docs` that were new here."""
        with self.store.transaction():
            self.store.db.executemany(
                "INSERT OR REPLACE INTO news (doc, source, at) VALUES (?,?,?)",
                [(doc, source, now) for doc in docs])

    def report(self, node: Node) -> dict[str, Any]:
        """Per assembly (and per charter): newest decision held, missing, last news."""
        db = self.store.db
        held = dict(self.store.vectors())
        missing: dict[str, int] = {}
        for doc, actor, seq in db.execute("SELECT doc, actor, seq FROM advertised"):
            lack = int(seq) - held.get(doc, {}).get(bytes(actor), 0)
            if lack > 0:
                missing[doc] = missing.get(doc, 0) + lack
        pending = self.store.pending.by_doc()
        news = {doc: (source, at) for doc, source, at in db.execute("SELECT doc, source, at FROM news")}
        owners: dict[str, list[str]] = {}
        for doc in set(held) | set(missing) | set(pending):
            owners.setdefault(_owner(doc), []).append(doc)
        rows = [self._row(node, owner, sorted(docs), held, missing, pending, news)
                for owner, docs in sorted(owners.items())]
        return {"complete": all(r["complete"] for r in rows),
                "awaited_changes": len(self.store.pending.missing()), "assemblies": rows}

    def _row(self, node: Node, owner: str, docs: list[str], held: Mapping[str, dict[bytes, int]],
             missing: Mapping[str, int], pending: Mapping[str, int],
             news: Mapping[str, tuple[str, float]]) -> dict[str, Any]:
        heard = max((news[d] for d in docs if d in news), key=lambda n: n[1], default=None)
        row: dict[str, Any] = {
            "assembly" if not owner.startswith("charter/") else "charter": owner.split("/", 1)[1],
            "documents": len([d for d in docs if d in held]),
            "changes": sum(sum(held[d].values()) for d in docs if d in held),
            "missing_changes": sum(missing.get(d, 0) for d in docs),
            "missing_documents": [d for d in docs if missing.get(d, 0)],
            "pending": sum(pending.get(d, 0) for d in docs),
            "last_news": None if heard is None else {"from": heard[0], "at": _iso(heard[1])},
        }
        row["complete"] = row["missing_changes"] == 0 and row["pending"] == 0
        if owner.startswith("ledger/") and owner in held:
            row |= _newest(node, owner)
        return row


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat(timespec="seconds")


def _valid_doc(doc: str) -> bool:
    try:
        parse_doc_id(doc)
    except Rejected:
        return False
    return True


def _owner(doc: str) -> str:
    """The ledger a document belongs to (a mandate log to its assembly's), or the charter."""
    parsed = parse_doc_id(doc)
    if parsed.kind is DocKind.CHARTER:
        return doc
    assert parsed.assembly is not None
    return f"ledger/{key_text(parsed.assembly)}"


def _newest(node: Node, ledger: str) -> dict[str, Any]:
    """The assembly's name, its newest decision by date, and the ledger's head changes: read
    from the genesis and the index of records, not the whole ledger."""
    with node.ingestor.ledgers.reading(ledger):
        found = read_decisions(node.ingestor.ledgers.newest(ledger, DECISIONS, 1))
    newest = next(iter(found.values()), None)
    profile = node.docs.profile(ledger)
    heads = sorted(bytes(h).hex() for (h,) in node.store.db.execute(
        "SELECT hash FROM heads WHERE doc = ?", (ledger,)))
    return {"name": profile.name if profile else None,
            "newest_decision": None if newest is None else {
                "id": newest.id, "date": newest.date.isoformat(), "title": newest.title,
                "kind": newest.kind},
            "heads": heads}
