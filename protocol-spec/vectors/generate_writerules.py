"""Generate the write-rule vectors: `python protocol-spec/vectors/generate_writerules.py [DIR]`.

For every write rule and schema row of protocol-spec/ledger.md "Write rules"
(and charter.md), one change that follows it and one that breaks it, each
signed by a key allowed to write its document and fed after the first `after`
envelopes of history.json. Breaking changes are refused with
`schema-violation` and a detail naming the rule (`rule W..`) or the row
(`row ..`). Some violations cannot be made through Automerge's API (it always
names what a write overwrites): those are made by taking the overwriting
change and dropping its predecessor columns, as a key holder could.
tests/test_vectors.py checks every vector and that regenerating changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from automerge.core import ROOT, ObjType, ScalarType, Transaction
from pnyx.federation.amvalues import ensure_map, put_value
from pnyx.federation.chunk import encode_uleb, parse_change
from pnyx.federation.columns import Reader
from pnyx.federation.confed import Act, ActKind, write_act
from pnyx.federation.envelope import run_actor
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import Profile, write_genesis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate as base  # noqa: E402  (the history and its writers, from the same directory)

FILE = "writerules.json"
PRED_GROUP = 0x70
PRED_COLUMNS = (PRED_GROUP, 0x71, 0x73)
Edit = Callable[[Transaction], None]


Columns = list[tuple[int, bytes]]


def columns_of(raw: bytes) -> tuple[bytes, Columns, bytes]:
    """A canonical chunk's body split into what precedes the column metadata, the columns
    (spec, data) in order, and the extra bytes after them."""
    r = Reader(raw, pos=9)
    length = r.uleb()
    body = raw[r.pos:r.pos + length]
    r = Reader(body)
    r.take(32 * r.uleb())
    r.take(r.uleb())
    r.uleb(), r.uleb(), r.sleb()
    r.take(r.uleb())
    for _ in range(r.uleb()):
        r.take(r.uleb())
    start = r.pos
    specs = [(r.uleb(), r.uleb()) for _ in range(r.uleb())]
    columns, pos = [], r.pos
    for spec, n in specs:
        columns.append((spec, body[pos:pos + n]))
        pos += n
    return body[:start], columns, body[pos:]


def with_columns(raw: bytes, edit: Callable[[Columns], Columns]) -> bytes:
    """The chunk with its columns edited, sorted by spec, checksum fixed: what a key
    holder could sign."""
    before, columns, extra = columns_of(raw)
    kept = sorted(edit(columns))
    meta = encode_uleb(len(kept)) + b"".join(encode_uleb(s) + encode_uleb(len(d)) for s, d in kept)
    body = before + meta + b"".join(d for _, d in kept) + extra
    head = bytes([base.CHANGE_CHUNK]) + encode_uleb(len(body))
    return base.MAGIC + hashlib.sha256(head + body).digest()[:4] + head + body


def without_preds(raw: bytes) -> bytes:
    """The chunk with no predecessors: every op's count 0 (one run), no predecessor ids."""
    ops = parse_change(raw).num_ops
    zeros = (PRED_GROUP, encode_sleb(ops) + encode_uleb(0))
    return with_columns(raw, lambda cols: [zeros, *((s, d) for s, d in cols if s not in PRED_COLUMNS)])


def encode_sleb(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        if (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40):
            return bytes(out + bytes([byte]))
        out.append(byte | 0x80)


def rename_column(raw: bytes, old: int, new: int) -> bytes:
    return with_columns(raw, lambda cols: [(new if s == old else s, d) for s, d in cols])


def record(name: str) -> str:
    return base.record_id(f"writerules {name}")


def decision_fields(name: str, **overrides: Any) -> dict[str, Any]:
    fields = {"title": name, "text": "", "date": "2026-11-30", "for": 10, "against": 2,
              "abstain": 1, "quorum": None, "dissent": "", "supersedes": None, "kind": "decision",
              "subject": None}
    return {**fields, **overrides}


def put_decision(name: str, **overrides: Any) -> Edit:
    return lambda tx: put_value(tx, ensure_map(tx, "decisions"), record(name),
                                decision_fields(name, **overrides))


def vectors() -> list[dict[str, Any]]:
    h, facts = base.build_history()
    a: base.Writer = facts["a"]
    delegate: base.Writer = facts["delegate"]
    every = len(h.steps)
    heads = a.doc(base.LEDGER).get_heads()
    log_heads = a.doc(base.MANDATE_DOC).get_heads()
    kitchen = base.record_id("kitchen")
    device_b = key_text(base.KEYS["device-b"].public)
    out: list[dict[str, Any]] = []

    def add(name: str, rule: str, note: str, envelope: base.Envelope, valid: bool,
            after: int = every) -> None:
        out.append({"name": name, "rule": rule, "after": after, "valid": valid, "note": note,
                    "envelope": envelope.encode().hex()})

    def by_a(edit: Edit, crafted: bool = False) -> base.Envelope:
        raw = a.change_at(heads, edit)
        return a.sign(without_preds(raw) if crafted else raw)

    def by_delegate(edit: Edit) -> base.Envelope:
        delegate.docs[base.MANDATE_DOC] = a.doc(base.MANDATE_DOC).fork(log_heads)
        delegate.docs[base.MANDATE_DOC].set_actor(delegate.actor)
        return delegate.sign(delegate.change(edit, base.MANDATE_DOC), base.MANDATE_DOC)

    def genesis(run: str, edit: Edit) -> base.Envelope:
        founder = base.Writer("assembly", run)
        return founder.sign(founder.change(edit))

    def charter(run: str, drop: str = "", **overrides: Any) -> base.Envelope:
        doc = base.Document(run_actor(base.KEYS["stranger"].public, base.nonce(run)))
        plain = {"format": "pnyx/charter/v1", "founded": "2026-01-01",
                 "members": [key_text(base.ASSEMBLY)], "confederations": [],
                 "rules": {"name": "Valley", "threshold": "simple", "qualified": "2/3",
                           "assembly_quorum": "1/2", "deadline_days": 30, "protected": []}}
        with doc.transaction() as tx:
            for key, value in {**plain, **overrides}.items():
                if key != drop:
                    put_value(tx, ROOT, key, value)
        (change,) = doc.get_changes([])
        raw = bytes(change.raw_bytes)
        return base.sign_raw(base.KEYS["stranger"], f"charter/{base.sha256_of_chunk(raw).hex()}", raw)

    new = by_a(put_decision("new"))
    profile = Profile(key_text(base.ASSEMBLY), "Barrio Norte", "Plaza 3", 120)
    add("W1-valid", "W1", "a new decision: its ops decode", new, True)
    add("W1-unknown-column", "W1", "the new decision with its predecessor group column renamed "
        "to an unknown spec 0x60", a.sign(rename_column(a.change_at(heads, put_decision("new")),
                                                         0x70, 0x60)), False)
    add("W2-valid", "W2", "makes a map and puts values", new, True)
    add("W2-delete", "W2", "deletes the decision kitchen", by_a(lambda tx: tx.delete(
        ensure_map(tx, "decisions"), kitchen)), False)
    add("W3-valid", "W3", "a decision with a `saw` list of two elements",
        by_a(put_decision("saw", saw=["aa", "bb"])), True)
    add("W3-overwrite", "W3", "puts a new title over the decision kitchen's",
        by_a(lambda tx: tx.put(decision_obj(tx, kitchen), "title", ScalarType.Str, "Rewritten")),
        False)
    add("W4-valid", "W4", "a proposal decision with its nested proposal map",
        by_a(put_decision("proposal", kind="proposal", proposal={
            "confederation": "ab" * 32, "kind": "policy", "subject": None, "amendment": None})), True)
    add("W4-unknown-field", "W4", "a decision with a field no row names",
        by_a(put_decision("color", color="red")), False)
    add("W5-valid", "W5", "quorum null, as the row allows", new, True)
    add("W5-wrong-type", "W5", "a tally as a string", by_a(put_decision("many", **{"for": "many"})),
        False)
    add("W6-valid", "W6", "the `saw` list written with its decision",
        by_a(put_decision("saw", saw=["aa"])), True)
    add("W6-field-later", "W6", "a `saw` list added to the decision kitchen after it was made",
        by_a(lambda tx: put_value(tx, decision_obj(tx, kitchen), "saw", ["aa"])), False)
    add("W7-valid", "W7", "a decision under a new record id", new, True)
    add("W7-existing-key", "W7", "a decision put again under the id of kitchen, naming no "
        "predecessor", by_a(lambda tx: put_value(tx, ensure_map(tx, "decisions"), kitchen,
                                                  decision_fields("Rewritten")), crafted=True), False)
    add("W8-valid", "W8", "the genesis of history.json, on an empty store",
        h.steps[0][2], True, after=0)
    add("W8-second-genesis", "W8", "a second genesis signed by the assembly key, in another run",
        genesis("assembly run 2", lambda tx: write_genesis(tx, profile)), False)
    add("W8-no-collections", "W8", "a genesis that makes only the profile, on an empty store",
        genesis("assembly run 3", lambda tx: put_value(tx, ROOT, "profile", {
            "assembly": key_text(base.ASSEMBLY), "name": "x", "place": "", "members": None})),
        False, after=0)
    for rule, key in (("L1", "profile"), ("L2", "devices"), ("L4", "decisions"), ("L6", "mandates")):
        add(f"{rule}-valid", rule, f"the genesis makes {key}", h.steps[0][2], True, after=0)
        add(f"{rule}-later", rule, f"{key} made again at the root by a later change, naming no "
            "predecessor", by_a(lambda tx, k=key: tx.put_object(ROOT, k, ObjType.Map), crafted=True),
            False)
    certificate = base.KEYS["assembly"].sign(base.certificate_input(
        base.ASSEMBLY, base.KEYS["stranger"].public))
    add("L3-valid", "L3", "the certificate of a new device",
        by_a(lambda tx: put_value(tx, ensure_map(tx, "devices"), key_text(base.KEYS["stranger"].public),
                                  {"label": "x", "certificate": certificate})), True)
    add("L3-wrong-type", "L3", "a certificate as a string",
        by_a(lambda tx: put_value(tx, ensure_map(tx, "devices"), key_text(base.KEYS["stranger"].public),
                                  {"label": "x", "certificate": certificate.hex()})), False)
    add("L3-second-revocation", "L3", "device B's entry gains `revoked` again, naming no "
        "predecessor (it may be written once)",
        by_a(lambda tx: put_value(tx, device_obj(tx, device_b), "revoked",
                                  {"cut": {}, "signature": bytes(64)}), crafted=True), False)
    device_a = key_text(base.KEYS["device-a"].public)
    signed_cut = base.KEYS["assembly"].sign(base.revocation_input(
        base.ASSEMBLY, base.KEYS["device-a"].public, {}))
    add("W9-valid", "W9", "device A's entry gains the assembly key's revocation, with an empty cut",
        by_a(lambda tx: put_value(tx, device_obj(tx, device_a), "revoked",
                                  {"cut": {}, "signature": signed_cut})), True)
    add("W9-unsigned-revocation", "W9", "device A's entry gains a revocation the assembly key did "
        "not sign: written once, it would block the real one",
        by_a(lambda tx: put_value(tx, device_obj(tx, device_a), "revoked",
                                  {"cut": {}, "signature": bytes(64)})), False)
    add("W9-unsigned-certificate", "W9", "an entry for the stranger's key with a certificate the "
        "assembly key did not sign: it would squat the key",
        by_a(lambda tx: put_value(tx, ensure_map(tx, "devices"), key_text(base.KEYS["stranger"].public),
                                  {"label": "x", "certificate": bytes(64)})), False)
    economy = {"needs": {"by": "2027-01-01", "priority": "high", "cooperative": "", "note": ""},
               "offers": {"from": "2026-12-01", "until": "2027-01-01", "conditions": "",
                          "cooperative": ""},
               "pledges": {"need": f"{key_text(base.ASSEMBLY)}/{record('need')}",
                           "offer": f"{key_text(base.ASSEMBLY)}/{record('offer')}"},
               "deliveries": {"need": f"{key_text(base.ASSEMBLY)}/{record('need')}",
                              "offer": f"{key_text(base.ASSEMBLY)}/{record('offer')}", "note": ""},
               "commons": {"good": "the mill", "rules": "shared by turns"}}
    for n, (collection, extra) in enumerate(economy.items()):
        what = {} if collection == "commons" else {"item": "flour", "quantity": 20, "unit": "kg"}
        fields = {"confederation": "ab" * 32, **what, **extra, "date": "2026-11-30",
                  "supersedes": None, "withdrawn": False}
        rule, record_rule = f"E{2 * n + 1}", f"E{2 * n + 2}"
        add(f"{rule}-valid", rule, f"the genesis makes {collection}", h.steps[0][2], True, after=0)
        add(f"{rule}-later", rule, f"{collection} made again at the root by a later change, naming "
            "no predecessor", by_a(lambda tx, k=collection: tx.put_object(ROOT, k, ObjType.Map),
                                   crafted=True), False)
        add(f"{record_rule}-valid", record_rule, f"a record of {collection}",
            by_a(lambda tx, c=collection, f=fields: put_value(tx, ensure_map(tx, c), record(c), f)),
            True)
        add(f"{record_rule}-wrong-type", record_rule, f"a record of {collection} withdrawn as text",
            by_a(lambda tx, c=collection, f=fields: put_value(tx, ensure_map(tx, c), record(c),
                                                            {**f, "withdrawn": "no"})), False)
    add("L5-valid", "L5", "a new decision", new, True)
    add("L5-wrong-type", "L5", "a decision whose `saw` is a map",
        by_a(put_decision("saw map", saw={"x": "y"})), False)
    mandate = {"delegate": "Bo", "delegate_key": None, "council": "Water council",
               "term_from": "2026-12-01", "term_until": "2027-03-01",
               "instructions": [{"question": "water", "position": "for", "binding": "imperative"}],
               "decision": record("new")}
    add("L7-valid", "L7", "a new mandate", by_a(lambda tx: put_value(
        tx, ensure_map(tx, "mandates"), record("mandate"), mandate)), True)
    add("L7-recalled-by", "L7", "a new mandate with `recalled_by`, which no row names: a recall "
        "is a decision pointing back", by_a(lambda tx: put_value(
            tx, ensure_map(tx, "mandates"), record("mandate"), {**mandate, "recalled_by": None})), False)
    add("W10-valid", "W10", "a new decision holding every field its readers require", new, True)
    add("W10-title-only", "W10", "a decision holding only a title: readers would skip it",
        by_a(lambda tx: put_value(tx, ensure_map(tx, "decisions"), record("title only"),
                                  {"title": "title only"})), False)
    recall = put_decision("recall", kind="recall", subject=record("mandate"), saw=[])
    add("W10-recall-valid", "W10", "a recall naming the mandate it recalls", by_a(recall), True)
    add("W10-recall-no-subject", "W10", "a recall whose subject is null: it would recall nothing",
        by_a(put_decision("recall", kind="recall", saw=[])), False)
    add("W10-mandate-valid", "W10", "a mandate whose instruction has question, position and binding",
        by_a(lambda tx: put_value(tx, ensure_map(tx, "mandates"), record("mandate"), mandate)), True)
    add("W10-instruction-no-binding", "W10", "a mandate whose instruction lacks its binding",
        by_a(lambda tx: put_value(tx, ensure_map(tx, "mandates"), record("mandate"), {
            **mandate, "instructions": [{"question": "water", "position": "for"}]})), False)
    add("W10-charter-valid", "W10", "a charter with every part", charter("charter"), True, after=0)
    add("W10-charter-no-rules", "W10", "a charter without rules: no reader could read it",
        charter("charter no rules", drop="rules"), False, after=0)
    act = Act(record("act"), ActKind.REPORT, dt.date(2026, 12, 5), None, None, None, "Report")
    add("M1-valid", "M1", "the delegate adds a report", by_delegate(lambda tx: write_act(tx, act, ())),
        True)
    add("M1-wrong-type", "M1", "an act whose date is an integer", by_delegate(lambda tx: put_value(
        tx, ROOT, record("act int"), {"kind": "report", "date": 20261205, "proposal": None,
                                      "position": None, "binding": None, "text": "x", "saw": []})),
        False)
    signed = replace(act, id=record("act by"), by=key_text(base.KEYS["delegate"].public))
    add("M1-by", "M1", "the delegate adds a report naming its own key in `by`",
        by_delegate(lambda tx: write_act(tx, signed, ())), True)
    add("W10-vote-no-position", "W10", "a vote whose position and binding are null: no reader counts it",
        by_delegate(lambda tx: put_value(tx, ROOT, record("act vote"), {
            "kind": "vote", "date": "2026-12-05", "proposal": f"{key_text(base.ASSEMBLY)}/{record('new')}",
            "position": None, "binding": None, "text": "", "replaces": None, "saw": []})), False)
    need = {"confederation": "ab" * 32, "item": "flour", "quantity": 20, "unit": "kg", **economy["needs"],
            "date": "2026-11-30", "withdrawn": False}
    add("W10-need-no-supersedes", "W10", "a need without `supersedes` (null when it revises nothing)",
        by_a(lambda tx: put_value(tx, ensure_map(tx, "needs"), record("needs"), need)), False)
    for rule, key, bad in (("C1", "format", 1), ("C2", "founded", 20260101),
                           ("C3", "members", [1]), ("C4", "confederations", [1]),
                           ("C5", "rules", {"name": "Valley", "deadline_days": "30"}),
                           ("C6", "parity", {"attribute": 1}),
                           ("C7", "rotation", {"consecutive_terms": "2"})):
        add(f"{rule}-valid", rule, "a charter", charter("charter"), True, after=0)
        add(f"{rule}-wrong-type", rule, f"a charter whose {key} has the wrong type",
            charter(f"charter {rule}", **{key: bad}), False, after=0)
    return out


def decision_obj(tx: Transaction, decision_id: str) -> bytes:
    found = tx.get(ensure_map(tx, "decisions"), decision_id)
    assert found is not None
    return bytes(found[1])


def device_obj(tx: Transaction, device: str) -> bytes:
    found = tx.get(ensure_map(tx, "devices"), device)
    assert found is not None
    return bytes(found[1])


def render() -> bytes:
    return (json.dumps({
        "description": "Each envelope (msgpack, hex) is fed to a store holding the first `after` "
                       "envelopes of history.json. `valid`: it is accepted. Otherwise it is refused "
                       "with `schema-violation`, its detail naming `rule <rule>` or `row <rule>`, "
                       "and nothing held changes.",
        "vectors": vectors()}, indent=1) + "\n").encode()


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else HERE
    out.mkdir(parents=True, exist_ok=True)
    (out / FILE).write_bytes(render())
    print(f"wrote {out / FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
