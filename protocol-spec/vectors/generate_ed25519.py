"""Generate the Ed25519 verification vectors: `python protocol-spec/vectors/generate_ed25519.py [FILE]`.

identity.md, "Verifying": which signatures a receiver refuses although a lenient
verifier (ZIP-215, or RFC 8032 without its checks) would take them. Each case is
built from RFC 8032's first test key or from the curve's small-order points, and
`valid` is what the daemon's verifier (libsodium through PyNaCl) answers:
tests/test_ed25519_vectors.py checks every case against it, and that regenerating
changes nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pnyx.federation.keys import SigningKey, verify_signature

HERE = Path(__file__).resolve().parent / "ed25519.json"
L = 2**252 + 27742317777372353535851937790883648493  # the order of the base point
P = 2**255 - 19
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
IDENTITY = (1).to_bytes(32, "little")  # the point (0, 1): order 1
IDENTITY_NON_CANONICAL = (P + 1).to_bytes(32, "little")  # y = p + 1, the same point written >= p
ORDER_2 = (P - 1).to_bytes(32, "little")  # the point (0, -1)
ZERO_S = bytes(32)


def cases() -> list[dict[str, object]]:
    key = SigningKey(SEED)
    message = b"pnyx"
    good = key.sign(message)
    s = int.from_bytes(good[32:], "little")
    plus_l = good[:32] + (s + L).to_bytes(32, "little")
    rows = [
        ("valid", key.public, message, good, "an honest signature"),
        ("s-not-canonical", key.public, message, plus_l,
         "S + L in place of S: the same point equation holds, S is not below L"),
        ("identity-key-identity-r", IDENTITY, message, IDENTITY + ZERO_S,
         "key and R the identity, S = 0: [S]B = R + [k]A holds for every message"),
        ("order-2-key", ORDER_2, message, IDENTITY + ZERO_S,
         "a key of order 2, R the identity, S = 0: holds for every message whose k is even"),
        ("non-canonical-key", IDENTITY_NON_CANONICAL, message, IDENTITY + ZERO_S,
         "the identity key written with y >= p (ZIP-215 reads it as the identity)"),
        ("non-canonical-r", IDENTITY, message, IDENTITY_NON_CANONICAL + ZERO_S,
         "R the identity written with y >= p"),
    ]
    return [{"name": name, "public": public.hex(), "message": msg.hex(), "signature": sig.hex(),
             "valid": verify_signature(public, sig, msg), "why": why}
            for name, public, msg, sig, why in rows]


def text() -> str:
    return json.dumps({"description": "Ed25519 verification as libsodium's crypto_sign_verify_detached: "
                       "identity.md, Verifying", "cases": cases()}, indent=1) + "\n"


def main(argv: list[str]) -> int:
    (Path(argv[0]) if argv else HERE).write_text(text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
