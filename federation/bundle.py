"""Bundles and state files: signed records carried by hand (protocol-spec/bundles.md).

A bundle is a stream of frames after a magic: one header, then record frames,
each a pack of changes exactly as sync sends them (changepack.py: grouped by
document, compressed, one signature vouching for each actor's chain in a
group), then a trailer. Every frame
carries its own CRC-32, so damage is found at the first bad frame and every
record before it can still be used; the trailer counts the records and
hashes every byte before it, so a file cut anywhere, even between two frames,
is never taken for complete. The header says what the bundle covers and
carries the exporter's state: what it held when it wrote the file.

A state file is a magic and one frame holding a state: per document, each
actor's highest seq held (the version vectors sync exchanges) and the root
digest sync's hello carries. `bundle export --for` sends exactly what a state
lacks.

Reading and writing work on streams handed in by the caller, one frame at a
time: neither side ever holds a whole bundle.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import msgpack

from .changepack import PackError, pack
from .changepack import unpack as unpack_pack
from .envelope import Envelope
from .errors import Reason, Rejected
from .syncmsg import DocVectors, Fields, ProtocolError, vectors_to_wire
from .wirelimits import BUNDLE_META, WireLimitError, unpack

BUNDLE_MAGIC = b"PNYXBNDL\x01"
STATE_MAGIC = b"PNYXSTAT\x01"
FORMAT_VERSION = 2
HEADER, RECORD, TRAILER, STATE = b"H", b"P", b"T", b"S"
MAX_PACK_BYTES = 8 << 20  # a record frame: one pack, at most what one sync body holds
FRAME_HEAD = struct.Struct(">cI")  # kind, payload length
CRC = struct.Struct(">I")
MAX_META_BYTES = BUNDLE_META.max_bytes  # a header or a state: vectors of many documents
MAX_LENGTH = {HEADER: MAX_META_BYTES, RECORD: MAX_PACK_BYTES, TRAILER: 1024, STATE: MAX_META_BYTES}


class BundleError(Exception):
    """The file is not a complete, undamaged bundle or state; `offset` is where it broke."""

    def __init__(self, code: str, detail: str, offset: int) -> None:
        super().__init__(f"{detail} (at byte {offset})")
        self.code = code
        self.detail = detail
        self.offset = offset


@dataclass(frozen=True)
class HeldState:
    """What one daemon holds: per document, actor -> highest seq (all lower seqs held too)."""

    device: bytes
    assembly: bytes
    digest: bytes  # sync's root digest (federation/synctree.py)
    vectors: DocVectors

    def as_map(self) -> dict[str, dict[bytes, int]]:
        return {doc: dict(vector) for doc, vector in self.vectors}


@dataclass(frozen=True)
class Selection:
    """What the exporter was asked for; absent filters are None."""

    since: str | None = None  # ISO date: changes stored by the exporter since then
    confed: str | None = None  # a charter id: its documents and its members'
    for_state: bytes | None = None  # the digest of the state file the bundle answers


@dataclass(frozen=True)
class Header:
    selection: Selection
    exporter: HeldState


@dataclass(frozen=True)
class Trailer:
    records: int  # record frames (packs)
    sha256: bytes
    changes: int = 0  # the changes in them, as the exporter counts them (not written)


def state_to_wire(state: HeldState) -> dict[str, Any]:
    return {"device": state.device, "assembly": state.assembly, "digest": state.digest,
            "vectors": vectors_to_wire(state.vectors)}


def state_from_wire(value: Any) -> HeldState:
    if not isinstance(value, dict):
        raise ProtocolError("bad-message", "a state is a map")
    f = Fields(value)
    return HeldState(f.key("device"), f.key("assembly"), f.digest("digest"), f.vectors("vectors"))


def _pack(value: Any) -> bytes:
    return bytes(msgpack.packb(value, use_bin_type=True))


def _unpack(payload: bytes, what: str, offset: int) -> Any:
    try:
        return unpack(payload, BUNDLE_META)
    except WireLimitError as exc:
        raise BundleError("malformed", f"the {what} is not msgpack within limits: {exc.detail}",
                          offset) from None


def frame(kind: bytes, payload: bytes) -> bytes:
    head = FRAME_HEAD.pack(kind, len(payload))
    return head + payload + CRC.pack(zlib.crc32(head + payload))


# --- state files -----------------------------------------------------------------------------


def encode_state(state: HeldState) -> bytes:
    return STATE_MAGIC + frame(STATE, _pack({"v": FORMAT_VERSION, **state_to_wire(state)}))


def decode_state(data: bytes) -> HeldState:
    reader = FrameReader(_bytes_reader(data), STATE_MAGIC, "state file")
    kind, payload, offset = reader.next_frame()
    if kind != STATE:
        raise BundleError("malformed", "a state file holds one state frame", offset)
    if reader.read(1):
        raise BundleError("malformed", "bytes after the state", reader.offset)
    value = _versioned(_unpack(payload, "state", offset), "state", offset)
    try:
        return state_from_wire(value)
    except ProtocolError as exc:
        raise BundleError("malformed", f"the state: {exc.detail}", offset) from None


def _bytes_reader(data: bytes) -> Callable[[int], bytes]:
    view = memoryview(data)
    position = [0]

    def read(n: int) -> bytes:
        out = bytes(view[position[0]:position[0] + n])
        position[0] += len(out)
        return out
    return read


def _versioned(value: Any, what: str, offset: int) -> Mapping[str, Any]:
    if not isinstance(value, dict) or value.get("v") != FORMAT_VERSION:
        raise BundleError("unsupported-version", f"the {what} is not format version {FORMAT_VERSION}",
                          offset)
    return value


# --- frames ----------------------------------------------------------------------------------


class FrameReader:
    """Frames read one at a time from `read(n)`, each checked against its CRC."""

    def __init__(self, read: Callable[[int], bytes], magic: bytes, what: str) -> None:
        self.read_raw = read
        self.offset = 0
        self.hash = hashlib.sha256()
        if self.read(len(magic)) != magic:
            raise BundleError("not-a-bundle" if magic == BUNDLE_MAGIC else "not-a-state",
                              f"this is not a pnyx {what} (format {FORMAT_VERSION})", 0)

    def read(self, n: int) -> bytes:
        data = self.read_raw(n)
        self.offset += len(data)
        self.hash.update(data)
        return data

    def _exactly(self, n: int, start: int) -> bytes:
        data = self.read(n)
        if len(data) != n:
            raise BundleError("truncated", "the file ends in the middle of a frame: it was cut short",
                              start)
        return data

    def next_frame(self) -> tuple[bytes, bytes, int]:
        """(kind, payload, offset of the frame); BundleError at the end of the file or damage."""
        start = self.offset
        first = self.read(FRAME_HEAD.size)
        if not first:
            raise BundleError("truncated", "the file ends before its trailer: it was cut short", start)
        head = first + (self._exactly(FRAME_HEAD.size - len(first), start)
                        if len(first) < FRAME_HEAD.size else b"")
        kind, length = FRAME_HEAD.unpack(head)
        if kind not in MAX_LENGTH or length > MAX_LENGTH[kind]:
            raise BundleError("damaged", "a frame header is damaged (unknown kind or length)", start)
        payload = self._exactly(length, start)
        (crc,) = CRC.unpack(self._exactly(CRC.size, start))
        if crc != zlib.crc32(payload, zlib.crc32(head)):  # no copy of a large payload
            raise BundleError("damaged", "a record is damaged (checksum mismatch)", start)
        return kind, payload, start


# --- bundles ---------------------------------------------------------------------------------


class BundleWriter:
    """Writes a bundle frame by frame to `write`; `finish()` writes the trailer."""

    def __init__(self, write: Callable[[bytes], object], header: Header) -> None:
        self._write = write
        self._hash = hashlib.sha256()
        self.records = 0
        self.changes = 0
        self.bytes = 0
        self._emit(BUNDLE_MAGIC)
        s = header.selection
        self._emit(frame(HEADER, _pack({
            "v": FORMAT_VERSION, "since": s.since, "confed": s.confed, "for": s.for_state,
            "exporter": state_to_wire(header.exporter)})))

    def _emit(self, data: bytes) -> None:
        self._hash.update(data)
        self.bytes += len(data)
        self._write(data)

    def add(self, envelopes: list[Envelope]) -> None:
        """One record frame: the pack of `envelopes` (a batch as sync serves it, so that each
        change without a signature of its own is vouched for within it)."""
        self._emit(frame(RECORD, pack(envelopes)))
        self.records += 1
        self.changes += len(envelopes)

    def finish(self) -> Trailer:
        trailer = Trailer(self.records, self._hash.digest(), self.changes)
        self._emit(frame(TRAILER, _pack({"records": trailer.records, "sha256": trailer.sha256})))
        return trailer


Item = Envelope | Rejected


class BundleReader:
    """Reads a bundle from `read(n)`: `header`, then `records()` yields the envelopes of each
    record frame's pack (or the Rejected of a record that is not a pack) and checks the
    trailer at the end.
    A damaged or truncated file raises BundleError where the damage is, after every
    record before it was yielded."""

    def __init__(self, stream: BinaryIO | Callable[[int], bytes]) -> None:
        read = stream.read if hasattr(stream, "read") else stream
        self.frames = FrameReader(read, BUNDLE_MAGIC, "bundle")
        self.records_read = 0
        kind, payload, offset = self.frames.next_frame()
        if kind != HEADER:
            raise BundleError("malformed", "a bundle starts with its header", offset)
        self.header = _header(_versioned(_unpack(payload, "header", offset), "header", offset), offset)

    @property
    def offset(self) -> int:
        return self.frames.offset

    def records(self) -> Iterator[Item]:
        while True:
            before = self.frames.hash.copy()
            kind, payload, offset = self.frames.next_frame()
            if kind == TRAILER:
                self._check_trailer(payload, offset, before.digest())
                return
            if kind != RECORD:
                raise BundleError("malformed", "a second header inside the bundle", offset)
            self.records_read += 1
            try:
                envelopes = unpack_pack(payload)
            except PackError as exc:
                yield Rejected(Reason.MALFORMED_ENVELOPE, f"a record that is not a pack: {exc}")
                continue
            yield from envelopes

    def _check_trailer(self, payload: bytes, offset: int, digest: bytes) -> None:
        value = _unpack(payload, "trailer", offset)
        if not isinstance(value, dict) or value.get("records") != self.records_read \
                or value.get("sha256") != digest:
            raise BundleError("damaged", "the trailer does not match the records read: the file"
                              " was altered or spliced", offset)
        if self.frames.read(1):
            raise BundleError("malformed", "bytes after the trailer", offset)


def _header(value: Mapping[str, Any], offset: int) -> Header:
    try:
        f = Fields(value)
        since = f.get("since", str, optional=True)
        confed = f.get("confed", str, optional=True)
        for_state = value.get("for")
        if for_state is not None:
            for_state = f.digest("for")
        return Header(Selection(since, confed, for_state), state_from_wire(value.get("exporter")))
    except ProtocolError as exc:
        raise BundleError("malformed", f"the header: {exc.detail}", offset) from None
