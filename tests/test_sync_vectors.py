"""protocol-spec/vectors/sync.json against the code: the tree recomputes, the pack unpacks to its
envelopes, every message decodes to its stated fields and encodes back, every bad body gets its
error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pnyx.daemon.net.sync_endpoint import http_status
from pnyx.daemon.services.jsonable import to_jsonable
from pnyx.federation.changepack import unpack
from pnyx.federation.envelope import check_envelope
from pnyx.federation.errors import Rejected
from pnyx.federation.identity import check_sender
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.sync import cut
from pnyx.federation.syncmsg import (
    REQUEST_TYPES,
    ProtocolError,
    Told,
    decode_reply,
    decode_request,
    encode,
    to_wire,
    told_to_wire,
)
from pnyx.federation.syncscope import Founders, ScopedTrees, tag
from pnyx.federation.synctree import DigestTree, doc_digest, path_of

SYNC = json.loads((Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors" / "sync.json")
                  .read_text())


def test_the_tree_recomputes() -> None:
    vectors = SYNC["tree"]
    tree = DigestTree()
    for doc in vectors["documents"]:
        digest = doc_digest([bytes.fromhex(h) for h in doc["heads"]])
        assert digest.hex() == doc["doc_digest"]
        assert path_of(doc["doc_id"]) == doc["path"]
        tree.set(doc["doc_id"], digest)
    assert tree.root().hex() == vectors["root"]
    assert DigestTree().root().hex() == vectors["empty_root"]
    salt = bytes.fromhex(vectors["salt"])
    for node in vectors["nodes"]:
        assert to_jsonable(told_to_wire(Told(node[0], cut(tree.node(node[0]), salt)))) == node


def test_each_scope_holds_its_documents_and_recomputes_its_root() -> None:
    vectors = SYNC["scopes"]
    charters = {bytes.fromhex(c["charter"]): Founders(tuple(parse_key(m) for m in c["members"]),
                                                       tuple(bytes.fromhex(x) for x in c["confederations"]))
                for c in vectors["charters"]}
    trees = ScopedTrees(tuple(charters), charters.get)
    for doc in vectors["documents"]:
        trees.set(doc["doc_id"], bytes.fromhex(doc["doc_digest"]))
    assert trees.whole.root().hex() == vectors["whole_root"]
    assert [s["tag"] for s in vectors["scopes"]] == [tag(c).hex() for c in charters]
    for scope in vectors["scopes"]:
        tree = trees.tree(bytes.fromhex(scope["tag"]))
        assert tree is not None
        assert sorted(leaf.doc_id for leaf in tree.docs_under("")) == scope["documents"]
        assert tree.root().hex() == scope["root"]


def test_the_pack_unpacks_to_its_envelopes() -> None:
    envelopes = unpack(bytes.fromhex(SYNC["pack"]["pack"]))
    assert [to_jsonable(e.to_wire()) for e in envelopes] == SYNC["pack"]["received"]
    assert [e.change.hex() for e in envelopes] == [e[1] for e in SYNC["pack"]["envelopes"]]
    assert [None if e.voucher is None else envelopes.index(e.voucher.envelope)
            for e in envelopes] == SYNC["pack"]["vouched_by"]
    assert any(SYNC["pack"]["vouched_by"])  # the vector shows a chain vouched for


@pytest.mark.parametrize("case", SYNC["pack"]["refused"], ids=[c["name"] for c in SYNC["pack"]["refused"]])
def test_a_broken_chain_is_refused_for_the_stated_reasons(case: dict[str, Any]) -> None:
    reasons = []
    for envelope in unpack(bytes.fromhex(case["pack"])):
        try:
            check_envelope(envelope)
            reasons.append(None)
        except Rejected as exc:
            reasons.append(exc.reason.value)
    assert reasons == case["reasons"]
    assert "unvouched" in reasons or "bad-signature" in reasons


@pytest.mark.parametrize("vector", SYNC["messages"], ids=[m["type"] for m in SYNC["messages"]])
def test_messages_decode_to_their_fields_and_encode_back(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["msgpack"])
    decode = decode_request if vector["type"] in REQUEST_TYPES else decode_reply
    message = decode(data)
    assert to_jsonable(to_wire(message)) == vector["fields"]
    if "pack" in vector["fields"]:  # deflate output may differ between implementations
        assert decode(encode(message)) == message
    else:
        assert encode(message) == data


@pytest.mark.parametrize("vector", SYNC["bad"], ids=[b["name"] for b in SYNC["bad"]])
def test_bad_bodies_get_their_error(vector: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_request(bytes.fromhex(vector["msgpack"]))
    assert caught.value.code == vector["code"]
    assert http_status(caught.value) == vector["status"]


def test_a_push_sender_proof_checks() -> None:
    v = SYNC["push_sender"]
    proven = check_sender(v["header"], bytes.fromhex(v["responder"]), bytes.fromhex(v["body"]),
                          v["time"])
    assert key_text(proven) == v["sender"]
    with pytest.raises(Rejected):
        check_sender(v["header"], bytes.fromhex(v["responder"]), bytes.fromhex(v["body"]) + b"\0",
                     v["time"])
