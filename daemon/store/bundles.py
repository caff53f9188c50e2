"""Exporting and importing bundles and state files (protocol-spec/bundles.md).

Export picks, per document, the changes the other side lacks exactly as a
sync pull does (federation.sync.owed over version vectors) and streams
them from the store a window of documents at a time, as sync pulls them
(federation.sync.next_window), each window in arrival order, so every change
comes after its dependencies. It writes to a temporary file renamed into place at the end: a
half-written bundle never sits under the name asked for.

Import reads one frame at a time and hands the envelopes to the Ingestor
(the only way in) in batches it commits, so a killed import keeps every
batch already committed and a second run finds those as already held. A
damaged or truncated file stops the import where the damage is, after
everything valid before it was stored.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pnyx.federation.bundle import (
    BundleError,
    BundleReader,
    BundleWriter,
    Header,
    HeldState,
    Selection,
    Trailer,
    encode_state,
)
from pnyx.federation.charter import CHARTER_ID_RE
from pnyx.federation.docids import DocKind, charter_doc_id, parse_doc_id
from pnyx.federation.envelope import Envelope
from pnyx.federation.errors import Rejected
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.sync import PULL_ENVELOPES, Due, next_window, owed

from .completeness import Completeness
from .holdings import StoreHoldings
from .ingest import IngestReport
from .node import Node
from .viewindex import scratch_view

IMPORT_BATCH = 500


def held_state(node: Node) -> HeldState:
    return StoreHoldings(node.store).state(node.device_key.public, node.assembly)


def write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    tmp = path.with_name(path.name + ".partial")
    try:
        with open(tmp, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_state(node: Node, path: Path) -> HeldState:
    state = held_state(node)
    write_atomically(path, lambda out: out.write(encode_state(state)))
    return state


def confed_documents(node: Node, charter_id: str) -> Callable[[str], bool]:
    """Whether a document belongs to the confederation: its charter, its members' ledgers and
    mandate logs, and the charters of member confederations (as the view lists members)."""
    today = dt.datetime.now(dt.timezone.utc).date()
    view = json.loads(scratch_view(node.store, today, charter_id))
    found = [c for c in view["confederations"] if c["id"] == charter_id]
    if not found:
        raise ValueError(f"no confederation {charter_id} among the records held here")
    charters = {charter_doc_id(bytes.fromhex(charter_id))}
    assemblies: set[bytes] = set()
    for member in found[0]["members"]:
        text = member["member"]
        if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
            charters.add(charter_doc_id(bytes.fromhex(text)))
        else:
            assemblies.add(parse_key(text))

    def belongs(doc: str) -> bool:
        parsed = parse_doc_id(doc)
        return doc in charters if parsed.kind is DocKind.CHARTER else parsed.assembly in assemblies
    return belongs


def export_bundle(node: Node, path: Path, selection: Selection, theirs: HeldState | None,
                  belongs: Callable[[str], bool] | None = None, after_seqno: int = 0) -> Trailer:
    """Write the changes held here that `theirs` lacks (all, without it), of the documents
    `belongs` accepts, stored after `after_seqno`."""
    holdings = StoreHoldings(node.store)
    their = theirs.as_map() if theirs is not None else {}
    planned: dict[str, Due] = {}
    for doc, vector in node.store.vectors():
        if belongs is not None and not belongs(doc):
            continue
        due = owed(their.get(doc, {}), vector)
        if due.wants:
            planned[doc] = due
    selected = set(planned)  # `planned` is emptied window by window
    header = Header(selection, holdings.state(node.device_key.public, node.assembly))
    trailer: list[Trailer] = []

    def write(out: BinaryIO) -> None:
        writer = BundleWriter(out.write, header)
        while planned:  # a window of documents at a time, as sync pulls them
            window = next_window(planned, PULL_ENVELOPES)
            for batch in holdings.batches({doc: due.wants for doc, due in window.items()}, after_seqno):
                if batch:  # a window `since` leaves nothing of
                    writer.add(batch)
        evidence = [e for piece in node.store.refused_evidence() for e in piece
                    if piece[0].doc_id not in selected and (belongs is None or belongs(piece[0].doc_id))]
        if evidence:  # the evidence of documents not streamed above
            writer.add(evidence)
        trailer.append(writer.finish())
    write_atomically(path, write)
    return trailer[0]


def export_selected(node: Node, path: Path, since: dt.date | None, confed: str | None,
                    theirs: HeldState | None) -> Trailer:
    """Export as `pnyx bundle export` and the API do: the changes stored on or after `since`
    (UTC), of confederation `confed`'s documents, that `theirs` lacks; each filter optional.

    Raises ValueError for a malformed or unknown confederation."""
    if confed is not None and not CHARTER_ID_RE.match(confed):
        raise ValueError(f"not a confederation id (64 hex digits): {confed!r}")
    belongs = confed_documents(node, confed) if confed else None
    start = None if since is None else dt.datetime(since.year, since.month, since.day,
                                                   tzinfo=dt.timezone.utc).timestamp()
    after = node.store.arrived_before(start) if start is not None else 0
    selection = Selection(None if since is None else since.isoformat(), confed,
                          theirs.digest if theirs else None)
    return export_bundle(node, path, selection, theirs, belongs, after)


@dataclass
class ImportResult:
    header: Header | None = None
    report: IngestReport = field(default_factory=IngestReport)
    records: int = 0
    error: BundleError | None = None


def import_bundle(node: Node, stream: BinaryIO, source: str,
                  on_progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Verify and store every record of the bundle in `stream`; on damage, keep what came
    before it and return the error in `result.error`. `on_progress(bytes read, records)`."""
    result = ImportResult()
    completeness = Completeness(node.store)
    try:
        reader = BundleReader(stream)
    except BundleError as exc:
        result.error = exc
        return result
    result.header = reader.header
    exporter = reader.header.exporter
    completeness.advertised(f"bundle {source} from {key_text(exporter.device)}", exporter.vectors,
                            time.time())
    batch: list[Envelope] = []

    def flush() -> None:
        if batch:
            report = node.ingestor.ingest(batch, f"bundle:{key_text(exporter.device)}")
            result.report.merge(report)
            completeness.received(f"bundle {source}", report.accepted_docs, time.time())
            batch.clear()
        if on_progress is not None:
            on_progress(reader.offset, result.records)
    try:
        for item in reader.records():
            result.records += 1
            if isinstance(item, Rejected):
                result.report.rejected.append((item.reason.value, item.detail))
                continue
            batch.append(item)
            if len(batch) >= IMPORT_BATCH:
                flush()
    except BundleError as exc:
        result.error = exc
    flush()
    return result


def read_import(node: Node, path: Path, on_progress: Callable[[int, int], None] | None = None,
                ) -> ImportResult:
    with open(path, "rb") as stream:
        return import_bundle(node, stream, path.name, on_progress)


def import_summary(source: str, result: ImportResult) -> dict[str, Any]:
    """What an import did, as `pnyx bundle import --json` prints it and the API answers."""
    r = result.report
    header = result.header
    return {
        "file": source,
        "records": result.records,
        "new": r.accepted, "already_held": r.duplicate, "pending": r.pending,
        "deferred": r.deferred,
        "rejected": len(r.rejected),
        "reasons": [{"reason": reason, "detail": detail} for reason, detail in r.rejected[:50]],
        "rejected_by_reason": dict(sorted(Counter(reason for reason, _ in r.rejected).items())),
        "covers": None if header is None else {
            "since": header.selection.since, "confed": header.selection.confed,
            "for_state": header.selection.for_state.hex() if header.selection.for_state else None,
            "exporter_device": key_text(header.exporter.device),
            "exporter_assembly": key_text(header.exporter.assembly),
            "exporter_documents": len(header.exporter.vectors)},
        "complete": result.error is None,
        "error": None if result.error is None else {"code": result.error.code,
                                                    "detail": str(result.error)},
    }
