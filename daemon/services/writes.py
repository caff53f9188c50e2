"""The writes a client can ask for, from JSON bodies to one Recorder call each.

The local API (daemon/http/api.py) and the CLI (daemon/services/submit.py) both go through
this table: the CLI builds the same JSON body it would POST and, when no
daemon serves its data directory, runs the same operation on the store
itself. So a body is checked by the same code whichever way it arrives, and
the ledger rules themselves stay in daemon/services/records.py.

Bodies are JSON objects; unknown fields, wrong types and malformed dates are
a `BadRequest` (HTTP 400) naming the field. Unknown ids in the path are
`UnknownRecord` (404); a body that breaks a ledger rule is `RecordError` (422).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pnyx.federation.bylaws import BY_DISSENT, BY_SHARE
from pnyx.federation.charter import (
    AMENDABLE,
    DEFAULT_QUALIFIED,
    Rules,
    new_charter,
    parse_share,
    parse_threshold,
    share_text,
)
from pnyx.federation.confed import PROPOSAL_ID_RE, Act, ActKind, ProposalBody, ProposalKind
from pnyx.federation.docids import ledger_id
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.ledger import Binding, CoDelegate, Position, read_decision, read_device, read_mandate

from ..store.peers import PeerBook, normalize_url
from .bodies import (
    DECISION_FIELDS,
    BadRequest,
    Body,
    count,
    date,
    decision_input,
    instruction,
    key,
    obj,
    only_fields,
    optional_text,
    text,
    texts,
)
from .draws import commit, declare, reveal
from .economy import economy_writes
from .jsonable import to_jsonable
from .listing import decision_row, mandate_row
from .names import (
    council_name,
    held_decision,
    resolve_assembly,
    resolve_confederation,
    resolve_proposal,
    resolve_unit,
)
from .records import Recorder, RecordError, UnknownRecord, new_record_id
from .reopening import reopen, revote

Params = Mapping[str, str]
Result = dict[str, Any]


def as_result(record: Any) -> Result:
    out: Result = to_jsonable(record)
    return out


def decision_result(rec: Recorder, decision_id: str) -> Result:
    """A decision just recorded, shaped as GET /decisions gives it (nothing supersedes it yet),
    read without reading the whole ledger."""
    decision = read_decision(rec.node.docs.get(rec.node.ledger_id), decision_id)
    assert decision is not None  # just recorded
    return decision_row(decision, rec.verdict(decision), False)


# --- this assembly's ledger ----------------------------------------------------------------


def decide(rec: Recorder, params: Params, body: Body) -> Result:
    """A decision; with `revote_of`, the new vote on a reopened decision (it supersedes it)."""
    only_fields(body, DECISION_FIELDS | {"supersedes", "revote_of"})
    d = decision_input(body)
    if body.get("revote_of") is not None:
        return decision_result(rec, revote(rec, text(body, "revote_of"), d))
    return decision_result(rec, rec.decide(d))


def reopen_decision(rec: Recorder, params: Params, body: Body) -> Result:
    """A minority's reopening of the decision in the path (protocol-spec/ledger.md)."""
    only_fields(body, {"by", "members", "date", "text"})
    by = text(body, "by")
    if by not in (BY_SHARE, BY_DISSENT):
        raise BadRequest(f"by must be {BY_SHARE!r} or {BY_DISSENT!r}")
    asking = count(body, "members")
    if asking is None or asking < 1:
        raise BadRequest("members must be a whole number from 1")
    day = date(body, "date") if "date" in body else rec.today()
    return decision_result(rec, reopen(rec, params["decision"], by, asking, day, text(body, "text", "")))


def issue_mandate(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS | {"delegate", "delegate_key", "council", "term_from",
                                         "term_until", "instructions", "attributes", "co_delegates"})
    delegate = text(body, "delegate")
    delegate_key = optional_text(body, "delegate_key")
    if delegate_key is not None:
        key(delegate_key, "delegate_key")
    raw = body.get("instructions", [])
    if not isinstance(raw, list):
        raise BadRequest("instructions must be a list")
    council = text(body, "council")
    title = f"Mandate for {delegate} to {council_name(rec.node, council)}"
    mandate_id = rec.issue_mandate(
        decision_input(body, title), delegate, delegate_key,
        council, date(body, "term_from"), date(body, "term_until"),
        tuple(instruction(item, n) for n, item in enumerate(raw)),
        attributes(body.get("attributes", {}), "attributes") or None, co_delegates(body.get("co_delegates")))
    doc = rec.node.docs.get(rec.node.ledger_id)
    mandate = read_mandate(doc, mandate_id)
    issued = read_decision(doc, mandate.decision) if mandate else None
    assert mandate is not None and issued is not None  # just recorded
    return mandate_row(mandate, issued, rec.verdict(issued), None)


def attributes(value: Any, name: str) -> dict[str, str]:
    """What an assembly declares of a delegate, for parity: a map of texts."""
    raw = obj(value, name)
    if not all(isinstance(v, str) for v in raw.values()):
        raise BadRequest(f"{name}: values must be strings")
    return dict(raw)


def co_delegates(value: Any) -> tuple[CoDelegate, ...]:
    """The further delegates of a mandate, each with a name, a key (or null) and attributes."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadRequest("co_delegates must be a list")  # null: none
    out = []
    for n, item in enumerate(value):
        raw = obj(item, f"co_delegates[{n}]")
        only_fields(raw, {"delegate", "delegate_key", "attributes"}, f"co_delegates[{n}]")
        delegate_key = optional_text(raw, "delegate_key")
        if delegate_key is not None:
            key(delegate_key, f"co_delegates[{n}].delegate_key")
        out.append(CoDelegate(text(raw, "delegate"), delegate_key,
                              attributes(raw.get("attributes", {}), f"co_delegates[{n}].attributes")))
    return tuple(out)


def recall_mandate(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS)
    mandate_id = params["mandate"]
    found = read_mandate(rec.node.docs.get(rec.node.ledger_id), mandate_id)
    council = council_name(rec.node, found.council) if found else ""
    title = f"Recall of {found.delegate}'s mandate to {council}" if found else "Recall"
    return decision_result(rec, rec.recall_mandate(mandate_id, decision_input(body, title)))


def adopt_bylaws(rec: Recorder, params: Params, body: Body) -> Result:
    """Adopt or amend the bylaws: the keys of `bylaws` are set, the others kept."""
    only_fields(body, DECISION_FIELDS | {"bylaws"})
    changes = dict(obj(body.get("bylaws"), "bylaws"))
    if isinstance(changes.get("rule"), str):
        changes["rule"] = share(changes, "rule", "", parse_threshold)  # 0.75 is written 3/4
    return decision_result(rec, rec.adopt_bylaws(changes, decision_input(body, "Bylaws")))


def add_device(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, {"key", "label"})
    device = key(text(body, "key"), "key")
    rec.add_device(device, text(body, "label", ""))
    return as_result(read_device(rec.node.docs.get(rec.node.ledger_id), key_text(device)))


def revoke_device(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, set())
    try:
        device = parse_key(params["device"])
    except ValueError:
        raise UnknownRecord(f"unknown device: {params['device']}") from None
    cut = rec.revoke_device(device)
    revoked = read_device(rec.node.docs.get(rec.node.ledger_id), key_text(device))
    return {**to_jsonable(revoked), "changes_kept": sum(cut.values())}


# --- confederations -----------------------------------------------------------------------


def share(body: Body, name: str, default: str, parse: Callable[[str], str]) -> str:
    value = text(body, name, default)
    try:
        return parse(value)
    except ValueError as exc:  # a string, but not a share the charter rules take
        raise RecordError(f"{name}: {exc}") from None


def found_confederation(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, {"name", "members", "member_confederations", "threshold", "qualified",
                       "assembly_quorum", "deadline_days", "protected", "date", "parity", "rotation"})
    try:
        rules = Rules(text(body, "name"), share(body, "threshold", "simple", parse_threshold),
                      share(body, "qualified", DEFAULT_QUALIFIED, parse_threshold),
                      share(body, "assembly_quorum", "0", lambda t: share_text(parse_share(t))),
                      count(body, "deadline_days") or 0, tuple(texts(body, "protected")))
        members = [key_text(resolve_assembly(rec.node, m)) for m in texts(body, "members")]
        confederations = [resolve_confederation(rec.node, c) for c in texts(body, "member_confederations")]
        founded = date(body, "date") if "date" in body else rec.today()
        if founded > rec.today():
            raise RecordError(f"the founding date {founded} is after today ({rec.today()})")
        charter = new_charter(founded, members, confederations, rules, body.get("parity"),
                              body.get("rotation"))
    except BadRequest:
        raise
    except ValueError as exc:  # the rules of charters, proposals and acts
        raise RecordError(str(exc)) from None
    return {"id": rec.found_confederation(charter)}


def accept_charter(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS)
    confederation = resolve_confederation(rec.node, params["confederation"])
    record = rec.node.docs.charter(confederation)
    name = confederation[:12] if record is None else record["rules"]["name"]
    return decision_result(rec, rec.accept_charter(confederation, decision_input(
        body, f"Acceptance of the charter of {name}")))


def amendment(value: Any) -> dict[str, Any]:
    raw = obj(value, "amendment")
    only_fields(raw, set(AMENDABLE), "amendment")
    out: dict[str, Any] = {}
    for name in AMENDABLE:
        if name not in raw:
            continue
        if name in ("threshold", "qualified"):
            out[name] = share(raw, name, "", parse_threshold)
        elif name == "assembly_quorum":
            out[name] = share(raw, name, "", lambda t: share_text(parse_share(t)))
        elif name == "deadline_days":
            out[name] = count(raw, name)
        elif name == "protected":
            out[name] = texts(raw, name)
        else:
            out[name] = text(raw, name)
    return out


def propose(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS | {"confederation", "kind", "subject", "amendment", "ratify"})
    ratify_too = body.get("ratify", False)
    if not isinstance(ratify_too, bool):
        raise BadRequest("ratify must be true or false")
    subject = optional_text(body, "subject")
    try:
        kind = ProposalKind(text(body, "kind", "policy"))
        if subject is not None and kind is not ProposalKind.COMMONS:  # commons: a record, by id
            subject = resolve_unit(rec.node, subject)
        proposal = ProposalBody(
            resolve_confederation(rec.node, text(body, "confederation")), kind, subject,
            None if body.get("amendment") is None else amendment(body["amendment"]))
    except (BadRequest, RecordError):
        raise
    except ValueError as exc:  # the rules of charters, proposals and acts
        raise RecordError(str(exc)) from None
    pid, ratification = rec.propose_and_ratify(proposal, decision_input(body), ratify_too)
    return {"id": pid, "decision": decision_result(rec, pid.partition("/")[2]),
            "ratification": None if ratification is None else decision_result(rec, ratification)}


def ratify(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS | {"supersedes"})
    pid = f"{key_text(resolve_assembly(rec.node, params['assembly']))}/{params['decision']}"
    if not PROPOSAL_ID_RE.match(pid):
        raise UnknownRecord(f"not a proposal id: {pid}")
    proposer, _, decision_id = pid.partition("/")
    put = held_decision(rec.node, ledger_id(parse_key(proposer)), decision_id)
    title = f"Ratification of {put.title}" if put else f"Ratification of {pid}"
    return decision_result(rec, rec.ratify(pid, decision_input(body, title)))


def delegate_act(rec: Recorder, params: Params, body: Body) -> Result:
    """An act under a mandate naming this device's key (a delegate's own device)."""
    only_fields(body, {"kind", "mandate", "date", "proposal", "position", "indicative", "text"})
    try:
        kind = ActKind(text(body, "kind"))
        is_vote = kind is ActKind.VOTE
        on_proposal = kind in (ActKind.VOTE, ActKind.WITHDRAW)
        indicative = body.get("indicative", False)
        if not isinstance(indicative, bool):
            raise BadRequest("indicative must be true or false")
        act = Act(new_record_id(), kind, date(body, "date") if "date" in body else rec.today(),
                  resolve_proposal(rec.node, text(body, "proposal")) if on_proposal else None,
                  Position(text(body, "position")) if is_vote else None,
                  (Binding.INDICATIVE if indicative else Binding.IMPERATIVE) if is_vote else None,
                  "" if on_proposal else text(body, "text", ""))
    except (BadRequest, RecordError):
        raise
    except ValueError as exc:  # the rules of charters, proposals and acts
        raise RecordError(str(exc)) from None
    return {"id": rec.delegate_act(optional_text(body, "mandate"), act)}


# --- peers -------------------------------------------------------------------------------


def peer_url(body: Body) -> str:
    only_fields(body, {"url"})
    url = text(body, "url")
    try:
        return normalize_url(url)
    except ValueError as exc:  # a string, but no address a peer can have
        raise RecordError(str(exc)) from None


def add_peer(rec: Recorder, params: Params, body: Body) -> Result:
    url = peer_url(body)
    return {"url": url, "added": PeerBook(rec.node.store).add(url, "added", time.time())}


def remove_peer(rec: Recorder, params: Params, body: Body) -> Result:
    url = peer_url(body)
    if not PeerBook(rec.node.store).remove(url):
        raise UnknownRecord(f"{url} is not a peer")
    return {"url": url, "removed": True}


@dataclass(frozen=True)
class Write:
    """One write: its name for the CLI, its path under /api/v1 and what it does."""

    name: str
    path: str
    run: Callable[[Recorder, Params, Body], Result]

    def url_path(self, params: Params) -> str:
        return self.path.format(**{k: quote(v, safe="") for k, v in params.items()})


WRITES = {w.name: w for w in (
    Write("decide", "/decisions", decide),
    Write("bylaws", "/bylaws", adopt_bylaws),
    Write("reopen", "/decisions/{decision}/reopen", reopen_decision),
    Write("mandate-issue", "/mandates", issue_mandate),
    Write("mandate-recall", "/mandates/{mandate}/recall", recall_mandate),
    Write("device-add", "/devices", add_device),
    Write("device-revoke", "/devices/{device}/revoke", revoke_device),
    Write("confed-create", "/confederations", found_confederation),
    Write("confed-accept", "/confederations/{confederation}/accept", accept_charter),
    Write("propose", "/proposals", propose),
    Write("ratify", "/proposals/{assembly}/{decision}/ratify", ratify),
    Write("delegate-act", "/acts", delegate_act),
    Write("sortition-draw", "/draws", declare),
    Write("sortition-commit", "/draws/{assembly}/{decision}/commit", commit),
    Write("sortition-reveal", "/draws/{assembly}/{decision}/reveal", reveal),
    Write("peers-add", "/peers", add_peer),
    Write("peers-remove", "/peers/remove", remove_peer),
    *(Write(name, path, run) for name, path, run in economy_writes()),
)}
