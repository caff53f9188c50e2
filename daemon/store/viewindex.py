"""The confederal view kept up to date from the store, and recomputed from scratch to check it.

Each document's normalized records (federation/confed.py) are indexed in the
table `view_records`, keyed by the document's version (the last store seqno
of its changes; for a mandate log also that of its assembly's ledger, since
what an act and a recall had seen is read from both); a ledger's records are
read from the index of its records (daemon/store/ledgerindex.py), not from its
whole document. Refreshing re-reads only
documents whose version moved; the RecordSet then re-tallies only the
proposals whose inputs changed. `scratch_view` ignores all of that and reads
every document again, which is what `pnyx view --verify` compares against.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Mapping

from automerge.core import Document
from pnyx.federation.amvalues import Plain
from pnyx.federation.bylaws import judge
from pnyx.federation.confed import (
    Record,
    charter_record,
    ledger_records,
    log_records,
    mandate_log_records,
    records_of_ledger,
)
from pnyx.federation.docids import DocKind, ledger_id, parse_doc_id
from pnyx.federation.draws import SORTITION
from pnyx.federation.indexrows import DECISIONS, MANDATES
from pnyx.federation.ledger import ECONOMY_COLLECTIONS, Profile, ledger_of, read_mandates
from pnyx.federation.plan import render_plan
from pnyx.federation.recordset import RecordSet
from pnyx.federation.view import render_view

from .ancestry import Descent
from .documents import DocumentCache
from .ledgerindex import LedgerIndex
from .schema import create_schema
from .sqlite import ChangeAt, Store

RECORDS_FORMAT = "records/v3"  # bump when what document_records extracts changes: the index is rebuilt
SCHEMA = """
CREATE TABLE IF NOT EXISTS view_records (
    doc TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    record TEXT
);
"""


def document_records(doc_id: str, get: Callable[[str], Document]) -> Record | None:
    """The normalized records of one document, read from the documents `get` gives."""
    doc = parse_doc_id(doc_id)
    if doc.kind is DocKind.CHARTER:
        return charter_record(doc.record, get(doc_id))
    assert doc.assembly is not None
    if doc.kind is DocKind.LEDGER:
        return ledger_records(doc.assembly, get(doc_id))
    return mandate_log_records(doc.assembly, doc.record, get(doc_id), get(ledger_id(doc.assembly)))


def indexed_ledger_records(ledgers: LedgerIndex, doc_id: str, profile: Profile | None,
                           written: Mapping[str, Plain] | None = None) -> Record:
    """document_records of a ledger from the index of its records, reading only what the view
    takes from a ledger (federation/confed.py records_of_ledger): the decisions of a kind
    other than a plain `decision`, every mandate with its issuing decision, the decisions
    superseding any of these, and the economy's and the draws' collections. `written`: the
    plain entries of decisions a change being made adds (judged before it is stored)."""
    assembly = parse_doc_id(doc_id).assembly
    assert assembly is not None
    with ledgers.reading(doc_id):
        mandates = ledgers.records(doc_id, MANDATES)
        decisions = {**ledgers.kinds(doc_id), **ledgers.by_id(
            doc_id, DECISIONS, [m.decision for m in read_mandates(mandates).values()]), **(written or {})}
        decisions.update(ledgers.referring(doc_id, DECISIONS, "supersedes", decisions))
        entries = {c: ledgers.records(doc_id, c) for c in (*ECONOMY_COLLECTIONS, SORTITION)}
    return records_of_ledger(assembly, ledger_of(profile, {}, decisions, mandates, {}), decisions.get,
                             entries)


def indexed_log_records(ledgers: LedgerIndex, doc_id: str, profile: Profile | None,
                        get: Callable[[str], Document]) -> Record:
    """document_records of a mandate log, with the mandate's adopted recall in force found in the
    index of its ledger's records (the bylaws decisions, the recalls naming the mandate and
    what supersedes them): the ledger's document is read only when there is one."""
    doc = parse_doc_id(doc_id)
    assert doc.assembly is not None
    ledger = ledger_id(doc.assembly)
    with ledgers.reading(ledger):
        recalls = ledgers.referring(ledger, DECISIONS, "subject", [doc.record])
        needed = {**ledgers.bylaws(ledger), **recalls,
                  **ledgers.referring(ledger, DECISIONS, "supersedes", recalls)}
    read = ledger_of(profile, {}, needed, {}, {})
    return log_records(doc.assembly, doc.record, get(doc_id), judge(read).recall_of(read, doc.record),
                       lambda recall_id: IndexedRecall(ledgers, ledger, recall_id))


class IndexedRecall:
    """RecallHistory (federation/confed.py) from the index of records and the store: the
    recall's entry from the index, and whether an act's heads reach the change that made it
    from the table of changes (daemon/store/ancestry.py), never the ledger's document."""

    def __init__(self, ledgers: LedgerIndex, doc_id: str, recall_id: str) -> None:
        self.ledgers = ledgers
        self.doc_id = doc_id
        self.recall_id = recall_id

    def entry(self) -> Plain:
        with self.ledgers.reading(self.doc_id):
            return self.ledgers.by_id(self.doc_id, DECISIONS, [self.recall_id]).get(self.recall_id)

    @functools.cached_property
    def made(self) -> ChangeAt | None:
        """The stored change that made the recall's entry as read now."""
        with self.ledgers.reading(self.doc_id):
            op = self.ledgers.made_by(self.doc_id, DECISIONS, self.recall_id)
            return None if op is None else self.ledgers.store.change_with_op(self.doc_id, op)

    @functools.cached_property
    def descent(self) -> Descent | None:
        """The changes that descend from the recall's, one pass shared by every act of the log."""
        return None if self.made is None else Descent(self.ledgers.store.db, self.doc_id, self.made)

    def seen_at(self, heads: list[bytes]) -> bool:
        return self.descent is not None and self.descent.reaches(heads)


def _versions(store: Store, after: int, known: dict[str, str]) -> dict[str, str]:
    """The version of every document changed since store seqno `after`, and of the mandate
    logs whose ledger changed (`known`: the versions already indexed)."""
    if after:
        last = {doc: int(seqno) for doc, seqno in store.db.execute(
            "SELECT doc, max(seqno) FROM changes WHERE seqno > ? GROUP BY doc", (after,))}
    else:  # from nothing: each document's last change through the (doc, seqno) index, not a scan
        last = {doc: int(store.db.execute("SELECT max(seqno) FROM changes WHERE doc = ?",
                                          (doc,)).fetchone()[0]) for doc in store.documents()}
    own = {doc: int(version.split(":")[0]) for doc, version in known.items()} | last
    logs = [doc for doc in own if doc.startswith("mandate/")]
    versions = {}
    for doc_id in sorted(set(last) | {d for d in logs if _ledger_of(d) in last}):
        if doc_id.startswith("mandate/"):
            versions[doc_id] = f"{own[doc_id]}:{own.get(_ledger_of(doc_id), 0)}"
        else:
            versions[doc_id] = str(own[doc_id])
    return versions


def _ledger_of(mandate_doc: str) -> str:
    doc = parse_doc_id(mandate_doc)
    assert doc.assembly is not None
    return ledger_id(doc.assembly)


class ViewIndex:
    """The indexed records of one store and the RecordSet built from them (kept in memory)."""

    def __init__(self, store: Store, docs: DocumentCache) -> None:
        self.store = store
        self.docs = docs
        self.records = RecordSet()
        self.versions: dict[str, str] = {}
        self.upto = 0  # the store seqno the records include
        self.ledgers = LedgerIndex(store, docs)
        create_schema(store.db, SCHEMA)

    def refresh(self) -> int:
        """Bring the records up to date with the store; returns how many documents were re-read."""
        last = self.store.last_seqno()
        if last == self.upto:
            return 0
        changed = _versions(self.store, self.upto, self.versions)
        reread = 0
        with self.store.transaction():
            for doc_id, version in changed.items():
                found = self.store.db.execute(
                    "SELECT version, record FROM view_records WHERE doc = ?", (doc_id,)).fetchone()
                if found is not None and found[0] == f"{RECORDS_FORMAT} {version}":
                    record = None if found[1] is None else json.loads(found[1])
                else:
                    record = self._records(doc_id)
                    reread += 1
                    self.store.db.execute(
                        "INSERT OR REPLACE INTO view_records (doc, version, record) VALUES (?,?,?)",
                        (doc_id, f"{RECORDS_FORMAT} {version}",
                         None if record is None else json.dumps(record)))
                self.records.put(doc_id, record)
                self.versions[doc_id] = version
        self.upto = last
        return reread

    def _records(self, doc_id: str) -> Record | None:
        """document_records, a ledger's and a mandate log's read through the index of records."""
        doc = parse_doc_id(doc_id)
        if doc.kind is DocKind.CHARTER:
            return document_records(doc_id, self.docs.get)
        assert doc.assembly is not None
        profile = self.docs.profile(ledger_id(doc.assembly))
        if doc.kind is DocKind.LEDGER:
            return indexed_ledger_records(self.ledgers, doc_id, profile)
        return indexed_log_records(self.ledgers, doc_id, profile, self.docs.get)

    def render(self, as_of: dt.date, confederation: str | None = None) -> bytes:
        self.refresh()
        return render_view(self.records, as_of, confederation)

    def render_plan(self, as_of: dt.date, confederation: str | None = None) -> bytes:
        """The confederal plan (federation/plan.py), from the same records as the view."""
        self.refresh()
        return render_plan(self.records, as_of, confederation)


def scratch_records(store: Store) -> RecordSet:
    """Every stored document read again into a fresh RecordSet, with nothing cached."""
    docs = DocumentCache(store)
    records = RecordSet()
    for doc_id in store.documents():
        records.put(doc_id, document_records(doc_id, docs.get))
    return records


def scratch_view(store: Store, as_of: dt.date, confederation: str | None = None) -> bytes:
    """The view recomputed from every stored change, with nothing cached."""
    return render_view(scratch_records(store), as_of, confederation)


def scratch_plan(store: Store, as_of: dt.date, confederation: str | None = None) -> bytes:
    """The plan recomputed from every stored change, with nothing cached."""
    return render_plan(scratch_records(store), as_of, confederation)
