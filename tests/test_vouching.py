"""One signature vouching for an actor's chain (protocol-spec/changes.md, "Vouched changes"):
changes arrive vouched by sync between daemons and by bundles, are stored with their voucher,
served on to a third daemon (also by windows that end inside a chain) and re-verified by
`pnyx verify`; a broken chain is refused and changes nothing."""

from __future__ import annotations

import os
import sqlite3
import zlib
from pathlib import Path

import msgpack
import pytest
from pnyx.daemon.store.audit import reverify
from pnyx.daemon.store.holdings import StoreHoldings
from pnyx.daemon.store.node import open_node
from pnyx.federation.changepack import pack, split_chunk, unpack
from pnyx.federation.chunk import parse_change
from pnyx.federation.envelope import Envelope
from pnyx.federation.sync import Initiator
from pnyx.federation.syncmsg import Pushed, decode_reply, decode_request, encode
from pnyx.federation.syncpeer import Responder, exchange

from bench.corpus import ledger_chain, new_key
from tests.pnyxproc import Daemon, cli, cli_json, post, query
from tests.test_bundles import data_dir, ledger_history

CHANGES = 1201  # a genesis and 1,200 decisions: three packs of one chain


def vouched_rows(data: Path) -> int:
    return int(query(data, "SELECT count(*) FROM changes WHERE signature = x''")[0][0])


def test_changes_arrive_vouched_and_a_third_daemon_verifies_them(tmp_path: Path) -> None:
    source = data_dir(tmp_path, "source", ledger_history(CHANGES - 1))
    relay, third = data_dir(tmp_path, "relay"), data_dir(tmp_path, "third")
    daemon = Daemon(source)
    try:
        cli(relay, "sync", daemon.url)
    finally:
        daemon.stop()
    assert query(relay, "SELECT count(*) FROM changes")[0][0] == CHANGES
    assert vouched_rows(relay) >= CHANGES - 3  # one signature per pack of the chain
    daemon = Daemon(relay)
    try:
        cli(third, "sync", daemon.url)
    finally:
        daemon.stop()
    assert vouched_rows(third) >= CHANGES - 3
    for data in (relay, third):
        assert cli_json(data, "verify", "--json")["failed"] == 0

    # Windows of 7 end inside the relay's chains: each batch is extended to its voucher.
    relay_node, fourth = open_node(relay), open_node(data_dir(tmp_path, "fourth"))
    try:
        responder = Responder(StoreHoldings(relay_node.store), relay_node.device_key.public,
                              relay_node.ingestor.ingest, os.urandom)
        initiator = Initiator(StoreHoldings(fourth.store), b"f" * 32, "http://127.0.0.1:1", 7)
        exchange(initiator, lambda r: decode_reply(encode(responder.respond(decode_request(encode(r))))),
                 fourth.ingestor.ingest)
        assert fourth.store.count_changes() == relay_node.store.count_changes()
        report = reverify(fourth.store)
        assert report.ok and report.verified == fourth.store.count_changes(), report.problems
    finally:
        relay_node.close()
        fourth.close()


def test_a_bundle_carries_vouched_chains(tmp_path: Path) -> None:
    source = data_dir(tmp_path, "source", ledger_history(CHANGES - 1))
    village = data_dir(tmp_path, "village")
    bundle = tmp_path / "carry.pnyx"
    cli(source, "bundle", "export", "--all", "-o", str(bundle))
    report = cli_json(village, "bundle", "import", str(bundle), "--json")
    assert report["new"] == query(source, "SELECT count(*) FROM changes")[0][0]
    assert vouched_rows(village) >= CHANGES - 3
    assert cli_json(village, "verify", "--json")["failed"] == 0


def test_verify_catches_a_tampered_vouched_row(tmp_path: Path) -> None:
    source = data_dir(tmp_path, "source", ledger_history(30))
    village = data_dir(tmp_path, "village")
    bundle = tmp_path / "carry.pnyx"
    cli(source, "bundle", "export", "--all", "-o", str(bundle))
    cli(village, "bundle", "import", str(bundle))
    db = sqlite3.connect(village / "pnyx.sqlite")
    try:
        seqno, change = db.execute("SELECT seqno, change FROM changes WHERE signature = x''"
                                   " ORDER BY seqno LIMIT 1 OFFSET 10").fetchone()
        flipped = bytearray(change)
        flipped[-3] ^= 0x01  # inside the body: its hash changes, so no voucher reaches it
        db.execute("UPDATE change_rows SET change = ? WHERE seqno = ?", (bytes(flipped), seqno))
        db.commit()
    finally:
        db.close()
    result = cli(village, "verify", check=False)
    assert result.returncode == 1


@pytest.mark.parametrize("where", [4, 8])  # the checksum; the chunk type
def test_verify_catches_a_damaged_header_of_a_vouched_row(tmp_path: Path, where: int) -> None:
    """A pack rebuilds a chunk's header from its body: verify still judges the bytes stored."""
    village = data_dir(tmp_path, "village")
    node = open_node(village)
    try:
        _, chain = ledger_chain(new_key(), 5)
        assert node.ingestor.ingest(unpack(pack(chain))).accepted == 5
        seqno, change = node.store.db.execute("SELECT seqno, change FROM changes WHERE signature = x''"
                                              " ORDER BY seqno LIMIT 1 OFFSET 2").fetchone()
        flipped = bytearray(change)
        flipped[where] ^= 0x01
        node.store.db.execute("UPDATE change_rows SET change = ? WHERE seqno = ?", (bytes(flipped), seqno))
        report = reverify(node.store)
        assert not report.ok and report.failed >= 1
    finally:
        node.close()


def push_pack(url: str, doc: str, entries: list[list[object]]) -> Pushed:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    pack = compressor.compress(msgpack.packb([[doc, entries]], use_bin_type=True)) + compressor.flush()
    status, body = post(f"{url}/pnyx/v1/sync",
                        msgpack.packb({"v": 3, "t": "push", "pack": pack}, use_bin_type=True))
    assert status == 200, body
    reply = decode_reply(body)
    assert isinstance(reply, Pushed)
    return reply


def entries(chain: list[Envelope], signed: set[int]) -> list[list[object]]:
    return [[list(split_chunk(e.change)[0]), split_chunk(e.change)[1],
             e.signature if i in signed else None] for i, e in enumerate(chain)]


def test_a_broken_chain_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    target = data_dir(tmp_path, "target")
    _, chain = ledger_chain(new_key(), 4)
    _, other = ledger_chain(new_key(), 1)
    forged_head = Envelope(chain[3].doc_id, chain[3].change, chain[3].signer, bytes(64))
    daemon = Daemon(target)
    try:
        assert push_pack(daemon.url, chain[0].doc_id, entries(chain[:1], {0})).accepted == 1
        before = query(target, "SELECT count(*) FROM changes")[0][0]
        # changes no signed change of their actor reaches
        reply = push_pack(daemon.url, chain[0].doc_id, entries(chain[1:3], set()))
        assert reply.accepted == 0 and reply.reasons == ("unvouched",) and reply.rejected == 2
        # the head's signature fails: every change it vouches for fails with it
        reply = push_pack(daemon.url, chain[0].doc_id, entries([*chain[1:3], forged_head], {2}))
        assert reply.accepted == 0 and reply.reasons == ("bad-signature",) and reply.rejected == 3
        # a head by another actor (made to depend on ours) vouches for nothing
        _, rest = split_chunk(other[0].change)
        reply = push_pack(daemon.url, chain[0].doc_id,
                          [[[], split_chunk(chain[1].change)[1], None], [[0], rest, other[0].signature]])
        assert reply.accepted == 0 and "unvouched" in reply.reasons
        assert query(target, "SELECT count(*) FROM changes")[0][0] == before
        assert query(target, "SELECT count(*) FROM vouchers")[0][0] == 0
    finally:
        daemon.stop()


def test_a_vouched_change_that_waits_keeps_its_voucher_and_is_stored_with_it(tmp_path: Path) -> None:
    """Changes that arrive vouched before their parent wait in the pending set with their
    voucher's hash; released, they are stored with it and verify like the rest."""
    node = open_node(data_dir(tmp_path, "village"))
    try:
        _, chain = ledger_chain(new_key(), 6)
        early = unpack(pack(chain[1:]))
        assert [bool(e.signature) for e in early] == [False] * 4 + [True]
        report = node.ingestor.ingest(early)
        assert report.accepted == 0 and report.pending == 5
        assert node.ingestor.ingest(chain[:1]).accepted == 6  # the genesis releases the rest
        assert node.store.count_changes() == 6 and node.store.pending.count() == 0
        head = parse_change(chain[5].change).hash
        vouched = node.store.db.execute("SELECT vouch FROM changes WHERE signature = x''").fetchall()
        assert [bytes(v) for (v,) in vouched] == [head] * 4
        assert node.store.voucher(head) == chain[5]
        report_ = reverify(node.store)
        assert report_.ok and report_.verified == 6, report_.problems
    finally:
        node.close()
