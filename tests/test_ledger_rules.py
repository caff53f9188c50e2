"""What a validly signed change may do, on real daemons: an attacker holding one certified
device (and, for a second genesis, the assembly key) sends changes over the sync endpoint
and in bundles; none rewrites the ledger, and every daemon reads the same records.

protocol-spec/ledger.md "Write rules" and "Void records", changes.md S6 and "Equivocation".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import random
import shutil
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from automerge.core import ROOT, Document, ObjType, Transaction
from playwright.sync_api import expect
from pnyx.daemon.store.node import read_key
from pnyx.federation.amvalues import ensure_map, put_value
from pnyx.federation.bundle import BundleWriter, Header, HeldState, Selection
from pnyx.federation.columns import Reader
from pnyx.federation.docids import ledger_id
from pnyx.federation.envelope import Envelope, run_actor, sign_change, signing_input
from pnyx.federation.keys import SigningKey, key_text
from pnyx.federation.ledger import (
    Decision,
    Mandate,
    Profile,
    Tally,
    write_decision,
    write_genesis,
    write_mandate,
)
from pnyx.federation.syncmsg import Push, Pushed, decode_reply, encode

from tests.browserkit import browser_page
from tests.ledgerkit import rechecksum
from tests.pnyxproc import Daemon, cli, cli_json, post, query, wait_for

pytestmark = pytest.mark.slow
AS_OF = "2026-12-31"


@dataclass
class Village:
    """Assembly A's daemon, with the assembly key and the founding device, and device B,
    certified, in an attacker's hands: its key and the ledger as A holds it."""

    a: Daemon
    assembly_key: SigningKey
    b_key: SigningKey
    root: Path

    @property
    def doc_id(self) -> str:
        return ledger_id(self.assembly_key.public)

    def envelopes(self, data: Path | None = None) -> list[Envelope]:
        rows = query(data or self.a.data, "SELECT doc, change, signer, signature FROM changes ORDER BY seqno")
        return [Envelope(doc, bytes(change), bytes(signer), bytes(signature))
                for doc, change, signer, signature in rows]

    def ledger_doc(self) -> Document:
        doc = Document()
        doc.merge(Document.load(b"".join(e.change for e in self.envelopes() if e.doc_id == self.doc_id)))
        return doc

    def attack(self, edit: Callable[[Transaction], None], key: SigningKey | None = None,
               heads: list[bytes] | None = None) -> bytes:
        """A change by B (or `key`) on the ledger as A holds it, with a fresh actor."""
        signer = key or self.b_key
        doc = self.ledger_doc().fork(heads) if heads is not None else self.ledger_doc().fork()
        doc.set_actor(run_actor(signer.public, os.urandom(8)))
        before = doc.get_heads()
        with doc.transaction() as tx:
            edit(tx)
        (change,) = doc.get_changes(before)
        return bytes(change.raw_bytes)


def push(url: str, *envelopes: Envelope) -> Pushed:
    status, body = post(f"{url}/pnyx/v1/sync", encode(Push(tuple(envelopes))))
    assert status == 200, body
    reply = decode_reply(body)
    assert isinstance(reply, Pushed)
    return reply


def api(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}/api/v1/{path}", timeout=10) as response:
        return json.load(response)


def reads(data: Path, assembly: str) -> dict[str, str]:
    """Every read of a ledger the CLI offers, and the view, as their exact bytes."""
    out = {what: cli(data, "show", what, "--assembly", assembly, "--json").stdout
           for what in ("decisions", "mandates", "devices")}
    out["view"] = cli(data, "view", "--json", "--as-of", AS_OF).stdout
    return out


def found(root: Path) -> None:
    """A's and B's data directories under `root`, as `pnyx` commands write them."""
    a = root / "a"
    cli(a, "init", "--assembly", "Barrio Norte", "--place", "Plaza 3", "--members", "120")
    cli(a, "decide", "--title", "Community kitchen", "--text", "Open Mondays", "--date", "2026-11-20",
        "--for", "80", "--against", "12", "--abstain", "5", "--dissent", "Prefer Sundays")
    mandate = cli(a, "mandate", "issue", "--delegate", "Ana", "--council", "Water council",
                  "--from", "2026-12-01", "--until", "2027-03-01", "--date", "2026-11-21", "--for", "70",
                  "--against", "3", "--abstain", "2", "--instruction", "water plan", "for",
                  "imperative").stdout.split()[-1]
    cli(a, "mandate", "recall", mandate, "--date", "2026-11-25", "--for", "60", "--against", "20",
        "--abstain", "1")
    b = root / "b"
    assembly = json.loads((a / "identity.json").read_text())["assembly"]
    cli(b, "init", "--join", assembly)
    b_key = read_key(b / "device.key")
    cli(a, "device", "add", key_text(b_key.public), "--label", "secretary laptop")


@pytest.fixture(scope="module")
def founded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Written once for the module: each test's village starts from a copy of it."""
    root = tmp_path_factory.mktemp("founded")
    found(root)
    return root


@pytest.fixture
def village(founded: Path, tmp_path: Path) -> Iterator[Village]:
    for name in ("a", "b"):
        shutil.copytree(founded / name, tmp_path / name)
    v = Village(Daemon(tmp_path / "a"), read_key(tmp_path / "a" / "assembly.key"),
                read_key(tmp_path / "b" / "device.key"), tmp_path)
    yield v
    v.a.stop()


def decision(title: str, record_id: str | None = None) -> Decision:
    return Decision(record_id or os.urandom(10).hex()[:16].translate(str.maketrans("0189", "wxyz")),
                    title, "", dt.date(2026, 12, 1), Tally(9, 1, 0), 10, "", None,
                    "decision", None)


# ------------------------------------------------------------------ overwrites and a second genesis


@pytest.mark.parametrize("collection", ["decisions", "devices"])
def test_an_empty_map_over_a_collection_is_refused_and_the_ledger_reads_the_same(
        village: Village, collection: str) -> None:
    assembly = key_text(village.assembly_key.public)
    before = reads(village.a.data, assembly)
    overwrite = village.attack(lambda tx: tx.put_object(ROOT, collection, ObjType.Map))
    reply = push(village.a.url, sign_change(village.b_key, village.doc_id, overwrite))
    assert (reply.accepted, reply.rejected, reply.reasons) == (0, 1, ("schema-violation",))
    assert reads(village.a.data, assembly) == before
    # The founding device still writes, and so does B: nothing of the attack was stored.
    cli(village.a.data, "decide", "--title", "After the attack", "--date", "2026-11-26",
        "--for", "5", "--against", "0", "--abstain", "0")
    titles = {d["title"] for d in cli_json(village.a.data, "show", "decisions")}
    assert {"Community kitchen", "After the attack"} <= titles
    assert len(cli_json(village.a.data, "show", "devices")) == 2


def bundle_of(village: Village, name: str, envelopes: list[Envelope]) -> Path:
    """A bundle file holding `envelopes`, as device B would export it."""
    path = village.root / name
    with open(path, "wb") as out:
        writer = BundleWriter(out.write, Header(Selection(None, None, None),
                                                HeldState(village.b_key.public, village.assembly_key.public,
                                                          bytes(32), ())))
        for envelope in envelopes:
            writer.add([envelope])
        writer.finish()
    return path


def test_a_record_lacking_what_its_readers_need_is_refused_by_sync_and_bundle(village: Village) -> None:
    """Rule W10: a decision holding only a title would be stored and relayed, then skipped by
    every reader. It is refused, the record and what it lacks named, and nothing is stored."""
    assembly = key_text(village.assembly_key.public)
    before = reads(village.a.data, assembly)
    held = query(village.a.data, "SELECT count(*) FROM changes")
    title_only = sign_change(village.b_key, village.doc_id, village.attack(lambda tx: put_value(
        tx, ensure_map(tx, "decisions"), "titleonlyrecordx", {"title": "Title only"})))
    reply = push(village.a.url, title_only)
    assert (reply.accepted, reply.rejected, reply.reasons) == (0, 1, ("schema-violation",))
    report = cli_json(village.a.data, "bundle", "import", str(bundle_of(village, "title.pnyx", [title_only])))
    assert (report["new"], report["rejected_by_reason"]) == (0, {"schema-violation": 1})
    assert ("rule W10 (row L5): decisions/titleonlyrecordx (a decision) lacks abstain, against, date, "
            "for, kind, text") in report["reasons"][0]["detail"]
    assert query(village.a.data, "SELECT count(*) FROM changes") == held
    assert reads(village.a.data, assembly) == before


def test_a_second_genesis_by_the_assembly_key_is_refused_and_flagged_everywhere(village: Village) -> None:
    assembly = key_text(village.assembly_key.public)
    before = reads(village.a.data, assembly)
    doc = Document(run_actor(village.assembly_key.public, os.urandom(8)))
    with doc.transaction() as tx:
        write_genesis(tx, Profile(assembly, "Impostor", "", None))
    (change,) = doc.get_changes([])
    second = sign_change(village.assembly_key, village.doc_id, bytes(change.raw_bytes))
    reply = push(village.a.url, second)
    assert (reply.accepted, reply.reasons) == (0, ("schema-violation",))
    assert reads(village.a.data, assembly) == before
    (flag,) = cli_json(village.a.data, "status")["equivocations"]
    assert (flag["key"], flag["doc"], len(flag["changes"])) == (assembly, village.doc_id, 2)
    assert api(village.a.url, "status")["equivocations"] == [flag]
    assert "EQUIVOCATION: key " + assembly in cli(village.a.data, "status").stdout
    # The evidence travels: by sync to a daemon of another assembly ...
    c = village.root / "c"
    cli(c, "init", "--assembly", "Villa Sur")
    cli(c, "sync", village.a.url)
    assert cli_json(c, "status")["equivocations"] == [flag]
    assert reads(c, assembly) == before
    # ... and in a bundle.
    d = village.root / "d"
    cli(d, "init", "--assembly", "Cerro")
    cli(village.a.data, "bundle", "export", "--all", "-o", str(village.root / "all.pnyx"))
    imported = cli_json(d, "bundle", "import", str(village.root / "all.pnyx"))
    assert imported["rejected_by_reason"] == {"schema-violation": 1}
    assert cli_json(d, "status")["equivocations"] == [flag]


def test_equivocation_by_a_device_is_flagged_and_the_evidence_travels(village: Village) -> None:
    actor = run_actor(village.b_key.public, os.urandom(8))
    twins = []
    for title in ("Twin one", "Twin two"):
        doc = village.ledger_doc().fork()
        doc.set_actor(actor)
        heads = doc.get_heads()
        with doc.transaction() as tx:
            write_decision(tx, decision(title))
        twins.append(sign_change(village.b_key, village.doc_id, bytes(doc.get_changes(heads)[0].raw_bytes)))
    reply = push(village.a.url, *twins)
    assert (reply.accepted, reply.reasons) == (1, ("equivocation",))
    flags = api(village.a.url, "status")["equivocations"]
    assert [(f["key"], f["reason"], len(f["changes"])) for f in flags] == [
        (key_text(village.b_key.public), "equivocation", 2)]
    c = village.root / "c"
    cli(c, "init", "--assembly", "Villa Sur")
    peer = Daemon(c)
    try:
        cli(village.a.data, "sync", peer.url)  # A pushes: the peer refuses the twin itself
        wait_for("the peer flags B", lambda: api(peer.url, "status")["equivocations"] == flags, 30)
    finally:
        peer.stop()
    with browser_page(village.a.url) as page:  # the page says so too, in a real browser
        alert = page.locator("#equivocations")
        expect(alert).to_contain_text("Equivocation: the key")  # named by its device label
        expect(alert).to_contain_text("signed 2 contradicting changes")


# ------------------------------------------------------------------ mutants of real changes


def real_changes(village: Village) -> list[bytes]:
    """Changes B could honestly make on the ledger as held: decisions, a mandate, a recall."""
    mandate_id = "mandatemandatema"
    mandate = Mandate(mandate_id, "Bo", None, "Roads council", dt.date(2026, 12, 1),
                      dt.date(2027, 1, 1), (), "issuingissuingis", None)
    edits: list[Callable[[Transaction], None]] = [
        lambda tx: write_decision(tx, decision("A plain decision")),
        lambda tx: write_decision(tx, decision("Another, with a longer title to mutate")),
        lambda tx: (write_decision(tx, decision("Issue a mandate", "issuingissuingis")),
                    write_mandate(tx, mandate)),
        lambda tx: write_decision(tx, Decision("recallrecallreca", "Recall", "", mandate.term_from,
                                               Tally(5, 4, 0), None, "", None, "recall", mandate_id)),
    ]
    return [village.attack(edit) for edit in edits]


def with_actor_nonce(raw: bytes, nonce: bytes) -> bytes:
    """The chunk with the last 8 bytes of its actor replaced: one more run of the same device,
    so that mutants never share an (actor, seq)."""
    r = Reader(raw, pos=9)
    length = r.uleb()
    body = bytearray(raw[r.pos:r.pos + length])
    b = Reader(bytes(body))
    b.take(32 * b.uleb())
    size = b.uleb()
    body[b.pos + size - 8:b.pos + size] = nonce
    return rechecksum(bytes(body))


def mutate(raw: bytes, rng: random.Random) -> bytes:
    """One to three byte edits (change, insert, delete) anywhere after the body's deps and
    actor, checksum fixed: what the holder of a device key can sign."""
    r = Reader(raw, pos=9)
    length = r.uleb()
    body = bytearray(raw[r.pos:r.pos + length])
    b = Reader(bytes(body))
    b.take(32 * b.uleb())
    b.take(b.uleb())
    start = b.pos
    for _ in range(rng.randint(1, 3)):
        pos = rng.randrange(start, len(body))
        kind = rng.random()
        if kind < 0.7:
            body[pos] = rng.randrange(256)
        elif kind < 0.85:
            body.insert(pos, rng.randrange(256))
        else:
            del body[pos]
    return rechecksum(bytes(body))


def test_five_thousand_signed_mutants_change_no_read(village: Village) -> None:
    assembly = key_text(village.assembly_key.public)
    before = reads(village.a.data, assembly)
    rng = random.Random(10)
    bases = real_changes(village)
    mutants = []
    while len(mutants) < 5_000:
        chunk = mutate(with_actor_nonce(rng.choice(bases), rng.randbytes(8)), rng)
        signature = village.b_key.sign(signing_input(village.doc_id, hashlib.sha256(chunk[8:]).digest()))
        mutants.append(Envelope(village.doc_id, chunk, village.b_key.public, signature))
    path = bundle_of(village, "mutants.pnyx", mutants)
    report = cli_json(village.a.data, "bundle", "import", str(path))
    counts = Counter(report["rejected_by_reason"]) + Counter(
        {"accepted": report["new"], "pending": report["pending"], "duplicate": report["already_held"]})
    print(f"\n5,000 signed mutants: {dict(sorted(counts.items()))}")
    assert sum(counts.values()) == len(mutants)
    assert counts["schema-violation"] > 0
    after = reads(village.a.data, assembly)
    accepted_chunks = [e.change for e in village.envelopes() if e.doc_id == village.doc_id
                       and e.signer == village.b_key.public]
    for what in ("decisions", "mandates", "devices"):
        old = {r.get("id", r.get("key")): r for r in json.loads(before[what])}
        new = {r.get("id", r.get("key")): r for r in json.loads(after[what])}
        for record_id, record in old.items():  # nothing held before changed ...
            if what != "mandates" or record["recalled_by"] is not None:
                assert new.get(record_id) == record, (what, record_id)
        for record_id in set(new) - set(old):  # ... and what is new came from an accepted change
            assert any(record_id.encode() in chunk for chunk in accepted_chunks), record_id
    assert len(json.loads(after["devices"])) == 2
    # The ledger still takes the founding device's decisions, verifies, and a fresh peer
    # syncing from it reads exactly the same.
    cli(village.a.data, "decide", "--title", "After the mutants", "--date", "2026-11-27",
        "--for", "5", "--against", "0", "--abstain", "0")
    assert cli(village.a.data, "verify").returncode == 0
    fresh = village.root / "fresh"
    cli(fresh, "init", "--assembly", "Fresh")
    cli(fresh, "sync", village.a.url)
    assert reads(fresh, assembly) == reads(village.a.data, assembly)


# ------------------------------------------------------------------ the revocation race


def test_a_revocation_race_reads_the_same_in_both_orders(village: Village) -> None:
    """B writes once before A revokes it (A holds that: inside the cut) and once without
    having seen the revocation (outside the cut). Two daemons get the outside change and the
    revocation in opposite orders, and read byte-identical ledgers and views."""
    assembly = key_text(village.assembly_key.public)
    inside = sign_change(village.b_key, village.doc_id,
                         village.attack(lambda tx: write_decision(tx, decision("Inside the cut"))))
    assert push(village.a.url, inside).accepted == 1
    outside = sign_change(village.b_key, village.doc_id,
                          village.attack(lambda tx: write_decision(tx, decision("Outside the cut"))))
    cli(village.a.data, "device", "revoke", key_text(village.b_key.public))
    base = village.envelopes()
    revocation = base[-1]
    base = base[:-1]
    daemons = []
    for name in ("x", "y"):
        data = village.root / name
        cli(data, "init", "--assembly", f"Daemon {name}")
        daemons.append(Daemon(data))
    try:
        x, y = daemons
        for d in daemons:
            assert push(d.url, *base).rejected == 0
        assert push(x.url, outside).accepted == 1 and push(x.url, revocation).accepted == 1
        assert push(y.url, revocation).accepted == 1 and push(y.url, outside).accepted == 1
        assert reads(x.data, assembly) == reads(y.data, assembly)
        assert api(x.url, f"ledger?assembly={assembly}") == api(y.url, f"ledger?assembly={assembly}")
        ledger = api(x.url, f"ledger?assembly={assembly}")
        titles = {d["title"] for d in ledger["decisions"]}
        assert "Inside the cut" in titles and "Outside the cut" not in titles
        (void,) = ledger["void"]
        assert "outside its revocation's cut" in void["reason"]
        # And B, having seen its revocation, is refused outright.
        seen = sign_change(village.b_key, village.doc_id,
                           village.attack(lambda tx: write_decision(tx, decision("Defiant"))))
        assert push(x.url, seen).reasons == ("revoked-device",)
    finally:
        for d in daemons:
            d.stop()
    # A, whose own ledger it is, takes the void change too; its page shows it as void.
    assert push(village.a.url, outside).accepted == 1
    with browser_page(village.a.url) as page:
        expect(page.locator("#void")).to_contain_text("outside its revocation's cut")
