"""Equivocation refused vouched (protocol-spec/changes.md, "Equivocation"): a key holder who
signs only the head of a forked chain is still caught. The refused change is kept as evidence
with its voucher and the chain between them, travels by sync and by bundles with them, and
every receiver keeps and flags the same evidence; a forged voucher keeps nothing, and a chain
past the bounds is refused without being kept."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgpack
import pytest
from pnyx.daemon.services.status import flagged_keys
from pnyx.daemon.store.audit import reverify
from pnyx.daemon.store.holdings import StoreHoldings
from pnyx.daemon.store.node import Node, open_node
from pnyx.daemon.store.pending import Bounds, PendingSet
from pnyx.federation.changepack import pack, split_chunk, unpack, unpack_value
from pnyx.federation.chunk import parse_change
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import Envelope, sign_change
from pnyx.federation.evidence import CHAIN_CHANGES
from pnyx.federation.keys import SigningKey
from pnyx.federation.sync import Initiator
from pnyx.federation.syncmsg import decode_reply, decode_request, encode
from pnyx.federation.syncpeer import Responder, exchange

from bench.attacks import waiting_junk
from bench.corpus import entry, ledger_chain, new_key
from tests.pnyxproc import Daemon, cli, cli_json, query
from tests.test_bundles import data_dir
from tests.test_vouching import entries, push_pack


def forked(key: SigningKey, held: int, fork: int, back: int = 1) -> tuple[list[Envelope], list[Envelope]]:
    """`held` changes of one actor, and `fork` changes of the same actor that branch off before
    the last `back` held ones: the first `back` of them take those ones' seqs."""
    doc, chain = ledger_chain(key, held)
    other = doc.fork([parse_change(chain[-1 - back].change).hash])
    other.set_actor(doc.get_actor())
    out = []
    for i in range(fork):
        heads = other.get_heads()
        with other.transaction() as tx:
            entry(tx, f"fork {i}")
        (change,) = other.get_changes(heads)
        out.append(sign_change(key, ledger_id(key.public), change.raw_bytes))
    return chain, out


def hashes(envelopes: list[Envelope]) -> list[bytes]:
    return [parse_change(e.change).hash for e in envelopes]


def evidence_rows(node: Node) -> set[tuple[bytes, str]]:
    return {(h, reason) for _, h, _, reason, _ in node.store.evidence()}


def synced_from(source: Node, target: Node) -> None:
    """One exchange, `target` pulling from `source`, in memory through the real messages."""
    responder = Responder(StoreHoldings(source.store), source.device_key.public,
                          source.ingestor.ingest, os.urandom)
    initiator = Initiator(StoreHoldings(target.store), b"t" * 32, "http://127.0.0.1:1")
    exchange(initiator, lambda r: decode_reply(encode(responder.respond(decode_request(encode(r))))),
             target.ingestor.ingest)


@contextmanager
def first_and_third(tmp_path: Path, held: list[Envelope]) -> Iterator[tuple[Node, Node]]:
    """A store holding `held`, and an empty one that will sync from it."""
    first, third = open_node(data_dir(tmp_path, "first", held)), open_node(data_dir(tmp_path, "third"))
    try:
        yield first, third
    finally:
        first.close()
        third.close()


def test_an_equivocation_refused_vouched_is_kept_with_its_chain_and_travels(tmp_path: Path) -> None:
    held, fork = forked(new_key(), 3, 3)
    with first_and_third(tmp_path, held) as (first, third):
        received = unpack(pack(fork))
        assert [bool(e.signature) for e in received] == [False, False, True]
        report = first.ingestor.ingest(received)
        assert report.accepted == 0 and ("equivocation" in {r for r, _ in report.rejected})
        refused, between, voucher = hashes(fork)
        assert evidence_rows(first) == {(hashes(held)[-1], "equivocation"), (refused, "equivocation")}
        vouch, chain = first.store.db.execute("SELECT vouch, chain FROM evidence WHERE hash = ?",
                                              (refused,)).fetchone()
        assert bytes(vouch) == voucher and first.store.voucher(voucher) == fork[2]
        assert msgpack.unpackb(chain) == [fork[1].change]  # the one change between them
        (flag,) = flagged_keys(first)
        assert flag["reason"] == "equivocation" and len(flag["changes"]) == 2

        synced_from(first, third)
        assert evidence_rows(third) == evidence_rows(first)
        assert flagged_keys(third) == flagged_keys(first)
        assert third.store.voucher(voucher) == fork[2]
        assert StoreHoldings(third.store).trees().whole.root() == \
            StoreHoldings(first.store).trees().whole.root()
        assert between not in {h for h, _ in evidence_rows(third)}


def test_a_relayed_vouched_evidence_s_chain_and_voucher_do_not_wait_in_the_pending_set(
        tmp_path: Path) -> None:
    """The chain and voucher that travel after a refused change descend from it, so they can
    never be held: a receiver that keeps the evidence does not park them charged to its source
    (whose share of the pending set they would fill until they expired), relayed once or again."""
    held, fork = forked(new_key(), 3, 4)
    with first_and_third(tmp_path, held) as (first, third):
        first.ingestor.ingest(unpack(pack(fork)))
        assert first.store.pending.count() == 0
        synced_from(first, third)
        assert evidence_rows(third) == evidence_rows(first) and len(evidence_rows(third)) == 2
        assert third.store.pending.count() == 0
        # offered again, in slices that split the piece: nothing waits either
        (piece,) = first.store.refused_evidence()
        received = unpack(pack(piece))
        assert [bool(e.signature) for e in received] == [False, False, False, True]
        for part in (received[:2], received[2:]):
            report = third.ingestor.ingest(part, "peer")
            assert report.pending == 0 and report.accepted == 0
        assert third.store.pending.count() == 0 and evidence_rows(third) == evidence_rows(first)


def test_a_forked_history_leaves_its_source_s_share_of_the_pending_set_to_honest_changes(
        tmp_path: Path) -> None:
    """A peer sends a fork signed change by change: the first is refused, and the four built on
    it can never be held, so they take none of that peer's room to wait (here 3 changes):
    what it sends next that truly waits for its parent finds room."""
    held, fork = forked(new_key(), 3, 5)
    node = open_node(data_dir(tmp_path, "target", held))
    try:
        node.store.pending = PendingSet(node.store.db, Bounds(per_peer=3))
        report = node.ingestor.ingest(fork, "peer")
        assert [r for r, _ in report.rejected] == ["equivocation"] and report.deferred == 0
        assert report.pending == 0 and node.store.pending.count() == 0
        report = node.ingestor.ingest(waiting_junk(new_key(), 3), "peer")
        assert (report.pending, report.deferred) == (3, 0)
    finally:
        node.close()


def test_three_equivocations_vouched_by_one_head_are_each_kept_and_travel(tmp_path: Path) -> None:
    """The fork contradicts the last three held changes: three pairs of evidence, each refused
    change kept with the same voucher and its own chain, and served as three pieces that hold
    the voucher and the chain's changes more than once."""
    held, fork = forked(new_key(), 5, 4, back=3)
    with first_and_third(tmp_path, held) as (first, third):
        first.ingestor.ingest(unpack(pack(fork)))
        chains = first.store.db.execute("SELECT chain FROM evidence WHERE vouch IS NOT NULL")
        assert sorted(len(msgpack.unpackb(c)) for (c,) in chains) == [0, 1, 2]
        assert len(evidence_rows(first)) == 6
        synced_from(first, third)
        assert evidence_rows(third) == evidence_rows(first)
        assert flagged_keys(third) == flagged_keys(first)


def test_an_equivocation_refused_vouched_as_it_leaves_the_pending_set_is_kept(tmp_path: Path) -> None:
    """The held change and the fork both wait for their parent; the held one arrived first, so
    it is kept and the fork's first change refused as both are released: its pack group is
    gone, and its chain is found among the changes waiting with it."""
    held, fork = forked(new_key(), 3, 3)
    with first_and_third(tmp_path, held[:1]) as (first, third):
        assert first.ingestor.ingest(held[2:]).pending == 1
        assert first.ingestor.ingest(unpack(pack(fork))).pending == 3
        report = first.ingestor.ingest(held[1:2])
        assert report.accepted == 2 and [r for r, _ in report.rejected] == ["equivocation"]
        refused, _, voucher = hashes(fork)
        vouch, chain = first.store.db.execute("SELECT vouch, chain FROM evidence WHERE hash = ?",
                                              (refused,)).fetchone()
        assert bytes(vouch) == voucher and msgpack.unpackb(chain) == [fork[1].change]
        # the chain and voucher waited on the refused change: they leave the set with it
        assert report.pending == 0 and first.store.pending.count() == 0
        synced_from(first, third)
        assert evidence_rows(third) == evidence_rows(first) and len(evidence_rows(third)) == 2


def test_a_second_genesis_refused_vouched_is_kept_with_its_voucher(tmp_path: Path) -> None:
    """The assembly key founds its ledger again, signing only the second change of the new
    history: the second genesis is refused (W8) and kept as evidence, proven by that change."""
    key = new_key()
    _, held = ledger_chain(key, 2)
    _, again = ledger_chain(key, 2)
    with first_and_third(tmp_path, held) as (first, third):
        report = first.ingestor.ingest(unpack(pack(again)))
        assert "schema-violation" in {r for r, _ in report.rejected}
        genesis, voucher = hashes(again)
        assert evidence_rows(first) == {(hashes(held)[0], "schema-violation"), (genesis, "schema-violation")}
        assert first.store.voucher(voucher) == again[1]
        synced_from(first, third)
        assert flagged_keys(third) == flagged_keys(first) != []


def test_a_forged_voucher_keeps_nothing(tmp_path: Path) -> None:
    held, fork = forked(new_key(), 3, 2)
    node = open_node(data_dir(tmp_path, "target", held))
    try:
        forged = Envelope(fork[1].doc_id, fork[1].change, fork[1].signer,
                          bytes([fork[1].signature[0] ^ 1]) + fork[1].signature[1:])
        before = (node.store.count_changes(), node.store.pending.count())
        report = node.ingestor.ingest(unpack(pack([fork[0], forged])))
        assert report.accepted == 0 and {r for r, _ in report.rejected} == {"bad-signature"}
        # another key's change made to depend on the refused one vouches for nothing either
        _, stranger = ledger_chain(new_key(), 1)
        deps, rest = split_chunk(fork[0].change)
        report = node.ingestor.ingest(unpack_value([[fork[0].doc_id, [
            [list(deps), rest, None], [[0], split_chunk(stranger[0].change)[1], stranger[0].signature]]]]))
        assert "unvouched" in {r for r, _ in report.rejected}
        assert node.store.count_evidence() == 0 and flagged_keys(node) == []
        assert (node.store.count_changes(), node.store.pending.count()) == before
        assert node.store.db.execute("SELECT count(*) FROM vouchers").fetchone()[0] == 0
    finally:
        node.close()


def test_a_chain_past_the_bounds_is_refused_and_not_kept(tmp_path: Path) -> None:
    """More than CHAIN_CHANGES changes between the refused change and its voucher: refused as
    usual, not kept (a hostile sender cannot make receivers hold long chains)."""
    held, fork = forked(new_key(), 3, CHAIN_CHANGES + 3)
    node = open_node(data_dir(tmp_path, "target", held))
    try:
        report = node.ingestor.ingest(unpack(pack(fork)))
        assert "equivocation" in {r for r, _ in report.rejected}
        assert node.store.count_evidence() == 0
        # refused, if not kept: what descends from it does not wait either
        assert report.pending == 0 and node.store.pending.count() == 0
        # the same chain one change shorter is within the bounds
        report = node.ingestor.ingest(unpack(pack(fork[:CHAIN_CHANGES + 2])))
        assert node.store.count_evidence() == 2
    finally:
        node.close()


def test_daemons_relay_vouched_evidence_by_sync_and_by_bundle(tmp_path: Path) -> None:
    """A hostile peer pushes the forked chain, signed at its head only, to a real daemon; a
    third daemon syncing from it, and a fourth importing its bundle, keep and flag the same."""
    held, fork = forked(new_key(), 3, 3)
    receiver = data_dir(tmp_path, "receiver", held)
    third, fourth = data_dir(tmp_path, "third"), data_dir(tmp_path, "fourth")
    bundle = tmp_path / "carry.pnyx"
    forged = Envelope(fork[2].doc_id, fork[2].change, fork[2].signer,
                      bytes([fork[2].signature[0] ^ 1]) + fork[2].signature[1:])
    daemon = Daemon(receiver)
    try:
        reply = push_pack(daemon.url, fork[0].doc_id, entries([*fork[:2], forged], {2}))
        assert reply.accepted == 0 and reply.reasons == ("bad-signature",)
        assert cli_json(receiver, "status", "--json")["equivocations"] == []
        reply = push_pack(daemon.url, fork[0].doc_id, entries(fork, {2}))
        assert reply.accepted == 0 and "equivocation" in reply.reasons
        flags = cli_json(receiver, "status", "--json")["equivocations"]
        assert len(flags) == 1 and len(flags[0]["changes"]) == 2
        cli(third, "sync", daemon.url)
        cli(receiver, "bundle", "export", "--all", "-o", str(bundle))
    finally:
        daemon.stop()
    cli(fourth, "bundle", "import", str(bundle))
    rows = "SELECT hex(hash), reason, hex(vouch) FROM evidence ORDER BY hash"
    for data in (receiver, third, fourth):
        assert cli_json(data, "status", "--json")["equivocations"] == flags
        assert query(data, rows) == query(receiver, rows)
        assert query(data, "SELECT count(*) FROM pending") == [(0,)]


@pytest.mark.parametrize("came", ["signed", "vouched"])
def test_verify_keeps_the_evidence_again_and_fails_a_row_the_rules_would_not_keep(
        tmp_path: Path, came: str) -> None:
    """`pnyx verify` refuses the refused halves of the evidence again, each as it travels: a
    store whose evidence the rules keep verifies; a row written on disk that flags an honest
    change (a stolen disk smearing a key) fails it, by name."""
    held, fork = forked(new_key(), 5, 3, back=2)
    with first_and_third(tmp_path, held) as (first, _):
        first.ingestor.ingest(fork[:1] if came == "signed" else unpack(pack(fork)))
        assert len(evidence_rows(first)) >= 2
        report = reverify(first.store)
        assert report.ok and report.problems == []
        honest = held[1]
        with first.store.transaction():
            first.store.add_evidence(honest, hashes([honest])[0], "equivocation", "written on disk")
        report = reverify(first.store)
        assert not report.ok and report.failed == 1
        assert report.problems == [f"evidence that the rules do not keep again: {hashes([honest])[0].hex()}"
                                   f" in {honest.doc_id}"]
