"""A daemon proves its device key against a fresh challenge; forged or stale answers are refused."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from pnyx.daemon.net.identity import Unproven, proven_key
from pnyx.federation.errors import Reason, Rejected
from pnyx.federation.identity import check_identity, prove_identity
from pnyx.federation.keys import SigningKey, key_text

from tests.pnyxproc import Daemon, cli

VECTOR = json.loads((Path(__file__).parent.parent / "protocol-spec/vectors/discovery.json").read_text())[
    "identity"]
KEY, OTHER = SigningKey(b"\x01" * 32), SigningKey(b"\x02" * 32)
NONCE = b"\x07" * 32


def test_identity_vector() -> None:
    key, nonce = SigningKey(bytes.fromhex(VECTOR["seed"])), bytes.fromhex(VECTOR["nonce"])
    assert prove_identity(key, nonce) == VECTOR["answer"]
    assert check_identity(nonce, VECTOR["answer"]) == key.public


@pytest.mark.parametrize("answer", [
    prove_identity(KEY, b"\x08" * 32),  # an answer to another challenge: replayed
    {**prove_identity(KEY, NONCE), "device": key_text(OTHER.public)},  # another key's name on it
    {"device": key_text(KEY.public)},
    {"device": "nonsense", "signature": "00" * 64},
    {"device": key_text(KEY.public), "signature": "zz" * 64},
    ["not", "a", "dict"],
])
def test_forged_or_stale_answers_are_refused(answer: object) -> None:
    with pytest.raises(Rejected) as info:
        check_identity(NONCE, answer)
    assert info.value.reason is Reason.BAD_IDENTITY


@pytest.mark.slow
def test_a_running_daemon_proves_its_key(tmp_path: Path) -> None:
    data = tmp_path / "a"
    cli(data, "init", "--assembly", "A")
    daemon = Daemon(data)
    try:
        async def ask(url: str) -> bytes:
            async with aiohttp.ClientSession() as session:
                return await proven_key(session, url)
        assert key_text(asyncio.run(ask(daemon.url))) == daemon.status()["device"]
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{daemon.url}/pnyx/v1/identity?nonce=12", timeout=5)
        assert info.value.code == 400
        with pytest.raises(Unproven):
            asyncio.run(ask("http://127.0.0.1:1"))
    finally:
        daemon.stop()
