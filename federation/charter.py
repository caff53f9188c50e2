"""A confederation's charter: its founding text, decision rules, and how it is made.

The charter is one immutable change whose hash is the confederation's id
(`charter/<hash hex>`, protocol-spec/charter.md is normative). It names the
founding member assemblies (and member confederations, for nested councils),
the decision rules every confederal proposal is judged by, and the principles
that only a qualified majority may amend. Shares and thresholds are exact
fractions written as text ("2/3"), never floats, so that every machine
compares them the same way.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from automerge.core import ROOT, Document

from .amvalues import Plain, put_value
from .keys import parse_key
from .parity import parse_parity
from .rotation import parse_rotation

CHARTER_FORMAT = "pnyx/charter/v1"
SIMPLE = "simple"
DEFAULT_QUALIFIED = "2/3"
CHARTER_ID_RE = re.compile(r"^[0-9a-f]{64}$")
MAX_NAME_CHARS = 200
MAX_PRINCIPLE_CHARS = 2_000
MAX_LIST = 10_000


def parse_share(text: str) -> Fraction:
    """A share between 0 and 1 written "1/2", "0.5" or "1"; ValueError otherwise."""
    try:
        share = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"not a share (like 1/2 or 0.5): {text!r}") from None
    if not 0 <= share <= 1:
        raise ValueError(f"a share is between 0 and 1: {text!r}")
    return share


def share_text(share: Fraction) -> str:
    return f"{share.numerator}/{share.denominator}"


def parse_threshold(text: str) -> str:
    """`simple` (more for than against) or a qualified share above 1/2, canonically written."""
    if text.strip() == SIMPLE:
        return SIMPLE
    share = parse_share(text)
    if share <= Fraction(1, 2):
        raise ValueError(f"a qualified majority is more than 1/2: {text!r}")
    return share_text(share)


def threshold_met(threshold: str, votes_for: int, against: int) -> bool:
    """Simple: more for than against. A share p/q: for / (for + against) at least p/q."""
    if threshold == SIMPLE:
        return votes_for > against
    share = Fraction(threshold)
    return votes_for + against > 0 and votes_for >= share * (votes_for + against)


@dataclass(frozen=True)
class Rules:
    """What a confederal proposal is judged by; an adopted amendment replaces some of them."""

    name: str
    threshold: str  # "simple" or "p/q": ordinary proposals
    qualified: str  # "p/q": amendments of the charter and its protected principles
    assembly_quorum: str  # "p/q": share of member units that must have voted
    deadline_days: int
    protected: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.name.strip() or len(self.name) > MAX_NAME_CHARS:
            raise ValueError("a confederation needs a name of at most 200 characters")
        if parse_threshold(self.threshold) != self.threshold:
            raise ValueError(f"not a canonical threshold: {self.threshold!r}")
        if self.qualified == SIMPLE or parse_threshold(self.qualified) != self.qualified:
            raise ValueError(f"the qualified majority is a share above 1/2: {self.qualified!r}")
        if self.threshold != SIMPLE and Fraction(self.qualified) < Fraction(self.threshold):
            raise ValueError("the qualified majority cannot be below the ordinary threshold")
        if share_text(parse_share(self.assembly_quorum)) != self.assembly_quorum:
            raise ValueError(f"not a canonical share: {self.assembly_quorum!r}")
        if isinstance(self.deadline_days, bool) or not 1 <= self.deadline_days <= 3650:
            raise ValueError("the deadline is between 1 and 3650 days")
        if len(self.protected) > 100 or any(
                not p.strip() or len(p) > MAX_PRINCIPLE_CHARS for p in self.protected):
            raise ValueError("protected principles are non-empty texts")

    def plain(self) -> dict[str, Plain]:
        return {"name": self.name, "threshold": self.threshold, "qualified": self.qualified,
                "assembly_quorum": self.assembly_quorum, "deadline_days": self.deadline_days,
                "protected": list(self.protected)}

    def amended(self, amendment: dict[str, Any]) -> Rules:
        return rules_from_plain({**self.plain(), **amendment})


AMENDABLE = ("name", "threshold", "qualified", "assembly_quorum", "deadline_days", "protected")


def rules_from_plain(raw: Any) -> Rules:
    """Rules as written in a charter; ValueError or TypeError for anything else."""
    if not isinstance(raw, dict):
        raise ValueError("rules must be a map")
    protected = raw["protected"]
    if not isinstance(protected, list) or not all(isinstance(p, str) for p in protected):
        raise ValueError("protected principles are a list of texts")
    name, days = raw["name"], raw["deadline_days"]
    if not isinstance(name, str) or not isinstance(days, int):
        raise ValueError("name is a text and deadline_days an integer")
    return Rules(name, str(raw["threshold"]), str(raw["qualified"]), str(raw["assembly_quorum"]),
                 days, tuple(protected))


def amendment_from_plain(raw: Any, base: Rules) -> dict[str, Any]:
    """The fields an amendment changes, checked by applying them to `base`."""
    if not isinstance(raw, dict) or not raw or not set(raw) <= set(AMENDABLE):
        raise ValueError(f"an amendment changes some of {', '.join(AMENDABLE)}")
    rules_from_plain({**base.plain(), **raw})
    return {k: raw[k] for k in sorted(raw)}


@dataclass(frozen=True)
class Charter:
    id: str  # hex of the charter change's hash; "" before it is made
    founded: dt.date
    members: tuple[str, ...]  # founding member assemblies, key text
    confederations: tuple[str, ...]  # founding member confederations, charter ids
    rules: Rules
    parity: dict[str, Any] | None = None  # what each member's delegation must meet (parity.py)
    rotation: dict[str, Any] | None = None  # how long one person may hold a mandate to the council

    def plain(self) -> dict[str, Plain]:
        out: dict[str, Plain] = {"format": CHARTER_FORMAT, "founded": self.founded.isoformat(),
                                 "members": list(self.members),
                                 "confederations": list(self.confederations), "rules": self.rules.plain()}
        if self.parity is not None:
            out["parity"] = self.parity
        if self.rotation is not None:
            out["rotation"] = self.rotation
        return out


def new_charter(founded: dt.date, members: Sequence[str], confederations: Sequence[str],
                rules: Rules, parity: Plain = None, rotation: Plain = None) -> Charter:
    """A charter to be written; ValueError names a bad member or a repeated one."""
    for member in members:
        parse_key(member)
    for confederation in confederations:
        if not CHARTER_ID_RE.match(confederation):
            raise ValueError(f"not a confederation id (64 hex digits): {confederation!r}")
    if not members and not confederations:
        raise ValueError("a confederation needs at least one founding member")
    if len(set(members)) != len(members) or len(set(confederations)) != len(confederations):
        raise ValueError("a founding member is named twice")
    if len(members) + len(confederations) > MAX_LIST:
        raise ValueError("too many founding members")
    return Charter("", founded, tuple(sorted(members)), tuple(sorted(confederations)), rules,
                   parse_parity(parity), parse_rotation(rotation))


def charter_change(charter: Charter, actor: bytes) -> bytes:
    """The one change that founds a confederation, made on a fresh document by `actor`.

    Its hash names the confederation: the caller signs it for `charter/<hash hex>`."""
    doc = Document(actor)
    with doc.transaction() as tx:
        for key, value in charter.plain().items():
            put_value(tx, ROOT, key, value)
    (change,) = doc.get_changes([])
    return bytes(change.raw_bytes)


def read_charter(charter_id: str, raw: dict[str, Plain]) -> Charter:
    """A charter document's root as a Charter; ValueError if it is not one."""
    if raw.get("format") != CHARTER_FORMAT:
        raise ValueError("not a pnyx charter")
    members, confederations = raw["members"], raw["confederations"]
    if not isinstance(members, list) or not isinstance(confederations, list):
        raise ValueError("members are lists")
    founded = dt.date.fromisoformat(str(raw["founded"]))
    charter = new_charter(founded, [str(m) for m in members], [str(c) for c in confederations],
                          rules_from_plain(raw["rules"]), raw.get("parity"), raw.get("rotation"))
    return replace(charter, id=charter_id)

