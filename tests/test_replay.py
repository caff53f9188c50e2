"""`pnyx verify` replays each stored batch through changepack.received, not through a pack
built and unpacked: the two ways must give the same envelopes, the same vouchers and the same
verdicts, on every envelope in protocol-spec/vectors/ and on chains whose vouchers lie in the
batch, outside it (attached), or nowhere."""

from __future__ import annotations

import io
import json
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from pnyx.daemon.store.audit import reverify
from pnyx.daemon.store.documents import DocumentCache
from pnyx.daemon.store.holdings import MERGED_DOCS, StoreHoldings
from pnyx.daemon.store.ingest import Ingestor
from pnyx.daemon.store.sqlite import Store
from pnyx.federation.bundle import BundleError, BundleReader
from pnyx.federation.changepack import canonical_piece, pack, pack_value, received, unpack, unpack_value
from pnyx.federation.envelope import Envelope, check_envelope, decode_envelope
from pnyx.federation.errors import Reason, Rejected

from bench.corpus import ledger_chain, new_key

VECTORS = Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def _decoded(hex_envelope: str) -> Envelope | None:
    try:
        return decode_envelope(bytes.fromhex(hex_envelope))
    except Rejected:
        return None


def _vector_batches() -> dict[str, list[Envelope]]:
    """Every set of envelopes the vectors hold, each as a store could hold it: history.json, its
    prefixes followed by each invalid, pending and write-rules vector's change, the sync pack and
    its refused packs unpacked, and each bundle's records."""
    history = [decode_envelope(bytes.fromhex(e["envelope"])) for e in _load("history.json")["envelopes"]]
    batches = {"history": history}
    for name in ("invalid.json", "pending.json", "writerules.json"):
        for vector in _load(name)["vectors"]:
            envelope = _decoded(vector["envelope"])
            if envelope is not None:
                batches[f"{name}:{vector['name']}"] = [*history[:vector["after"]], envelope]
    sync = _load("sync.json")["pack"]
    batches["sync:pack"] = unpack(bytes.fromhex(sync["pack"]))
    for case in sync["refused"]:
        batches[f"sync:{case['name']}"] = unpack(bytes.fromhex(case["pack"]))
    for bundle in _load("bundles.json")["bundles"]:
        records: list[Envelope] = []
        try:
            reader = BundleReader(io.BytesIO(bytes.fromhex(bundle["bundle"])))
            records += [e for e in reader.records() if isinstance(e, Envelope)]
        except BundleError:
            pass  # what was read before the damage is still a batch
        batches[f"bundles:{bundle['name']}"] = records
    return batches


def _chain_batches() -> dict[str, list[Envelope]]:
    """Chains of three actors, interleaved, signed or vouched; a voucher in the batch, attached
    from outside it, or missing."""
    chains = [ledger_chain(new_key(), 8)[1] for _ in range(3)]
    mixed = [e for row in zip(*chains, strict=True) for e in row]
    vouched = unpack(pack(chains[0]))
    orphan = Envelope(vouched[0].doc_id, vouched[1].change, vouched[1].signer, b"")
    return {"signed, interleaved": mixed, "vouched": vouched, "voucher attached": vouched[:5],
            "vouched and signed": [*vouched[:4], *chains[0][4:]], "no voucher": [orphan, *chains[1]],
            "twice the same": [*chains[2], *chains[2]]}


def _seen(envelopes: list[Envelope]) -> list[tuple[object, ...]]:
    """What a receiver gets: each envelope, its voucher (where in its group, and the chain down
    to the change), and the verdict of its stateless checks."""
    out: list[tuple[object, ...]] = []
    for e in envelopes:
        try:
            checked = check_envelope(e)
            verdict: object = (checked.change.hash, checked.vouch)
        except Rejected as exc:
            verdict = (exc.reason, exc.detail)
        voucher = None if e.voucher is None else (  # and the chain evidence would read from it
            e.voucher.envelope.to_wire(), e.voucher.at, e.voucher.chain_to(sha256(e.change[8:]).digest()))
        out.append((e.to_wire(), voucher, verdict))
    return out


BATCHES = {**_vector_batches(), **_chain_batches()}


@pytest.mark.parametrize("name", list(BATCHES))
def test_received_is_what_a_pack_of_the_batch_unpacks_to(name: str) -> None:
    pieces = [p for p in map(canonical_piece, BATCHES[name]) if p is not None]
    assert pieces or not BATCHES[name]
    canonical = [envelope for envelope, _, _, _ in pieces]
    assert _seen(received(pieces)) == _seen(unpack_value(pack_value(canonical)))


def test_the_vectors_hold_vouched_and_refused_changes() -> None:
    """The comparison above meets every way of vouching, not only signed changes."""
    verdicts = [verdict for batch in BATCHES.values() for _, _, verdict in _seen(received(
        [p for p in map(canonical_piece, batch) if p is not None]))]
    assert any(isinstance(vouch, bytes) for _, vouch in verdicts)
    refused = {reason for reason, _ in verdicts if isinstance(reason, Reason)}
    assert {Reason.UNVOUCHED, Reason.BAD_SIGNATURE} <= refused


def _vouched_store(path: Path) -> tuple[Store, list[int]]:
    """A store holding a chain of five changes received in one pack: four vouched, then the
    signed change that vouched for them; and their arrival numbers."""
    store = Store(path)
    _, chain = ledger_chain(new_key(), 5)
    assert Ingestor(store, DocumentCache(store)).ingest(unpack(pack(chain))).accepted == 5
    seqnos = [seqno for (seqno,) in store.db.execute("SELECT seqno FROM changes ORDER BY seqno")]
    return store, seqnos


def _flip(store: Store, column: str, seqno: int, at: int) -> None:
    (value,) = store.db.execute(f"SELECT {column} FROM changes WHERE seqno = ?", (seqno,)).fetchone()
    flipped = bytearray(value)
    flipped[at] ^= 0x01
    store.db.execute(f"UPDATE change_rows SET {column} = ? WHERE seqno = ?", (bytes(flipped), seqno))


FORGED = "bad-signature: signature does not verify for this doc and change"
UNVOUCHED = ("unvouched: no signature, and no signed later change of its actor in its pack group"
             " has it among its ancestors")


def test_verify_reports_each_damage_to_a_vouched_chain_as_it_did(tmp_path: Path) -> None:
    """The replay without a pack finds what the replay through one found, with the same words:
    a flipped byte in a vouched chunk, a forged signature on its voucher, a voucher gone."""
    store, seqnos = _vouched_store(tmp_path / "body.sqlite")
    try:
        _flip(store, "change", seqnos[2], -3)
        report = reverify(store)
        # the damaged change fails E2; the two before it are no longer reached by their voucher,
        # and the voucher and the change between them wait for the damaged one
        assert (report.verified, report.failed) == (0, 5)
        assert report.problems[0].startswith("bad-checksum: checksum ")
        assert report.problems[1:] == [UNVOUCHED] * 2 + ["2 stored changes lack a stored dependency"]
    finally:
        store.close()
    store, seqnos = _vouched_store(tmp_path / "signature.sqlite")
    try:
        _flip(store, "signature", seqnos[4], 10)
        report = reverify(store)
        assert (report.verified, report.failed) == (0, 5)
        assert report.problems == [f"bad-signature: its voucher: {FORGED[15:]}"] * 4 + [FORGED]
    finally:
        store.close()
    store, seqnos = _vouched_store(tmp_path / "voucher.sqlite")
    try:
        store.db.execute("DELETE FROM change_rows WHERE seqno = ?", (seqnos[4],))
        store.db.execute("DELETE FROM vouchers")
        report = reverify(store)
        assert (report.changes, report.verified, report.failed) == (4, 0, 4)
        assert report.problems == [UNVOUCHED] * 4
    finally:
        store.close()


def test_verify_reads_every_document_of_a_store_of_many_in_arrival_order(tmp_path: Path) -> None:
    """Past MERGED_DOCS documents, a read of all of them goes in arrival order without a filter
    by document, and a read of some of them through the filter: both give what was stored."""
    store = Store(tmp_path / "many.sqlite")
    try:
        chains = [ledger_chain(new_key(), 3)[1] for _ in range(MERGED_DOCS + 8)]
        arrived = [e for row in zip(*chains, strict=True) for e in row]
        assert Ingestor(store, DocumentCache(store)).ingest(arrived).accepted == len(arrived)
        wants = {doc: dict.fromkeys(vector, 0) for doc, vector in store.vectors()}
        holdings = StoreHoldings(store)
        read = [e for batch in holdings.batches(wants, evidence=False) for e in batch]
        assert [e.change for e in read] == [e.change for e in arrived]
        del wants[chains[0][0].doc_id]
        read = [e for batch in holdings.batches(wants, evidence=False) for e in batch]
        assert [e.change for e in read] == [e.change for e in arrived if e.doc_id != chains[0][0].doc_id]
        assert reverify(store).ok
    finally:
        store.close()
