"""What a hostile peer sends, made in bulk: for the hostile benchmark and the tests that
check a daemon stays responsive, bounded and correct under each attack.

Every envelope here is what anyone can make with a key of their own (a throwaway key
signs validly); the bombs are bytes within the transport's size limits.
"""

from __future__ import annotations

import os
import struct
import zlib

import msgpack
from automerge.core import ROOT, Document, ScalarType
from pnyx.federation.bundle import BUNDLE_MAGIC, HEADER, STATE, STATE_MAGIC
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import Envelope, run_actor, sign_change
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import Profile, write_genesis
from pnyx.federation.syncmsg import PROTOCOL_VERSION, Push, encode

from bench.corpus import new_key
from tests.ledgerkit import rewrite_change


def one_change(actor: bytes, value: bytes) -> bytes:
    """The canonical chunk of a fresh document's first change: one entry holding `value`."""
    doc = Document()
    doc.set_actor(actor)
    with doc.transaction() as tx:
        tx.put(ROOT, "entry", ScalarType.Bytes, value)
    (change,) = doc.get_changes([])
    return bytes(change.raw_bytes)


def waiting_junk(key: SigningKey, n: int, payload: int = 16) -> list[Envelope]:
    """`n` validly signed changes to the key's own ledger, each on a made-up dependency that
    will never arrive: all of them wait in the pending set."""
    actor = run_actor(key.public, os.urandom(8))
    base = one_change(actor, os.urandom(payload))
    return [sign_change(key, ledger_id(key.public), rewrite_change(base, deps=(os.urandom(32),), seq=2))
            for _ in range(n)]


def bad_signatures(n: int, payload: int = 64) -> list[Envelope]:
    """`n` well-formed envelopes whose signatures do not verify (each costs a verification)."""
    key = new_key()
    chunk = one_change(run_actor(key.public, os.urandom(8)), os.urandom(payload))
    return [Envelope(ledger_id(key.public), chunk, key.public, os.urandom(64)) for _ in range(n)]


def equivocations(key: SigningKey, n: int, payload: int = 200_000) -> list[Envelope]:
    """`n` different first changes of one actor in the key's own ledger: the first, a valid
    genesis, is stored; every other one is an equivocation, judged as such before its ops are."""
    actor = run_actor(key.public, os.urandom(8))
    first = Document()
    first.set_actor(actor)
    with first.transaction() as tx:
        write_genesis(tx, Profile(key_text(key.public), "Equivocators", "", None))
    (genesis,) = first.get_changes([])
    return [sign_change(key, ledger_id(key.public), bytes(genesis.raw_bytes))] + [
        sign_change(key, ledger_id(key.public), one_change(actor, os.urandom(payload)))
        for _ in range(n - 1)]


def push_bodies(envelopes: list[Envelope], per_push: int = 500) -> list[bytes]:
    return [encode(Push(tuple(envelopes[i:i + per_push]))) for i in range(0, len(envelopes), per_push)]


def nested_empty_arrays(size: int = 7_800_000) -> bytes:
    """A push whose `envelopes` is arrays of one-byte empty arrays, `size` bytes in all: eight
    million lists if a decoder builds what it is given."""
    head = b"\x83" + b"".join(msgpack.packb(x) for x in ("v", PROTOCOL_VERSION, "t", "push",
                                                          "envelopes"))
    return head + _arrays_of_empty_arrays(size - len(head))


def _arrays_of_empty_arrays(size: int) -> bytes:
    """An array of arrays of empty arrays, about `size` bytes: every byte one list."""
    per = 60_000  # items per inner array, within msgpack's own per-array limit
    inner = b"\xdd" + struct.pack(">I", per) + b"\x90" * per
    count = max(1, size // len(inner))
    return b"\xdd" + struct.pack(">I", count) + inner * count


def frame(kind: bytes, payload: bytes) -> bytes:
    head = struct.pack(">cI", kind, len(payload))
    return head + payload + struct.pack(">I", zlib.crc32(head + payload))


def meta_bomb(size: int = 15 << 20) -> bytes:
    """A map value of about `size` bytes, almost all of them one-byte empty arrays."""
    return b"\x81" + msgpack.packb("vectors") + _arrays_of_empty_arrays(size)


def bundle_header_bomb(size: int = 15 << 20) -> bytes:
    return BUNDLE_MAGIC + frame(HEADER, meta_bomb(size))


def state_file_bomb(size: int = 15 << 20) -> bytes:
    return STATE_MAGIC + frame(STATE, meta_bomb(size))
