"""Proving which device answers at an address: a signature over a fresh challenge.

An mDNS announcement, a peer list or a URL typed by hand only claims a device
key. To check the claim, a verifier sends a random nonce to
`GET /pnyx/v1/identity?nonce=<hex>`; the daemon answers with its device key
and its signature over `b"pnyx/identity/v1" || nonce`
(protocol-spec/discovery.md, "Identity check"). A daemon whose proven key
differs from its announced key is flagged; nothing it serves is trusted either
way, signatures on changes decide.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .errors import Reason, Rejected
from .keys import SigningKey, key_text, parse_key, verify_signature

IDENTITY_DOMAIN = b"pnyx/identity/v1"
PUSH_DOMAIN = b"pnyx/push/v1"
MAX_CLOCK_SKEW = 300  # seconds a push proof may be older or newer than the responder's clock
NONCE_BYTES = 32
_NONCE = re.compile(r"^[0-9a-f]{64}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{128}$")


def identity_input(nonce: bytes) -> bytes:
    return IDENTITY_DOMAIN + nonce


def parse_nonce(text: str) -> bytes:
    """A challenge as sent in the query string; ValueError unless 64 lowercase hex digits."""
    if not _NONCE.match(text):
        raise ValueError(f"nonce is {NONCE_BYTES} bytes in lowercase hex")
    return bytes.fromhex(text)


def prove_identity(key: SigningKey, nonce: bytes) -> dict[str, str]:
    """The answer to a challenge, as the JSON body of the identity endpoint."""
    return {"device": key_text(key.public), "signature": key.sign(identity_input(nonce)).hex()}


def check_identity(nonce: bytes, answer: Any) -> bytes:
    """The device key an answer proves for `nonce`; Rejected(BAD_IDENTITY) otherwise."""
    if not isinstance(answer, dict) or not isinstance(answer.get("device"), str) \
            or not isinstance(answer.get("signature"), str) or not _SIGNATURE.match(answer["signature"]):
        raise Rejected(Reason.BAD_IDENTITY, "answer is not {device, signature}")
    try:
        device = parse_key(answer["device"])
    except ValueError as exc:
        raise Rejected(Reason.BAD_IDENTITY, f"device: {exc}") from None
    if not verify_signature(device, bytes.fromhex(answer["signature"]), identity_input(nonce)):
        raise Rejected(Reason.BAD_IDENTITY, "signature does not verify for this nonce")
    return device


# --- who sent a push (protocol-spec/sync.md, "Push senders") -------------------------------


def push_input(responder: bytes, at: int, body: bytes) -> bytes:
    return PUSH_DOMAIN + responder + at.to_bytes(8, "big") + hashlib.sha256(body).digest()


def prove_sender(key: SigningKey, responder: bytes, at: int, body: bytes) -> str:
    """The `Pnyx-Sender` header of a push: `KEY.TIME.SIGNATURE`, bound to the responder's key,
    the time and the body, so it cannot be moved to another daemon or another body."""
    return f"{key_text(key.public)}.{at}.{key.sign(push_input(responder, at, body)).hex()}"


def check_sender(header: str, responder: bytes, body: bytes, now: int) -> bytes:
    """The device key a `Pnyx-Sender` header proves for `body`; Rejected(BAD_IDENTITY) otherwise."""
    parts = header.strip().split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12 or not _SIGNATURE.match(parts[2]):
        raise Rejected(Reason.BAD_IDENTITY, "Pnyx-Sender is KEY.TIME.SIGNATURE")
    try:
        device = parse_key(parts[0])
    except ValueError as exc:
        raise Rejected(Reason.BAD_IDENTITY, f"sender key: {exc}") from None
    at = int(parts[1])
    if abs(now - at) > MAX_CLOCK_SKEW:
        raise Rejected(Reason.BAD_IDENTITY, f"the proof is {now - at} s old")
    if not verify_signature(device, bytes.fromhex(parts[2]), push_input(responder, at, body)):
        raise Rejected(Reason.BAD_IDENTITY, "signature does not verify for this body")
    return device
