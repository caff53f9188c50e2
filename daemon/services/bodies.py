"""Reading the JSON bodies of writes: typed fields, with a `BadRequest` naming the one that is wrong."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pnyx.federation.keys import parse_key
from pnyx.federation.ledger import Binding, Instruction, Position, Tally, parse_date

from .records import DecisionInput

Body = Mapping[str, Any]


class BadRequest(ValueError):
    """A body that is not what the operation takes; nothing was written."""


def today() -> dt.date:
    """The day a write is dated when its body names none (UTC)."""
    return dt.datetime.now(dt.timezone.utc).date()


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
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON does not tell 3 from 3.0
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{name} must be a whole number")
    return value


def texts(body: Body, name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{name} must be a list of strings")
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
