"""Document ids: which document a change belongs to, and so who may write it.

Every document has exactly one authority, and its id names that authority so
a receiver can check a change against it without trusting the sender:
- `ledger/<assembly key>`: the assembly's ledger, written by its devices;
- `mandate/<assembly key>/<mandate id>`: a delegate's acts under one mandate
  recorded in that assembly's ledger;
- `charter/<change hash hex>`: a confederation's immutable founding charter.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from .errors import Reason, Rejected
from .keys import KEY_TEXT_CHARS, key_text, parse_key

MAX_DOC_ID_CHARS = 160
RECORD_ID_CHARS: Final = 16
RECORD_ALPHABET: Final = "abcdefghijklmnopqrstuvwxyz234567"  # base32, lower case: [a-z2-7]
RECORD_ID_RE = re.compile(rf"^[{RECORD_ALPHABET}]{{{RECORD_ID_CHARS}}}\Z")
_KEY = f"[a-z2-7]{{{KEY_TEXT_CHARS}}}"
_DOC_RE = re.compile(
    rf"^(?:ledger/(?P<ledger>{_KEY})"
    rf"|mandate/(?P<massembly>{_KEY})/(?P<mandate>[a-z2-7]{{16}})"
    r"|charter/(?P<charter>[0-9a-f]{64}))\Z"
)


class DocKind(str, Enum):
    LEDGER = "ledger"
    MANDATE = "mandate"
    CHARTER = "charter"


@dataclass(frozen=True)
class DocId:
    """A parsed document id; `assembly` is the owning assembly where there is one."""

    kind: DocKind
    assembly: bytes | None
    record: str  # mandate id, or charter hash hex, or "" for a ledger

    def __str__(self) -> str:
        if self.kind is DocKind.LEDGER:
            assert self.assembly is not None
            return f"ledger/{key_text(self.assembly)}"
        if self.kind is DocKind.MANDATE:
            assert self.assembly is not None
            return f"mandate/{key_text(self.assembly)}/{self.record}"
        return f"charter/{self.record}"


@functools.lru_cache(maxsize=1024)
def parse_doc_id(text: str) -> DocId:
    """Parse a document id, raising Rejected(BAD_DOC_ID) for anything else.

    Cached, since every change names one of a few documents; a refusal is not cached."""
    if len(text) > MAX_DOC_ID_CHARS:
        raise Rejected(Reason.BAD_DOC_ID, "document id too long")
    match = _DOC_RE.match(text)
    if match is None:
        raise Rejected(Reason.BAD_DOC_ID, f"not a document id: {text[:80]!r}")
    try:
        if match["ledger"]:
            return DocId(DocKind.LEDGER, parse_key(match["ledger"]), "")
        if match["mandate"]:
            return DocId(DocKind.MANDATE, parse_key(match["massembly"]), match["mandate"])
    except ValueError as exc:
        raise Rejected(Reason.BAD_DOC_ID, str(exc)) from None
    return DocId(DocKind.CHARTER, None, match["charter"])


def ledger_id(assembly: bytes) -> str:
    return str(DocId(DocKind.LEDGER, assembly, ""))


def mandate_doc_id(assembly: bytes, mandate: str) -> str:
    return str(DocId(DocKind.MANDATE, assembly, mandate))


def charter_doc_id(change_hash: bytes) -> str:
    return str(DocId(DocKind.CHARTER, None, change_hash.hex()))
