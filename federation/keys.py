"""Ed25519 keys and their text form.

A key's text form is its 32 raw bytes in lowercase RFC 4648 base32 without
padding (52 characters): it survives copy and paste, command lines, URLs and
DNS TXT records unchanged. Key generation takes the 32-byte seed from the
caller so that this module stays free of randomness.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass

import nacl.bindings
import nacl.exceptions
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY_BYTES = 32
SIGNATURE_BYTES = 64
KEY_TEXT_CHARS = 52


@functools.lru_cache(maxsize=4096)
def key_text(key: bytes) -> str:
    """The text form of a public key (cached: every ledger id and device lookup needs one)."""
    return base64.b32encode(key).decode("ascii").rstrip("=").lower()


def parse_key(text: str) -> bytes:
    """Parse a key's text form; ValueError names what is wrong."""
    cleaned = text.strip()
    if len(cleaned) != KEY_TEXT_CHARS:
        raise ValueError(f"a key is {KEY_TEXT_CHARS} base32 characters, got {len(cleaned)}")
    if cleaned != cleaned.lower():
        raise ValueError("a key is written in lowercase base32")
    try:
        raw = base64.b32decode(cleaned.upper() + "====")
    except binascii.Error as exc:
        raise ValueError(f"not base32: {exc}") from None
    if key_text(raw) != cleaned:
        raise ValueError("not the canonical text form of a key")
    return raw


@dataclass(frozen=True)
class SigningKey:
    """A private key held by this process; only its seed is ever written to disk."""

    seed: bytes

    def __post_init__(self) -> None:
        if len(self.seed) != KEY_BYTES:
            raise ValueError("an Ed25519 seed is 32 bytes")

    @property
    def public(self) -> bytes:
        return _private(self.seed).public_key().public_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        return _private(self.seed).sign(message)


def _private(seed: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed)


def verify_signature(public: bytes, signature: bytes, message: bytes) -> bool:
    """True if `signature` is `public`'s Ed25519 signature over `message`.

    Verified by libsodium (through PyNaCl): about 1.6 times as fast as OpenSSL through
    `cryptography` on these machines (`make bench`, ingest), and it is the stricter of the
    two: it refuses a non-canonical S, a small-order key or R, which only a forger makes
    (protocol-spec/identity.md)."""
    if len(public) != KEY_BYTES or len(signature) != SIGNATURE_BYTES:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + message, public)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError):
        return False
    return True
