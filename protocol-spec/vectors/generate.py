"""Generate the protocol test vectors: `python protocol-spec/vectors/generate.py [DIR]`.

Every input is fixed (key seeds, actor nonces, record ids, dates) and
Automerge 1.0.0rc1 writes every change with time 0, so running this again
gives byte-identical files. tests/test_vectors.py runs every vector against
the code and checks that regenerating changes nothing, so this directory and
the implementation cannot drift apart. Bytes are written as lowercase hex.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
from automerge.core import Document, Transaction
from pnyx.daemon.services.jsonable import to_jsonable
from pnyx.federation.bundle import BundleWriter, Header, HeldState, Selection, encode_state
from pnyx.federation.changepack import pack, split_chunk, unpack
from pnyx.federation.chunk import CHANGE_CHUNK, MAGIC, encode_uleb, parse_change
from pnyx.federation.columns import Reader
from pnyx.federation.confed import Act, ActKind, write_act, write_recall_saw
from pnyx.federation.discovery_txt import Announcement, encode_txt
from pnyx.federation.docids import ledger_id, mandate_doc_id
from pnyx.federation.envelope import Envelope, check_envelope, run_actor, signing_input
from pnyx.federation.errors import Rejected
from pnyx.federation.evidence import CHAIN_BYTES, CHAIN_CHANGES, SEARCH_VISITS
from pnyx.federation.identity import prove_identity, prove_sender
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import (
    Binding,
    Decision,
    Instruction,
    Mandate,
    Position,
    Profile,
    Tally,
    certificate_input,
    read_ledger,
    revocation_input,
    write_decision,
    write_device,
    write_genesis,
    write_mandate,
    write_revocation,
)
from pnyx.federation.sync import cut
from pnyx.federation.syncmsg import (
    Changes,
    Descend,
    Hello,
    Nodes,
    Peers,
    PeersRequest,
    Pull,
    Push,
    Pushed,
    Same,
    ScopeRoots,
    Told,
    encode,
    to_wire,
    told_to_wire,
)
from pnyx.federation.syncscope import Founders, ScopedTrees, tag
from pnyx.federation.synctree import DigestTree, Leaf, doc_digest, path_of

HERE = Path(__file__).resolve().parent
FILES = ("keys.json", "signatures.json", "history.json", "invalid.json", "pending.json", "discovery.json",
         "sync.json", "bundles.json")
Edit = Callable[[Transaction], None]


def seed(name: str) -> bytes:
    return hashlib.sha256(b"pnyx/vectors/seed/" + name.encode()).digest()


def nonce(run: str) -> bytes:
    return hashlib.sha256(b"pnyx/vectors/nonce/" + run.encode()).digest()[:8]


def record_id(name: str) -> str:
    """A record id of the form the daemon draws at random: 10 bytes in base32."""
    digest = hashlib.sha256(b"pnyx/vectors/record/" + name.encode()).digest()[:10]
    return base64.b32encode(digest).decode("ascii").lower()


KEYS = {name: SigningKey(seed(name)) for name in
        ("assembly", "device-a", "device-b", "delegate", "stranger", "other-assembly")}
# RFC 8032 section 7.1 test 1: anyone's Ed25519 library agrees on this one.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
ASSEMBLY = KEYS["assembly"].public
LEDGER = ledger_id(ASSEMBLY)
MANDATE = record_id("mandate water council")
MANDATE_DOC = mandate_doc_id(ASSEMBLY, MANDATE)


def sha256_of_chunk(raw: bytes) -> bytes:
    """The change hash of a canonical (type 1) chunk: SHA-256 of everything after the checksum."""
    return hashlib.sha256(raw[8:]).digest()


def sign_raw(key: SigningKey, doc_id: str, raw: bytes, signer: bytes | None = None) -> Envelope:
    """Sign a canonical chunk without parsing it, so that crafted chunks can be signed too."""
    signature = key.sign(signing_input(doc_id, sha256_of_chunk(raw)))
    return Envelope(doc_id, raw, key.public if signer is None else signer, signature)


def recraft(raw: bytes, deps: list[bytes] | None = None, seq: int | None = None,
            start_op: int | None = None) -> bytes:
    """A canonical chunk with header fields replaced and checksum recomputed: what a key
    holder could sign, to test the rules a signature alone does not enforce."""
    r = Reader(raw)
    r.take(9)
    r.uleb()
    old_deps = [r.take(32) for _ in range(r.uleb())]
    actor = r.take(r.uleb())
    old_seq, old_start = r.uleb(), r.uleb()
    rest = raw[r.pos:]
    new_deps = old_deps if deps is None else deps
    body = (encode_uleb(len(new_deps)) + b"".join(new_deps) + encode_uleb(len(actor)) + actor
            + encode_uleb(old_seq if seq is None else seq)
            + encode_uleb(old_start if start_op is None else start_op) + rest)
    head = bytes([CHANGE_CHUNK]) + encode_uleb(len(body))
    return MAGIC + hashlib.sha256(head + body).digest()[:4] + head + body


class Writer:
    """One run of one device: a fixed actor id and its own replica of each document."""

    def __init__(self, key: str, run: str) -> None:
        self.key = KEYS[key]
        self.actor = run_actor(self.key.public, nonce(run))
        self.docs: dict[str, Document] = {}

    def doc(self, doc_id: str) -> Document:
        if doc_id not in self.docs:
            self.docs[doc_id] = Document(self.actor)
        return self.docs[doc_id]

    def adopt(self, doc: Document, doc_id: str = LEDGER) -> None:
        """Continue from `doc` as this actor (a replica received from elsewhere)."""
        doc.set_actor(self.actor)
        self.docs[doc_id] = doc

    def receive(self, other: Writer, doc_id: str = LEDGER) -> None:
        self.doc(doc_id).merge(other.doc(doc_id))

    def change(self, edit: Edit, doc_id: str = LEDGER) -> bytes:
        """Make one change on this replica and return its canonical chunk."""
        doc = self.doc(doc_id)
        heads = doc.get_heads()
        with doc.transaction() as tx:
            edit(tx)
        (change,) = doc.get_changes(heads)
        return bytes(change.raw_bytes)

    def change_at(self, heads: list[bytes], edit: Edit, doc_id: str = LEDGER) -> bytes:
        """A change this actor makes on a fork of its replica at `heads`, leaving it as it was."""
        fork = self.doc(doc_id).fork(heads)
        fork.set_actor(self.actor)
        with fork.transaction() as tx:
            edit(tx)
        (change,) = fork.get_changes(heads)
        return bytes(change.raw_bytes)

    def sign(self, raw: bytes, doc_id: str = LEDGER) -> Envelope:
        return sign_raw(self.key, doc_id, raw)


def decision(name: str, title: str, day: int, tally: tuple[int, int, int], kind: str = "decision",
             subject: str | None = None, supersedes: str | None = None, dissent: str = "") -> Decision:
    return Decision(record_id(name), title, f"The assembly adopted: {title}.", dt.date(2026, 11, day),
                    Tally(*tally), sum(tally), dissent, supersedes, kind, subject)


def decide(d: Decision) -> Edit:
    return lambda tx: write_decision(tx, d)


# --- the valid history -----------------------------------------------------------------


class History:
    def __init__(self) -> None:
        self.steps: list[tuple[str, str, Envelope]] = []

    def add(self, name: str, note: str, envelope: Envelope) -> bytes:
        self.steps.append((name, note, envelope))
        return parse_change(envelope.change).hash

    def index(self, name: str) -> int:
        """How many steps precede and include `name`: the prefix that ends with it."""
        return 1 + [s[0] for s in self.steps].index(name)


def build_history() -> tuple[History, dict[str, Any]]:
    """The valid ledger history, and the writers and facts the invalid vectors reuse."""
    h = History()
    founder = Writer("assembly", "assembly run 1")
    a = Writer("device-a", "device-a run 1")
    b = Writer("device-b", "device-b run 1")
    delegate = Writer("delegate", "delegate run 1")

    def genesis(tx: Transaction) -> None:
        write_genesis(tx, Profile(key_text(ASSEMBLY), "Barrio Norte", "Plaza 3", 120))
        write_device(tx, KEYS["assembly"], KEYS["device-a"].public, "secretary laptop")

    h.add("genesis", "the assembly key founds the ledger: profile and device A's certificate",
          founder.sign(founder.change(genesis)))
    a.receive(founder)
    h.add("certify-b", "device A records the assembly key's certificate for device B",
          a.sign(a.change(lambda tx: write_device(tx, KEYS["assembly"], KEYS["device-b"].public,
                                                  "treasurer phone"))))
    b.receive(a)
    kitchen = decision("kitchen", "Community kitchen opens on Mondays", 20, (80, 12, 5),
                       dissent="Sundays suit working families better")
    heads_before_kitchen = a.doc(LEDGER).get_heads()
    h.add("decision-a1", "device A records a decision", a.sign(a.change(decide(kitchen))))
    h.add("decision-b1", "device B, offline, records a decision concurrently with decision-a1",
          b.sign(b.change(decide(decision("well", "Repair the village well", 20, (90, 0, 7))))))
    a.receive(b)
    mandate_decision = decision("mandate decision", "Mandate for Ana to the water council", 21,
                                (70, 3, 2), kind="mandate", subject=MANDATE)
    mandate = Mandate(MANDATE, "Ana", key_text(KEYS["delegate"].public), "Water council",
                      dt.date(2026, 12, 1), dt.date(2027, 3, 1),
                      (Instruction("water plan", Position.FOR, Binding.IMPERATIVE),
                       Instruction("tariffs", Position.AGAINST, Binding.INDICATIVE)),
                      mandate_decision.id, None)

    def issue(tx: Transaction) -> None:
        write_decision(tx, mandate_decision)
        write_mandate(tx, mandate)

    h.add("mandate", "device A merges both heads and issues a mandate (a decision and its record)",
          a.sign(a.change(issue)))
    b.receive(a)
    h.add("supersede-b2", "device B records a decision that supersedes decision-a1",
          b.sign(b.change(decide(decision("kitchen 2", "Community kitchen opens on Sundays", 22,
                                          (60, 30, 7), supersedes=kitchen.id)))))
    delegate.receive(a)
    report = Act(record_id("act 1"), ActKind.REPORT, dt.date(2026, 12, 2), None, None, None,
                 "The council met; the water plan passed.")
    delegate_saw = delegate.doc(LEDGER).get_heads()
    h.add("mandate-log", "the delegate named in the mandate reports in the mandate's log",
          delegate.sign(delegate.change(lambda tx: write_act(tx, report, delegate_saw), MANDATE_DOC),
                        MANDATE_DOC))
    a.receive(b)
    a.receive(delegate, MANDATE_DOC)
    recall = decision("recall", "Recall of Ana's water council mandate", 23, (50, 40, 10),
                      kind="recall", subject=MANDATE)

    log_heads = a.doc(MANDATE_DOC).get_heads()

    def recall_edit(tx: Transaction) -> None:
        write_decision(tx, recall)
        write_recall_saw(tx, recall.id, log_heads)

    h.add("recall", "device A records the recall: a decision naming the mandate, with the log "
                    "heads it saw",
          a.sign(a.change(recall_edit)))
    cut = {b.actor.hex(): 2}
    h.add("revoke-b", "device A records the assembly key's revocation of device B after its seq 2",
          a.sign(a.change(lambda tx: write_revocation(tx, KEYS["assembly"], KEYS["device-b"].public,
                                                      cut))))
    b.receive(a)
    facts = {"a": a, "b": b, "founder": founder, "delegate": delegate, "cut": cut,
             "heads_before_kitchen": heads_before_kitchen}
    return h, facts


def heads_after(envelopes: list[Envelope]) -> dict[str, list[str]]:
    """Per document, the hashes no held change depends on: a pure function of the set."""
    hashes: dict[str, set[bytes]] = {}
    depended: set[bytes] = set()
    for envelope in envelopes:
        change = parse_change(envelope.change)
        hashes.setdefault(envelope.doc_id, set()).add(change.hash)
        depended.update(change.deps)
    return {doc: sorted(x.hex() for x in held - depended) for doc, held in sorted(hashes.items())}


def envelope_json(envelope: Envelope) -> dict[str, Any]:
    change = parse_change(envelope.change)
    return {
        "doc_id": envelope.doc_id, "signer": envelope.signer.hex(),
        "signer_text": key_text(envelope.signer), "hash": change.hash.hex(),
        "actor": change.actor.hex(), "seq": change.seq, "start_op": change.start_op,
        "max_op": change.max_op, "deps": [d.hex() for d in change.deps],
        "change": envelope.change.hex(), "signature": envelope.signature.hex(),
        "envelope": envelope.encode().hex(),
    }


def history_json(h: History) -> dict[str, Any]:
    envelopes = [s[2] for s in h.steps]
    ledger = Document.load(b"".join(e.change for e in envelopes if e.doc_id == LEDGER))
    return {
        "description": "A valid history, to be ingested in this order into an empty store. After "
                       "each envelope the store holds exactly `heads_after`; at the end the ledger "
                       "reads as `ledger`.",
        "ledger_doc_id": LEDGER, "mandate_doc_id": MANDATE_DOC,
        "envelopes": [{"name": name, "note": note, **envelope_json(e),
                       "heads_after": heads_after(envelopes[:i + 1])}
                      for i, (name, note, e) in enumerate(h.steps)],
        "ledger": to_jsonable(read_ledger(ledger)),
    }


# --- invalid envelopes -------------------------------------------------------------------


def invalid_vectors(h: History, facts: dict[str, Any]) -> list[dict[str, Any]]:
    a: Writer = facts["a"]
    b: Writer = facts["b"]
    every = len(h.steps)
    heads = a.doc(LEDGER).get_heads()
    nxt = a.change_at(heads, decide(decision("next", "Plant trees on the square", 24, (40, 2, 1))))
    nxt_hash = sha256_of_chunk(nxt)
    nxt_parsed = parse_change(nxt)
    out: list[dict[str, Any]] = []

    def add(name: str, reason: str, note: str, wire: bytes, after: int = every) -> None:
        out.append({"name": name, "after": after, "reason": reason, "note": note,
                    "envelope": wire.hex()})

    def honest(chunk: bytes, signed_for: str = LEDGER) -> bytes:
        """Device A's signature of the next change, for `signed_for`, carried with `chunk`."""
        signature = KEYS["device-a"].sign(signing_input(signed_for, nxt_hash))
        return Envelope(LEDGER, chunk, KEYS["device-a"].public, signature).encode()

    def env(raw: bytes, key: str = "device-a", doc_id: str = LEDGER,
            signer: str | None = None) -> bytes:
        return sign_raw(KEYS[key], doc_id, raw,
                        None if signer is None else KEYS[signer].public).encode()

    add("malformed-envelope-msgpack", "malformed-envelope", "not msgpack at all (0xc1 is never used)",
        b"\xc1")
    add("malformed-envelope-shape", "malformed-envelope", "a msgpack array of 3, not 4",
        msgpack.packb([LEDGER, nxt, KEYS["device-a"].public]))
    add("malformed-envelope-trailing", "malformed-envelope",
        "a valid envelope followed by one more msgpack byte", env(nxt) + b"\x00")
    add("bad-doc-id", "bad-doc-id", "the ledger id with its key in uppercase",
        env(nxt, doc_id="ledger/" + key_text(ASSEMBLY).upper()))
    shadow = LEDGER + "\n"
    add("bad-doc-id-newline", "bad-doc-id",
        "the assembly key founds the ledger id followed by a newline: another document",
        env(Writer("assembly", "shadow run").change(
            lambda tx: write_genesis(tx, Profile(key_text(ASSEMBLY), "Shadow", "", None)), shadow),
            key="assembly", doc_id=shadow))
    add("bad-magic", "bad-magic", "the first byte of the chunk changed from 85 to 86",
        honest(b"\x86" + nxt[1:]))
    add("not-a-change", "not-a-change", "a whole-document chunk (type 0) instead of a change",
        env(a.doc(LEDGER).save()))
    add("truncated", "truncated", "the chunk without its last byte, signature of the whole change",
        honest(nxt[:-1]))
    add("trailing-junk", "trailing-bytes", "one zero byte after the chunk",
        honest(nxt + b"\x00"))
    flipped = nxt[:-1] + bytes([nxt[-1] ^ 0x01])
    add("flipped-byte", "bad-checksum", "the last byte of the chunk with its low bit flipped",
        honest(flipped))
    add("seq-zero", "malformed-change", "a change with seq 0, checksum fixed and signed",
        env(recraft(nxt, seq=0)))
    stranger = Writer("stranger", "stranger run 1")
    stranger.receive(a)
    foreign = stranger.change(decide(decision("foreign", "Sell the square", 24, (1, 0, 0))))
    add("actor-not-signer", "actor-not-signer",
        "device A signs a change whose actor id starts with the stranger's key", env(foreign))
    short_actor = Writer("device-a", "short")
    short_actor.actor = KEYS["device-a"].public + b"\x01\x02\x03\x04"
    short_actor.receive(a)
    add("actor-short-nonce", "actor-not-signer", "an actor id of device A's key and only 4 bytes",
        env(short_actor.change(decide(decision("short", "Short actor", 24, (1, 0, 0))))))
    add("forged-signature", "bad-signature",
        "names device A as signer, but the stranger signed", env(nxt, key="stranger", signer="device-a"))
    other_doc = ledger_id(KEYS["other-assembly"].public)
    add("other-doc-id", "bad-signature",
        "device A's signature for the same change in another assembly's ledger",
        honest(nxt, signed_for=other_doc))
    add("unknown-device", "unknown-device", "a well-signed change by a key no certificate names",
        env(foreign, key="stranger"))
    early = Writer("device-b", "device-b run 0")
    early.adopt(h_doc(h, h.index("genesis")))
    add("certificate-not-ancestor", "unknown-device",
        "device B writes on the genesis alone: its certificate is held but not among the ancestors",
        env(early.change(decide(decision("early", "Early decision", 19, (3, 0, 0)))), key="device-b"))
    add("revoked-device", "revoked-device", "device B's seq 3, past the cut of its revocation",
        env(b.change_at(b.doc(LEDGER).get_heads(),
                        decide(decision("late", "Late decision", 24, (5, 0, 0)))), key="device-b"))
    add("seq-gap", "seq-gap", "device A's next change, its seq raised by one",
        env(recraft(nxt, seq=nxt_parsed.seq + 1)))
    alternative = a.change_at(facts["heads_before_kitchen"],
                              decide(decision("kitchen alt", "Community kitchen closes", 20, (1, 0, 0))))
    add("equivocation", "equivocation",
        "a second, different change with the actor and seq of decision-a1; stored as evidence",
        env(alternative), after=h.index("decision-a1"))
    decision_b1 = parse_change(h.steps[h.index("decision-b1") - 1][2].change)
    add("previous-not-ancestor", "previous-not-ancestor",
        "device A's next change naming only decision-b1 as its dependency",
        env(recraft(nxt, deps=[decision_b1.hash], start_op=decision_b1.max_op + 1)))
    add("start-op-mismatch", "start-op-mismatch", "device A's next change, its start_op raised by one",
        env(recraft(nxt, start_op=nxt_parsed.start_op + 1)))
    stranger.adopt(h_doc(h, every, MANDATE_DOC), MANDATE_DOC)
    forged = Act(record_id("forged act"), ActKind.REPORT, dt.date(2026, 12, 3), None, None, None,
                 "Forged report")
    add("not-the-delegate", "not-authorized", "the stranger writes to the mandate's log",
        env(stranger.change(lambda tx: write_act(tx, forged, ()), MANDATE_DOC), key="stranger",
            doc_id=MANDATE_DOC))
    impostor = Writer("delegate", "delegate run 2")
    impostor.adopt(h_doc(h, every, MANDATE_DOC), MANDATE_DOC)
    named = Act(record_id("act in another's name"), ActKind.REPORT, dt.date(2026, 12, 3), None, None,
                None, "Report in another's name", by=key_text(KEYS["stranger"].public))
    add("act-by-another", "not-authorized", "the delegate writes an act naming another key in `by`",
        env(impostor.change(lambda tx: write_act(tx, named, ()), MANDATE_DOC), key="delegate",
            doc_id=MANDATE_DOC))
    return out


def h_doc(h: History, prefix: int, doc_id: str = LEDGER) -> Document:
    """The document as held after the first `prefix` steps of the history."""
    return Document.load(b"".join(e.change for _, _, e in h.steps[:prefix] if e.doc_id == doc_id))


def pending_vectors(h: History) -> list[dict[str, Any]]:
    """History envelopes fed too early: they wait, and the named step releases them."""
    envelopes = {name: e for name, _, e in h.steps}
    out = []
    for name, after, released_by, note in (
        ("mandate", h.index("decision-a1"), "decision-b1",
         "the mandate depends on decision-b1, which has not arrived"),
        ("mandate-log", h.index("decision-b1"), "mandate",
         "the mandate's log arrives before the ledger holds the mandate naming its writer"),
    ):
        prefix = [e for _, _, e in h.steps[:after]]
        change = parse_change(envelopes[name].change)
        held = {parse_change(e.change).hash for e in prefix}
        missing = [d.hex() for d in change.deps if d not in held]
        out.append({
            "name": f"{name}-early", "history_step": name, "after": after, "note": note,
            "envelope": envelopes[name].encode().hex(), "waits_for": missing,
            "awaiting_doc": None if missing else LEDGER, "released_by": released_by,
            "heads_after_release": heads_after([*prefix, envelopes[released_by], envelopes[name]]),
        })
    return out


def keys_json() -> dict[str, Any]:
    entries = [("rfc8032-test-1", SigningKey(RFC8032_SEED))]
    entries += [(name, key) for name, key in KEYS.items()]
    return {
        "description": "Ed25519 seed -> public key -> text form (lowercase RFC 4648 base32, no "
                       "padding). Seeds other than RFC 8032's are sha256(\"pnyx/vectors/seed/\" + "
                       "name).",
        "keys": [{"name": name, "seed": key.seed.hex(), "public": key.public.hex(),
                  "text": key_text(key.public)} for name, key in entries],
    }


def signatures_json(h: History, facts: dict[str, Any]) -> dict[str, Any]:
    changes = []
    for name, _, envelope in h.steps:
        if name in ("genesis", "decision-a1", "mandate-log"):
            change_hash = parse_change(envelope.change).hash
            changes.append({"step": name, "doc_id": envelope.doc_id, "change_hash": change_hash.hex(),
                            "signer": envelope.signer.hex(),
                            "input": signing_input(envelope.doc_id, change_hash).hex(),
                            "signature": envelope.signature.hex()})
    assembly = KEYS["assembly"]
    certificates = [{"assembly": ASSEMBLY.hex(), "device": KEYS[d].public.hex(),
                     "input": certificate_input(ASSEMBLY, KEYS[d].public).hex(),
                     "signature": assembly.sign(certificate_input(ASSEMBLY, KEYS[d].public)).hex()}
                    for d in ("device-a", "device-b")]
    device_b = KEYS["device-b"].public
    cuts = [facts["cut"], {}, {facts["a"].actor.hex(): 7, facts["b"].actor.hex(): 12}]
    revocations = [{"assembly": ASSEMBLY.hex(), "device": device_b.hex(), "cut": cut,
                    "input": revocation_input(ASSEMBLY, device_b, cut).hex(),
                    "signature": assembly.sign(revocation_input(ASSEMBLY, device_b, cut)).hex()}
                   for cut in cuts]
    return {
        "description": "Ed25519 signatures (RFC 8032, deterministic) over the exact inputs of "
                       "protocol-spec/identity.md and changes.md; verify with the signer key, "
                       "the assembly key for certificates and revocations.",
        "change": changes, "certificate": certificates, "revocation": revocations,
    }


def invalid_json(h: History, facts: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": "Each envelope (msgpack, hex) is fed to a store that holds the first `after` "
                       "envelopes of history.json; it must be refused with `reason` and change "
                       "nothing held (an equivocation is kept as evidence).",
        "vectors": invalid_vectors(h, facts),
    }


def pending_json(h: History) -> dict[str, Any]:
    return {
        "description": "Each envelope, fed to a store that holds the first `after` envelopes of "
                       "history.json, is neither accepted nor refused: it waits for the changes "
                       "`waits_for` or, if that is empty, for `awaiting_doc`. Feeding history step "
                       "`released_by` then accepts both, leaving `heads_after_release`.",
        "vectors": pending_vectors(h),
    }


def txt(*items: str | bytes) -> bytes:
    """TXT record data from its strings, each prefixed with its length."""
    out = bytearray()
    for item in items:
        raw = item if isinstance(item, bytes) else item.encode()
        out += bytes([len(raw)]) + raw
    return bytes(out)


def discovery_json() -> dict[str, Any]:
    """Announcement TXT data (protocol-spec/discovery.md): valid records, and garbage with its reason."""
    device, assembly = SigningKey(seed("device a")).public, SigningKey(seed("assembly a")).public
    c1, c2 = hashlib.sha256(b"charter 1").digest(), hashlib.sha256(b"charter 2").digest()
    dk, ak, base = f"dk={key_text(device)}", f"ak={key_text(assembly)}", ("v=1",)

    def announced(ann: Announcement) -> dict[str, Any]:
        return {"device": key_text(ann.device), "assembly": key_text(ann.assembly), "port": ann.port,
                "confederations": [c.hex() for c in ann.confederations], "version": ann.version}

    def valid(name: str, ann: Announcement, data: bytes | None = None) -> dict[str, Any]:
        encoded = encode_txt(ann)
        return {"name": name, "txt_hex": (data or encoded).hex(), "announcement": announced(ann),
                "encoder_output": data is None or data == encoded}

    full = (*base, dk, ak, "port=7464")
    nonce = hashlib.sha256(b"identity challenge").digest()
    return {
        "description": "TXT data of _pnyx._tcp.local. announcements (protocol-spec/discovery.md). "
                       "txt_hex is the whole TXT RDATA. A valid vector decodes to `announcement`; "
                       "where `encoder_output` is true it is exactly what an encoder writes for it. "
                       "An invalid vector must be refused with `reason`.",
        "valid": [
            valid("minimal", Announcement(device, assembly, 7464)),
            valid("two confederations", Announcement(device, assembly, 7464, (c1, c2))),
            valid("sixteen confederations, the most there can be",
                  Announcement(device, assembly, 65535, tuple(bytes([i]) * 32 for i in range(16)))),
            valid("unknown keys, boolean attributes, empty strings and upper-case keys",
                  Announcement(device, assembly, 80, (c1,)),
                  txt("", "DK=" + key_text(device), "flag", "=ignored", "future=x", *base, ak, "Port=80",
                      "c0=" + c1.hex())),
            valid("the first occurrence of a key wins", Announcement(device, assembly, 7464),
                  txt(*full, "port=1", "dk=garbage")),
            valid("confederations ordered by index, gaps allowed, a repeat counts once",
                  Announcement(device, assembly, 7464, (c2, c1)),
                  txt(*full, "c7=" + c1.hex(), "c2=" + c2.hex(), "c9=" + c1.hex())),
        ],
        "invalid": [{"name": name, "txt_hex": data.hex(), "reason": reason} for name, data, reason in [
            ("empty", b"", "bad-announcement"),
            ("more than 1300 bytes", txt(*full, *[f"x{i}={'y' * 200}" for i in range(6)]), "oversized"),
            ("a string runs past the end", txt(*full) + b"\x40abc", "bad-announcement"),
            ("no device key", txt(*base, ak, "port=7464"), "bad-announcement"),
            ("no protocol version", txt(dk, ak, "port=7464"), "bad-announcement"),
            ("unsupported protocol version", txt("v=2", dk, ak, "port=7464"), "bad-announcement"),
            ("device key not in canonical base32", txt(*base, dk.upper().replace("DK=", "dk="), ak,
                                                       "port=7464"), "bad-announcement"),
            ("device key too short", txt(*base, "dk=abc", ak, "port=7464"), "bad-announcement"),
            ("assembly key not ASCII", txt(*base, dk, b"ak=\xff\xfe", "port=7464"), "bad-announcement"),
            ("port zero", txt(*base, dk, ak, "port=0"), "bad-announcement"),
            ("port too large", txt(*base, dk, ak, "port=70000"), "bad-announcement"),
            ("port with a leading zero", txt(*base, dk, ak, "port=07464"), "bad-announcement"),
            ("port with a sign", txt(*base, dk, ak, "port=+7464"), "bad-announcement"),
            ("confederation not a charter hash", txt(*full, "c0=" + "zz" * 32), "bad-announcement"),
            ("confederation hash in upper case", txt(*full, "c0=" + c1.hex().upper()), "bad-announcement"),
            ("confederation index 16", txt(*full, "c16=" + c1.hex()), "bad-announcement"),
            ("confederation index with a leading zero", txt(*full, "c01=" + c1.hex()), "bad-announcement"),
        ]],
        "identity": {"description": "GET /pnyx/v1/identity?nonce=<nonce>: the answer of the device "
                                    "whose seed is `seed`.",
                     "seed": seed("device a").hex(), "nonce": nonce.hex(),
                     "answer": prove_identity(SigningKey(seed("device a")), nonce)},
    }


def pack_vector(envelopes: list[Envelope]) -> dict[str, Any]:
    """Signed envelopes, their pack, and what it unpacks to: each change with its signature, or
    with none and the position of the change that vouches for it."""
    received = unpack(pack(envelopes))
    voucher = next(e.voucher.envelope for e in received if e.voucher is not None)
    forged = bytes([voucher.signature[0] ^ 1]) + voucher.signature[1:]
    refused = [("no-signature", "every signature left out", [None] * len(received)),
               ("forged-voucher", "the voucher's signature altered",
                [forged if e == voucher else e.signature or None for e in received])]
    return {"envelopes": [to_jsonable(e.to_wire()) for e in envelopes],
            "pack": pack(envelopes).hex(),
            "received": [to_jsonable(e.to_wire()) for e in received],
            "vouched_by": [None if e.voucher is None else received.index(e.voucher.envelope)
                           for e in received],
            "refused": [{"name": name, "note": note, "pack": hand_pack(received, signatures).hex(),
                         "reasons": [outcome(e) for e in unpack(hand_pack(received, signatures))]}
                        for name, note, signatures in refused]}


def hand_pack(envelopes: list[Envelope], signatures: list[bytes | None]) -> bytes:
    """A pack of one group with every dep as its hash, and these signatures (None: nil)."""
    entries = [[list(split_chunk(e.change)[0]), split_chunk(e.change)[1], signature]
               for e, signature in zip(envelopes, signatures, strict=True)]
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    value = [[envelopes[0].doc_id, entries]]
    return compressor.compress(msgpack.packb(value, use_bin_type=True)) + compressor.flush()


def outcome(envelope: Envelope) -> str | None:
    """The reason E0-E4 refuse the envelope with, None if they pass."""
    try:
        check_envelope(envelope)
    except Rejected as exc:
        return exc.reason.value
    return None


def evidence_vector(h: History, facts: dict[str, Any]) -> dict[str, Any]:
    """Device A forks its ledger where decision-a1 stands and signs only the fork's head: the
    pack of the fork, as a store holding the history up to decision-a1 receives it."""
    a: Writer = facts["a"]
    fork = a.doc(LEDGER).fork(facts["heads_before_kitchen"])
    fork.set_actor(a.actor)
    chunks = []
    for i, title in enumerate(("Community kitchen stays shut", "Kitchen keys returned",
                               "Kitchen tools lent", "Kitchen sold")):
        heads = fork.get_heads()
        with fork.transaction() as tx:
            decide(decision(f"kitchen fork {i}", title, 20, (1, 0, 0)))(tx)
        (change,) = fork.get_changes(heads)
        chunks.append(bytes(change.raw_bytes))
    signed = [a.sign(c) for c in chunks]
    received = unpack(pack(signed))
    head = signed[-1]
    forged = Envelope(LEDGER, head.change, head.signer, bytes([head.signature[0] ^ 1]) + head.signature[1:])
    kept = h.steps[h.index("decision-a1") - 1][2].change
    hashes = [sha256_of_chunk(c).hex() for c in chunks]
    return {
        "after": h.index("decision-a1"),
        "bounds": {"chain_changes": CHAIN_CHANGES, "chain_bytes": CHAIN_BYTES,
                   "search_visits": SEARCH_VISITS},
        "changes": hashes,
        "pack": pack(signed).hex(),
        "signed": [bool(e.signature) for e in received],
        "outcomes": ["equivocation", "dropped", "dropped", "dropped"],
        "evidence": [{"hash": sha256_of_chunk(kept).hex(), "reason": "equivocation", "vouch": None,
                      "chain": []},
                     {"hash": hashes[0], "reason": "equivocation", "vouch": hashes[-1],
                      "chain": hashes[1:-1]}],
        "forged": {"pack": hand_pack(received, [None] * (len(received) - 1) + [forged.signature]).hex(),
                   "outcomes": ["bad-signature"] * len(received), "evidence": []},
    }


def sync_json(h: History, facts: dict[str, Any]) -> dict[str, Any]:
    """The digest tree, packs and messages (protocol-spec/sync.md), and bad messages with their
    error code."""
    heads = {f"ledger/{key_text(SigningKey(seed(n)).public)}": [hashlib.sha256(f"{n} {i}".encode()).digest()
                                                                 for i in range(k)]
             for n, k in (("sync a", 1), ("sync b", 2), ("sync c", 3), ("sync d", 1), ("sync e", 2))}
    tree = DigestTree()
    for doc, hs in heads.items():
        tree.set(doc, doc_digest(hs))
    key = SigningKey(seed("device a")).public
    actor = run_actor(key, nonce("sync"))
    envelopes = [e for _, _, e in h.steps[:4]]
    first = next(iter(heads))
    vec = ((first, ((actor, 7),)),)
    prefixes = ["", *sorted({path_of(doc)[:i] for doc in heads for i in (1, 2)})]
    salt = hashlib.sha256(b"sync salt").digest()[:8]
    told = [Told(p, cut(tree.node(p), salt), ((actor, 7),) if isinstance(tree.node(p), Leaf) else ())
            for p in prefixes]
    scope = hashlib.sha256(b"a confederation").digest()
    messages = [
        Hello(((b"", tree.root()),), key, "http://192.0.2.7:7464"),
        Hello(((tag(scope), DigestTree().root()), (tag(bytes(32)), tree.root())), key),
        Descend(b"", salt, tuple(prefixes[1:4])), Pull(vec, 1200, 500),
        Push(tuple(envelopes)), PeersRequest("http://192.0.2.7:7464"), Same(key),
        ScopeRoots(key, salt, ((b"", told[0]),),
                   (Told(path_of(first), Leaf(first, doc_digest(heads[first])), ((actor, 7),)),)),
        Nodes(tuple(told[1:4])),
        Changes(tuple(envelopes), 1201, True),
        Pushed(1, 2, 0, 1, ("bad-signature",)),
        Pushed(0, 0, 1, 0, (), 499),
        Peers(("http://192.0.2.8:7464", "https://pnyx.example.org")),
    ]

    def packed(value: Any) -> str:
        return bytes(msgpack.packb(value, use_bin_type=True)).hex()

    hello = {"v": 3, "t": "hello", "roots": [[b"", bytes(32)]], "key": key}
    descend = {"v": 3, "t": "descend", "scope": b"", "salt": salt}
    sender, responder = SigningKey(seed("device a")), SigningKey(seed("device b")).public
    pushed_body = encode(Push(tuple(envelopes[:1])))
    return {
        "description": "protocol-spec/sync.md. `tree`: each document's heads give `doc_digest` "
                       "and `path`; together they give `root` and each listed node as a `nodes` "
                       "reply carries it with the salt `salt` (leaves with an empty vector); "
                       "`empty_root` is the root of a store holding nothing. `scopes`: charters "
                       "given by their founding lists, documents by their heads: each scope's "
                       "tag, documents and root (\"Scopes\"). `pack`: the envelopes (each [doc_id, change, "
                       "signer, signature], hex) and a pack of them (hex) that unpacks to them. "
                       "`evidence`: a store holding the history (history.json) up to its step "
                       "`after` receives `pack`, a fork of device A's ledger signed at its head "
                       "only: each change (`changes`, by hash) has its `outcomes` (`dropped`: "
                       "neither parked in the pending set nor refused, as it descends from a "
                       "refused change), and the store "
                       "then holds the `evidence` rows (change hash, reason, the voucher's hash "
                       "and the chain's hashes, changes.md \"Equivocation\"); the `forged` pack, "
                       "the head's signature altered, leaves no evidence. "
                       "`messages`: `msgpack` (hex) decodes to `fields` (bytes as hex); encoding "
                       "the decoded message gives `msgpack` again, except a pack's deflate bytes, "
                       "which may differ between deflate implementations. `bad`: each request "
                       "body must be refused with the error `code` (HTTP `status`). `push_sender`: "
                       "the `Pnyx-Sender` header `header` proves `sender` for `body` sent to "
                       "`responder` at `time` (\"Push senders\").",
        "tree": {
            "documents": [{"doc_id": doc, "heads": [x.hex() for x in hs],
                           "doc_digest": doc_digest(hs).hex(), "path": path_of(doc)}
                          for doc, hs in heads.items()],
            "root": tree.root().hex(), "empty_root": DigestTree().root().hex(), "salt": salt.hex(),
            "nodes": [to_jsonable(told_to_wire(Told(p, cut(tree.node(p), salt)))) for p in prefixes],
        },
        "scopes": scopes_json(),
        "pack": pack_vector(envelopes),
        "evidence": evidence_vector(h, facts),
        "messages": [{"type": to_wire(m)["t"], "msgpack": encode(m).hex(), "fields": to_jsonable(to_wire(m))}
                     for m in messages],
        "bad": [{"name": name, "msgpack": data, "code": code, "status": status}
                for name, data, code, status in [
            ("not msgpack", "c1", "malformed-msgpack", 400),
            ("two values", packed(hello) + "00", "malformed-msgpack", 400),
            ("not a map", packed([1, "hello"]), "bad-message", 400),
            ("unknown version", packed(hello | {"v": 1}), "unsupported-version", 400),
            ("unknown type", packed(hello | {"t": "gimme"}), "bad-message", 400),
            ("a reply sent as a request", packed({"v": 3, "t": "same", "key": key}), "bad-message", 400),
            ("root of 31 bytes", packed(hello | {"roots": [[b"", bytes(31)]]}), "bad-message", 400),
            ("scope tag of 32 bytes", packed(hello | {"roots": [[scope, bytes(32)]]}), "bad-message", 400),
            ("a scope named twice", packed(hello | {"roots": [[b"", bytes(32)]] * 2}), "bad-message", 400),
            ("negative cursor", packed({"v": 3, "t": "pull", "wants": [], "cursor": -1, "limit": 9}),
             "bad-message", 400),
            ("prefix not hex", packed(descend | {"prefixes": ["A"]}), "bad-message", 400),
            ("salt of 32 bytes", packed(descend | {"salt": bytes(32), "prefixes": ["a"]}), "bad-message",
             400),
            ("pack not deflate", packed({"v": 3, "t": "push", "pack": b"\xff"}), "bad-message", 400),
            ("forward reference in a pack",
             packed({"v": 3, "t": "push", "pack": zlib_raw(msgpack.packb([["x", [[[3], b"", bytes(64)]]]]))}),
             "bad-message", 400),
            ("cursor of 2^63", packed({"v": 3, "t": "pull", "wants": [], "cursor": 1 << 63, "limit": 9}),
             "bad-message", 400),
            ("nested 7 deep", packed({"v": 3, "t": "pull", "wants": [[[[[[[]]]]]]], "cursor": 0,
                                      "limit": 9}), "oversized", 413),
        ]],
        "push_sender": {"sender": key_text(sender.public), "responder": responder.hex(),
                        "time": 1_800_000_000, "body": pushed_body.hex(),
                        "header": prove_sender(sender, responder, 1_800_000_000, pushed_body)},
    }


def scopes_json() -> dict[str, Any]:
    """Three assemblies, a confederation of two of them, and a confederation of that one and
    the third: the documents each scope holds, and its root."""
    a, b, c = (SigningKey(seed(f"scope {n}")).public for n in "abc")
    low, high = hashlib.sha256(b"low charter").digest(), hashlib.sha256(b"high charter").digest()
    charters = {low: Founders((a, b), ()), high: Founders((c,), (low,))}
    docs = [ledger_id(a), ledger_id(b), ledger_id(c), mandate_doc_id(a, record_id("scoped mandate")),
            f"charter/{low.hex()}", f"charter/{high.hex()}", ledger_id(SigningKey(seed("scope d")).public)]
    heads = {doc: [hashlib.sha256(f"scope {doc}".encode()).digest()] for doc in docs}
    trees = ScopedTrees((low, high), charters.get)
    for doc, hs in heads.items():
        trees.set(doc, doc_digest(hs))
    out = []
    for charter in (low, high):
        tree = trees.tree(tag(charter))
        assert tree is not None
        out.append({"charter": charter.hex(), "tag": tag(charter).hex(),
                    "documents": sorted(leaf.doc_id for leaf in tree.docs_under("")),
                    "root": tree.root().hex()})
    return {"charters": [{"charter": h.hex(), "members": [key_text(m) for m in f.assemblies],
                          "confederations": [x.hex() for x in f.confederations]}
                         for h, f in charters.items()],
            "documents": [{"doc_id": doc, "doc_digest": doc_digest(hs).hex()} for doc, hs in heads.items()],
            "scopes": out, "whole_root": trees.whole.root().hex()}


def zlib_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def history_state(envelopes: list[Envelope]) -> HeldState:
    """What device A holds after the whole history, as a state file and a bundle header say it."""
    vectors: dict[str, dict[bytes, int]] = {}
    for envelope in envelopes:
        change = parse_change(envelope.change)
        vector = vectors.setdefault(envelope.doc_id, {})
        vector[change.actor] = max(vector.get(change.actor, 0), change.seq)
    tree = DigestTree()
    for doc, hs in heads_after(envelopes).items():
        tree.set(doc, doc_digest([bytes.fromhex(x) for x in hs]))
    return HeldState(KEYS["device-a"].public, ASSEMBLY, tree.root(),
                     tuple((doc, tuple(sorted(v.items()))) for doc, v in sorted(vectors.items())))


def bundles_json(h: History) -> dict[str, Any]:
    """A bundle of the whole history, the same cut short, damaged and with a forged record."""
    envelopes = [s[2] for s in h.steps]
    state = history_state(envelopes)

    def bundle(items: list[Envelope], per_frame: int = 1) -> tuple[bytes, list[int]]:
        out = io.BytesIO()
        writer = BundleWriter(out.write, Header(Selection(), state))
        offsets = []
        for i in range(0, len(items), per_frame):
            offsets.append(writer.bytes)
            writer.add(items[i:i + per_frame])
        offsets.append(writer.bytes)  # where the trailer starts
        writer.finish()
        return out.getvalue(), offsets

    valid, offsets = bundle(envelopes)
    damaged = bytearray(valid)
    damaged[offsets[3] + 20] ^= 0x01
    last = envelopes[-1]
    forged_last = Envelope(last.doc_id, last.change, last.signer,
                           bytes([last.signature[0] ^ 1]) + last.signature[1:])
    forged, _ = bundle([*envelopes[:-1], forged_last])
    n = len(envelopes)
    chained, _ = bundle(envelopes, n)
    cases = [
        ("valid", "the whole history (history.json), in order", valid, None, n, n, []),
        ("vouched", "the whole history in one record frame: one signature per actor and document",
         chained, None, n, n, []),
        ("truncated", "cut 20 bytes into the fifth record", valid[:offsets[4] + 20], "truncated", 4, 4, []),
        ("cut-before-trailer", "every record, but the trailer is missing", valid[:offsets[-1]],
         "truncated", n, n, []),
        ("damaged", "one bit flipped inside the fourth record", bytes(damaged), "damaged", 3, 3, []),
        ("forged", "the last record's signature altered (frame checksum recomputed)", forged, None, n,
         n - 1, ["bad-signature"]),
    ]
    return {
        "description": "protocol-spec/bundles.md. Each bundle is imported into an empty store: `records` "
                       "changes are read, `new` are stored, each record refused gives its reason in "
                       "`rejected`, and the import ends with `error` (null: the file is complete). "
                       "`state` is device A's state file after the whole history; every bundle's header "
                       "carries it as the exporter's state, with no selection.",
        "state": {"file": encode_state(state).hex(), "device": state.device.hex(),
                  "assembly": state.assembly.hex(), "digest": state.digest.hex(),
                  "vectors": {doc: {a.hex(): s for a, s in v} for doc, v in state.vectors}},
        "record_offsets": offsets[:-1], "trailer_offset": offsets[-1],
        "bundles": [{"name": name, "note": note, "bundle": data.hex(), "error": error, "records": records,
                     "new": new, "rejected": rejected}
                    for name, note, data, error, records, new, rejected in cases],
    }


def render() -> dict[str, bytes]:
    """Every vector file's bytes, by file name."""
    h, facts = build_history()
    documents = {
        "keys.json": keys_json(), "signatures.json": signatures_json(h, facts),
        "history.json": history_json(h), "invalid.json": invalid_json(h, facts),
        "pending.json": pending_json(h), "discovery.json": discovery_json(),
        "sync.json": sync_json(h, facts), "bundles.json": bundles_json(h),
    }
    assert tuple(documents) == FILES
    return {name: (json.dumps(value, indent=1) + "\n").encode() for name, value in documents.items()}


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else HERE
    out.mkdir(parents=True, exist_ok=True)
    for name, data in render().items():
        (out / name).write_bytes(data)
    print(f"wrote {len(FILES)} vector files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
