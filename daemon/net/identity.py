"""Asking the daemon at a URL to prove its device key (federation/identity.py)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from pnyx.federation.errors import Rejected
from pnyx.federation.identity import NONCE_BYTES, check_identity, parse_nonce, prove_identity
from pnyx.federation.keys import SigningKey

IDENTITY_PATH = "/pnyx/v1/identity"
MAX_ANSWER_BYTES = 4096
TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3, sock_read=5)


class Unproven(Exception):
    """The daemon at a URL did not prove any key; `bad_answer` if it answered with a bad proof."""

    def __init__(self, detail: str, bad_answer: bool = False) -> None:
        super().__init__(detail)
        self.bad_answer = bad_answer


async def proven_key(session: aiohttp.ClientSession, url: str) -> bytes:
    """The device key the daemon at `url` proves now, against a fresh random challenge."""
    nonce = os.urandom(NONCE_BYTES)
    try:
        async with session.get(f"{url}{IDENTITY_PATH}", params={"nonce": nonce.hex()},
                               timeout=TIMEOUT) as response:
            if response.status != 200:
                raise Unproven(f"HTTP {response.status}")
            body = await response.content.read(MAX_ANSWER_BYTES + 1)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise Unproven(str(exc) or type(exc).__name__) from None
    try:
        if len(body) > MAX_ANSWER_BYTES:
            raise Unproven("answer too large", bad_answer=True)
        return check_identity(nonce, json.loads(body))
    except (ValueError, Rejected) as exc:
        raise Unproven(str(exc), bad_answer=True) from None


def identity_handler(key: SigningKey) -> Callable[[web.Request], Awaitable[web.Response]]:
    """GET /pnyx/v1/identity?nonce=<64 hex digits>: this device's key and its signature."""
    async def identity(request: web.Request) -> web.Response:
        try:
            nonce = parse_nonce(request.query.get("nonce", ""))
        except ValueError as exc:
            return web.json_response({"error": "bad-nonce", "detail": str(exc)}, status=400)
        return web.json_response(prove_identity(key, nonce))
    return identity
