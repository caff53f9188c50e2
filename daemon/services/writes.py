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

from pnyx.federation.charter import (
    AMENDABLE,
    CHARTER_ID_RE,
    DEFAULT_QUALIFIED,
    Rules,
    new_charter,
    parse_share,
    parse_threshold,
    share_text,
)
from pnyx.federation.confed import PROPOSAL_ID_RE, Act, ActKind, ProposalBody, ProposalKind
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.ledger import Binding, Position

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
    today,
)
from .economy import economy_writes
from .jsonable import to_jsonable
from .records import Recorder, RecordError, UnknownRecord, new_record_id

Params = Mapping[str, str]
Result = dict[str, Any]


def as_result(record: Any) -> Result:
    out: Result = to_jsonable(record)
    return out


def decision_result(rec: Recorder, decision_id: str) -> Result:
    """A decision just recorded, shaped as GET /decisions gives it (nothing supersedes it yet)."""
    return {**as_result(rec.ledger().decisions[decision_id]), "superseded": False}


# --- this assembly's ledger ----------------------------------------------------------------


def decide(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS | {"supersedes"})
    return decision_result(rec, rec.decide(decision_input(body)))


def issue_mandate(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS | {"delegate", "delegate_key", "council", "term_from",
                                         "term_until", "instructions"})
    delegate = text(body, "delegate")
    delegate_key = optional_text(body, "delegate_key")
    if delegate_key is not None:
        key(delegate_key, "delegate_key")
    raw = body.get("instructions", [])
    if not isinstance(raw, list):
        raise BadRequest("instructions must be a list")
    mandate_id = rec.issue_mandate(
        decision_input(body, f"Mandate for {delegate}"), delegate, delegate_key,
        text(body, "council"), date(body, "term_from"), date(body, "term_until"),
        tuple(instruction(item, n) for n, item in enumerate(raw)))
    return as_result(rec.ledger().mandates[mandate_id])


def recall_mandate(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS)
    mandate_id = params["mandate"]
    return decision_result(
        rec, rec.recall_mandate(mandate_id, decision_input(body, f"Recall of mandate {mandate_id}")))


def add_device(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, {"key", "label"})
    device = key(text(body, "key"), "key")
    rec.add_device(device, text(body, "label", ""))
    return as_result(rec.ledger().devices[key_text(device)])


def revoke_device(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, set())
    try:
        device = parse_key(params["device"])
    except ValueError:
        raise UnknownRecord(f"unknown device: {params['device']}") from None
    cut = rec.revoke_device(device)
    return {**to_jsonable(rec.ledger().devices[key_text(device)]), "changes_kept": sum(cut.values())}


# --- confederations -----------------------------------------------------------------------


def charter_id(text_: str) -> str:
    if not CHARTER_ID_RE.match(text_):
        raise UnknownRecord(f"not a confederation id (64 hex digits): {text_}")
    return text_


def share(body: Body, name: str, default: str, parse: Callable[[str], str]) -> str:
    value = text(body, name, default)
    try:
        return parse(value)
    except ValueError as exc:  # a string, but not a share the charter rules take
        raise RecordError(f"{name}: {exc}") from None


def found_confederation(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, {"name", "members", "member_confederations", "threshold", "qualified",
                       "assembly_quorum", "deadline_days", "protected", "date"})
    try:
        rules = Rules(text(body, "name"), share(body, "threshold", "simple", parse_threshold),
                      share(body, "qualified", DEFAULT_QUALIFIED, parse_threshold),
                      share(body, "assembly_quorum", "0", lambda t: share_text(parse_share(t))),
                      count(body, "deadline_days") or 0, tuple(texts(body, "protected")))
        charter = new_charter(date(body, "date") if "date" in body else today(),
                              texts(body, "members"), texts(body, "member_confederations"), rules)
    except BadRequest:
        raise
    except ValueError as exc:  # the rules of charters, proposals and acts
        raise RecordError(str(exc)) from None
    return {"id": rec.found_confederation(charter)}


def accept_charter(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS)
    confederation = charter_id(params["confederation"])
    return decision_result(rec, rec.accept_charter(confederation, decision_input(
        body, f"Acceptance of the charter {confederation[:12]}")))


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
    only_fields(body, DECISION_FIELDS | {"confederation", "kind", "subject", "amendment"})
    try:
        proposal = ProposalBody(
            text(body, "confederation").removeprefix("charter/"), ProposalKind(text(body, "kind", "policy")),
            optional_text(body, "subject"),
            None if body.get("amendment") is None else amendment(body["amendment"]))
    except BadRequest:
        raise
    except ValueError as exc:  # the rules of charters, proposals and acts
        raise RecordError(str(exc)) from None
    pid = rec.propose(proposal, decision_input(body))
    return {"id": pid, "decision": decision_result(rec, pid.partition("/")[2])}


def ratify(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS | {"supersedes"})
    pid = f"{params['assembly']}/{params['decision']}"
    if not PROPOSAL_ID_RE.match(pid):
        raise UnknownRecord(f"not a proposal id: {pid}")
    return decision_result(rec, rec.ratify(pid, decision_input(body, f"Ratification of {pid}")))


def delegate_act(rec: Recorder, params: Params, body: Body) -> Result:
    """An act under a mandate naming this device's key (a delegate's own device)."""
    only_fields(body, {"kind", "mandate", "date", "proposal", "position", "indicative", "text"})
    try:
        kind = ActKind(text(body, "kind"))
        is_vote = kind is ActKind.VOTE
        indicative = body.get("indicative", False)
        if not isinstance(indicative, bool):
            raise BadRequest("indicative must be true or false")
        act = Act(new_record_id(), kind, date(body, "date") if "date" in body else today(),
                  text(body, "proposal") if is_vote else None,
                  Position(text(body, "position")) if is_vote else None,
                  (Binding.INDICATIVE if indicative else Binding.IMPERATIVE) if is_vote else None,
                  "" if is_vote else text(body, "text", ""))
    except BadRequest:
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
    Write("mandate-issue", "/mandates", issue_mandate),
    Write("mandate-recall", "/mandates/{mandate}/recall", recall_mandate),
    Write("device-add", "/devices", add_device),
    Write("device-revoke", "/devices/{device}/revoke", revoke_device),
    Write("confed-create", "/confederations", found_confederation),
    Write("confed-accept", "/confederations/{confederation}/accept", accept_charter),
    Write("propose", "/proposals", propose),
    Write("ratify", "/proposals/{assembly}/{decision}/ratify", ratify),
    Write("delegate-act", "/acts", delegate_act),
    Write("peers-add", "/peers", add_peer),
    Write("peers-remove", "/peers/remove", remove_peer),
    *(Write(name, path, run) for name, path, run in economy_writes()),
)}
