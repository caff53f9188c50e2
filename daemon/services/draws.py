"""Draws by lot: declaring one by an assembly vote, committing and revealing, and reading results.

The rules of the records are in federation/draws.py (protocol-spec/sortition.md,
"Draws in the ledgers"). What is this side's business:

- the lottery published with a declaration is the LEXIMIN one of
  services/lottery.py, made here before the vote is recorded;
- a participant's secret is never stored: it is derived from a signature by
  this device's key over the draw's reference. Ed25519 signatures are
  deterministic, so the device can reveal the same secret later, and nobody
  without the key can compute or foresee it. The device that committed is
  the one that reveals;
- a reveal is refused until every participant's commitment is held here, so
  an honest participant never shows its secret before the last commitment.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from pnyx.federation.docids import ledger_id
from pnyx.federation.draws import (
    COMMIT,
    DRAW_REF_RE,
    REVEAL,
    SORTITION,
    Declaration,
    read_declaration,
    read_steps,
    step_record,
    write_step,
)
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.ledger import Decision
from pnyx.federation.sortition import Candidate, DrawError, Post, Quota, commitment

from ..store.node import Node
from ..store.viewindex import ViewIndex
from .bodies import DECISION_FIELDS, BadRequest, Body, count, date, decision_input, obj, only_fields, texts
from .names import held_decision, resolve_assembly
from .records import Recorder, RecordError, UnknownRecord, new_record_id

Result = dict[str, Any]
SECRET_DOMAIN = b"pnyx/sortition/secret/v1"


def secret_for(node: Node, draw: str) -> bytes:
    """This device's secret for `draw`: reproducible by it alone, never written down."""
    return hashlib.sha256(SECRET_DOMAIN + node.device_key.sign(SECRET_DOMAIN + draw.encode())).digest()


def _pool(value: Any) -> dict[str, Candidate]:
    """A pool as a body gives it: {candidate id: {attribute: value}}."""
    raw = obj(value, "pool")
    pool = {}
    for cid, attributes in raw.items():
        attrs = obj(attributes, f"pool.{cid}")
        if not all(isinstance(v, str) for v in attrs.values()):
            raise BadRequest(f"pool.{cid}: attribute values must be strings")
        pool[cid] = Candidate(cid, dict(attrs))
    return pool


def _quota(value: Any, n: int) -> Quota:
    raw = obj(value, f"quotas[{n}]")
    only_fields(raw, {"attribute", "value", "min", "max"}, f"quotas[{n}]")
    attribute, val = raw.get("attribute"), raw.get("value")
    if not isinstance(attribute, str) or not isinstance(val, str):
        raise BadRequest(f"quotas[{n}]: attribute and value must be strings")
    low, high = count(raw, "min"), count(raw, "max")
    assert low is not None and high is not None  # required
    return Quota(attribute, val, low, high)


def declare(rec: Recorder, params: Mapping[str, str], body: Body) -> Result:
    """An assembly decision declaring a draw, with its fair lottery computed and published."""
    only_fields(body, DECISION_FIELDS | {"pool", "seats", "quotas", "participants", "commit_by",
                                         "reveal_by"})
    d = decision_input(body, "Draw by lot")
    quotas = body.get("quotas", [])
    if not isinstance(quotas, list):
        raise BadRequest("quotas must be a list")
    seats = count(body, "seats")
    assert seats is not None  # required
    pool, post = _pool(body.get("pool")), Post(seats, tuple(_quota(q, n) for n, q in enumerate(quotas)))
    participants = tuple(sorted(resolve_assembly(rec.node, p) for p in texts(body, "participants")))
    from .lottery import fair_portfolio  # numpy and scipy: loaded by the one write that draws (0.5 s)

    try:
        declaration = Declaration(pool, post, fair_portfolio(pool, post), participants,
                                  date(body, "commit_by"), date(body, "reveal_by"))
        plain = declaration.plain()
        read_declaration(plain, d.date)  # every rule a reader checks, before anything is written
    except DrawError as exc:
        raise RecordError(f"the draw cannot be declared: {exc}") from None
    decision_id = rec.decide(d, kind=SORTITION, sortition=plain)
    return draw_row(rec.view().index, f"{key_text(rec.node.assembly)}/{decision_id}", rec.today())


def _declared(node: Node, draw: str) -> tuple[Decision, Declaration]:
    """The declaration of `draw` held here; UnknownRecord or RecordError if there is none."""
    if not DRAW_REF_RE.match(draw):
        raise UnknownRecord(f"not a draw: {draw} (ASSEMBLY_KEY/DECISION_ID)")
    assembly, _, decision_id = draw.partition("/")
    doc_id = ledger_id(parse_key(assembly))
    found = held_decision(node, doc_id, decision_id)  # from the index: not the whole ledger
    if found is None or found.kind != SORTITION:
        raise UnknownRecord(f"draw {draw} is not held here: bring its assembly's ledger first")
    try:
        return found, read_declaration(found.sortition, found.date)
    except DrawError as exc:
        raise RecordError(f"draw {draw} is invalid: {exc}") from None


def _step(rec: Recorder, params: Mapping[str, str], body: Body, step: str) -> Result:
    """Record this assembly's commitment or reveal for the draw named in the path."""
    only_fields(body, {"date"})
    node = rec.node
    draw = f"{key_text(resolve_assembly(node, params['assembly']))}/{params['decision']}"
    decision, declaration = _declared(node, draw)
    day = date(body, "date") if "date" in body else rec.today()
    if day > rec.today():
        raise RecordError(f"{day} is after today ({rec.today()})")
    if node.assembly not in declaration.participants:
        raise RecordError(f"this assembly is not a participant of draw {draw}")
    mine = [r for r in read_steps(node.docs.get(node.ledger_id)).values() if r["draw"] == draw]
    secret = secret_for(node, draw)
    if step == COMMIT:
        if not decision.date <= day <= declaration.commit_by:
            raise RecordError(f"a commitment is dated {decision.date}..{declaration.commit_by}")
        if any(r["step"] == COMMIT for r in mine):
            raise RecordError(f"this assembly already committed to draw {draw}")
        value = commitment(draw, node.assembly, secret)
    else:
        if not declaration.commit_by < day <= declaration.reveal_by:
            raise RecordError(f"a reveal is dated after {declaration.commit_by}, "
                              f"until {declaration.reveal_by}")
        if any(r["step"] == REVEAL for r in mine):
            raise RecordError(f"this assembly already revealed its secret for draw {draw}")
        _require_commitments(node, draw, declaration, secret)
        value = secret
    rec.require_certified()
    record_id = new_record_id()
    record = step_record(draw, step, value, day)
    try:
        rec.write(node.ledger_id, lambda tx: write_step(tx, record_id, record))
    except DrawError as exc:
        raise RecordError(str(exc)) from None
    return {"id": record_id, **record, "assembly": key_text(node.assembly)}


def _require_commitments(node: Node, draw: str, declaration: Declaration, secret: bytes) -> None:
    """Refuse to reveal before every commitment is held, or when this device did not commit."""
    for participant in declaration.participants:
        doc_id = ledger_id(participant)
        steps = read_steps(node.docs.get(doc_id)) if node.store.holds_document(doc_id) else {}
        commits = [r for r in steps.values() if r["draw"] == draw and r["step"] == COMMIT]
        if not commits:
            raise RecordError(f"the commitment of {key_text(participant)} is not held here yet: "
                              "sync first, then reveal")
        if participant == node.assembly and \
                min(commits, key=lambda r: r["date"])["value"] != commitment(draw, participant, secret).hex():
            raise RecordError("this assembly's commitment was made by another device: reveal from it")


def commit(rec: Recorder, params: Mapping[str, str], body: Body) -> Result:
    return _step(rec, params, body, COMMIT)


def reveal(rec: Recorder, params: Mapping[str, str], body: Body) -> Result:
    return _step(rec, params, body, REVEAL)


# --- reading -----------------------------------------------------------------------------------


def draw_rows(view: ViewIndex, as_of: dt.date) -> list[Result]:
    """Every draw declared in a ledger held here, recomputed from the records held: the
    confederal view's `draws` (federation/draws.py `view_draws`), so every reader agrees."""
    rows: list[Result] = json.loads(view.render(as_of))["draws"]
    return rows


def draw_row(view: ViewIndex, draw: str, as_of: dt.date) -> Result:
    found = [r for r in draw_rows(view, as_of) if r["draw"] == draw]
    if not found:
        raise UnknownRecord(f"draw {draw} is not held here")
    return found[0]
