"""The writes a client can ask for, from JSON bodies to one Recorder call each.

The local API (daemon/api.py) and the CLI (daemon/submit.py) both go through
this table: the CLI builds the same JSON body it would POST and, when no
daemon serves its data directory, runs the same operation on the store
itself. So a body is checked by the same code whichever way it arrives, and
the ledger rules themselves stay in daemon/records.py.

Bodies are JSON objects; unknown fields, wrong types and malformed dates are
a `BadRequest` (HTTP 400) naming the field. Unknown ids in the path are
`UnknownRecord` (404); a body that breaks a ledger rule is `RecordError` (422).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.ledger import Binding, Instruction, Position, Tally, parse_date, read_ledger

from .output import to_jsonable
from .records import DecisionInput, Recorder, UnknownRecord

Body = Mapping[str, Any]
Params = Mapping[str, str]
Result = dict[str, Any]


class BadRequest(ValueError):
    """A body that is not what the operation takes; nothing was written."""


# --- reading fields of a body -----------------------------------------------------------


def only_fields(body: Body, allowed: set[str], where: str = "body") -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadRequest(f"unknown field{'s' if len(unknown) > 1 else ''} in {where}: {', '.join(unknown)}")


def text(body: Body, name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if value is None:
        raise BadRequest(f"{name} is required")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    return value


def optional_text(body: Body, name: str) -> str | None:
    value = body.get(name)
    return None if value is None else text(body, name)


def count(body: Body, name: str, required: bool = True) -> int | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{name} must be a whole number")
    return value


def date(body: Body, name: str) -> dt.date:
    try:
        return parse_date(text(body, name))
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


def obj(value: Any, name: str) -> Body:
    if not isinstance(value, dict):
        raise BadRequest(f"{name} must be an object")
    return value


DECISION_FIELDS = {"title", "text", "date", "tally", "quorum", "dissent"}
TALLY_FIELDS = {"votes_for", "against", "abstain"}


def decision_input(body: Body, default_title: str | None = None) -> DecisionInput:
    tally = obj(body.get("tally"), "tally")
    only_fields(tally, TALLY_FIELDS, "tally")
    try:
        votes = Tally(*(count(tally, name) or 0 for name in ("votes_for", "against", "abstain")))
    except ValueError as exc:  # Tally's own rule: no negative votes
        raise BadRequest(str(exc)) from None
    return DecisionInput(
        title=text(body, "title", default_title), text=text(body, "text", ""), date=date(body, "date"),
        tally=votes, quorum=count(body, "quorum", required=False),
        dissent=text(body, "dissent", ""), supersedes=optional_text(body, "supersedes"))


def instruction(value: Any, n: int) -> Instruction:
    item = obj(value, f"instructions[{n}]")
    only_fields(item, {"question", "position", "binding"}, f"instructions[{n}]")
    try:
        return Instruction(text(item, "question"), Position(text(item, "position")),
                           Binding(text(item, "binding")))
    except ValueError as exc:
        raise BadRequest(f"instructions[{n}]: {exc}") from None


def key(value: str, name: str) -> bytes:
    try:
        return parse_key(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: {exc}") from None


# --- the operations ---------------------------------------------------------------------


def decide(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS | {"supersedes"})
    decision_id = rec.decide(decision_input(body))
    return to_jsonable(rec.ledger().decisions[decision_id])


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
    return to_jsonable(rec.ledger().mandates[mandate_id])


def recall_mandate(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, DECISION_FIELDS)
    mandate_id = params["mandate"]
    decision_id = rec.recall_mandate(mandate_id, decision_input(body, f"Recall of mandate {mandate_id}"))
    return to_jsonable(rec.ledger().decisions[decision_id])


def add_device(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, {"key", "label"})
    device = key(text(body, "key"), "key")
    rec.add_device(device, text(body, "label", ""))
    return to_jsonable(rec.ledger().devices[key_text(device)])


def revoke_device(rec: Recorder, params: Params, body: Body) -> Result:
    only_fields(body, set())
    try:
        device = parse_key(params["device"])
    except ValueError:
        raise UnknownRecord(f"unknown device: {params['device']}") from None
    cut = rec.revoke_device(device)
    return {**to_jsonable(rec.ledger().devices[key_text(device)]), "changes_kept": sum(cut.values())}


@dataclass(frozen=True)
class Write:
    """One write: its name for the CLI, its path under /api/v1 and what it does."""

    name: str
    path: str
    run: Callable[[Recorder, Params, Body], Result]

    def url_path(self, params: Params) -> str:
        from urllib.parse import quote

        return self.path.format(**{k: quote(v, safe="") for k, v in params.items()})


WRITES = {w.name: w for w in (
    Write("decide", "/decisions", decide),
    Write("mandate-issue", "/mandates", issue_mandate),
    Write("mandate-recall", "/mandates/{mandate}/recall", recall_mandate),
    Write("device-add", "/devices", add_device),
    Write("device-revoke", "/devices/{device}/revoke", revoke_device),
)}
