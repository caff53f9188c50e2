"""The one error the protocol core raises for bad input.

Every decoder and check in federation/ turns malformed, forged or
unauthorized input into `Rejected` with a stable reason code, so that callers
(and fuzz tests) can rely on no other exception escaping, and so that the
reason can be stored as evidence and compared against test vectors.
"""

from __future__ import annotations

from enum import Enum


class Reason(str, Enum):
    """Stable rejection reason codes; protocol-spec/changes.md lists them in order."""

    OVERSIZED = "oversized"
    MALFORMED_ENVELOPE = "malformed-envelope"
    BAD_MAGIC = "bad-magic"
    NOT_A_CHANGE = "not-a-change"
    TRUNCATED = "truncated"
    TRAILING_BYTES = "trailing-bytes"
    BAD_CHECKSUM = "bad-checksum"
    MALFORMED_CHANGE = "malformed-change"
    BAD_DOC_ID = "bad-doc-id"
    ACTOR_NOT_SIGNER = "actor-not-signer"
    BAD_SIGNATURE = "bad-signature"
    UNVOUCHED = "unvouched"
    UNKNOWN_DEVICE = "unknown-device"
    REVOKED_DEVICE = "revoked-device"
    NOT_AUTHORIZED = "not-authorized"
    SEQ_GAP = "seq-gap"
    EQUIVOCATION = "equivocation"
    PREVIOUS_NOT_ANCESTOR = "previous-not-ancestor"
    START_OP_MISMATCH = "start-op-mismatch"
    SCHEMA_VIOLATION = "schema-violation"
    APPLY_FAILED = "apply-failed"
    BAD_ANNOUNCEMENT = "bad-announcement"
    BAD_IDENTITY = "bad-identity"


class Rejected(Exception):
    """Input refused by a protocol rule; `reason` is machine-readable, `detail` is for people.

    `conflict`: the hash of a held change this one contradicts (an equivocation, a second
    genesis). Both are then kept as evidence, which travels to every peer."""

    def __init__(self, reason: Reason, detail: str = "", conflict: bytes | None = None) -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail
        self.conflict = conflict
