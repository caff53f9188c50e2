"""protocol-spec/vectors/sync.json against the code: digests recompute, every message decodes
to its stated fields and encodes back to the same bytes, every bad body gets its error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pnyx.daemon.net.sync_endpoint import http_status
from pnyx.daemon.services.jsonable import to_jsonable
from pnyx.federation.errors import Rejected
from pnyx.federation.identity import check_sender
from pnyx.federation.keys import key_text
from pnyx.federation.syncdigest import EMPTY_BUCKET, bucket_digests, bucket_of, doc_digest, state_digest
from pnyx.federation.syncmsg import (
    REQUEST_TYPES,
    ProtocolError,
    decode_reply,
    decode_request,
    encode,
    to_wire,
)

SYNC = json.loads((Path(__file__).resolve().parent.parent / "protocol-spec" / "vectors" / "sync.json")
                  .read_text())


def test_digests_recompute() -> None:
    vectors = SYNC["digests"]
    digests = {}
    for doc in vectors["documents"]:
        digest = doc_digest(bytes.fromhex(h) for h in doc["heads"])
        assert digest.hex() == doc["doc_digest"]
        assert bucket_of(doc["doc_id"]) == doc["bucket"]
        digests[doc["doc_id"]] = digest
    buckets = bucket_digests(digests)
    assert {str(i): b.hex() for i, b in enumerate(buckets) if b != EMPTY_BUCKET} == vectors["buckets"]
    assert state_digest(buckets).hex() == vectors["state"]
    assert state_digest(bucket_digests({})).hex() == vectors["empty_state"]


@pytest.mark.parametrize("vector", SYNC["messages"], ids=[m["type"] for m in SYNC["messages"]])
def test_messages_decode_to_their_fields_and_encode_back(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["msgpack"])
    decode = decode_request if vector["type"] in REQUEST_TYPES else decode_reply
    message = decode(data)
    assert to_jsonable(to_wire(message)) == vector["fields"]
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
