"""documents.apply_chunks frames each chunk by its length with chunk.encode_uleb's short forms
inlined: the message it hands Automerge is the one encode_uleb's framing makes, at every
length around where a form changes."""

from __future__ import annotations

import pytest
from pnyx.daemon.store import documents
from pnyx.federation.chunk import encode_uleb

LENGTHS = [0, 1, 0x7F, 0x80, 0x81, 0x3FFF, 0x4000, 0x4001, 0x1FFFFF, 0x200000]


def test_chunks_framed_as_encode_uleb_frames_them(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = [bytes([i % 251]) * n for i, n in enumerate(LENGTHS)]
    handed: list[bytes] = []

    class Message:
        @staticmethod
        def decode(data: bytes) -> bytes:
            handed.append(data)
            return data

    class Doc:
        def receive_sync_message(self, state: object, message: bytes) -> None:
            pass

    monkeypatch.setattr(documents, "Message", Message)
    monkeypatch.setattr(documents, "SyncState", lambda: None)
    documents.apply_chunks(Doc(), chunks)  # type: ignore[arg-type]
    expected = bytes([documents.SYNC_MESSAGE_V1]) + encode_uleb(0) * 3 + encode_uleb(len(chunks)) \
        + b"".join(encode_uleb(len(c)) + c for c in chunks)
    assert handed == [expected]
