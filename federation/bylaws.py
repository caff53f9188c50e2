"""An assembly's bylaws through time, and the outcome of every decision of its ledger.

protocol-spec/ledger.md "Bylaws and outcomes" is normative. An assembly adopts
and amends its bylaws by decisions of kind `bylaws`, each carrying a `bylaws`
map of the keys it sets; keys it does not name keep their value. A bylaws
decision dated d that is adopted governs the decisions dated after d, so the
order of judging is well founded: every decision is judged by the bylaws in
force the day it was taken, never by later ones.

Every decision has an outcome: `no-quorum` if fewer members were present than
the bylaws require, else `adopted` if its tally meets the decision rule, else
`rejected`. Only adopted decisions take effect (a rejected recall recalls
nothing, a rejected mandate confers nothing); the others are kept with their
tally and dissent.

The bylaws map is extensible: `FIELDS` is the table of keys this version
reads (issue 15 adds rotation, parity, reopening there). Keys a reader does
not know are kept as they are in `Bylaws.other`, shown, and change no outcome
this version computes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from .amvalues import Plain
from .charter import SIMPLE, parse_share, parse_threshold, threshold_met
from .ledger import Decision, Ledger, Tally
from .rotation import parse_rotation

BYLAWS = "bylaws"  # the decision kind that adopts or amends the bylaws
RECALL = "recall"
MAX_COUNT = 10**9  # votes, members: far above any assembly, far below Automerge's int64


class Outcome(str, Enum):
    ADOPTED = "adopted"
    REJECTED = "rejected"
    NO_QUORUM = "no-quorum"


def _rule(value: Plain) -> str:
    try:
        if isinstance(value, str) and parse_threshold(value) == value:
            return value
    except ValueError:
        pass
    raise ValueError(f"rule: `simple` or a share above 1/2 in lowest terms (2/3), not {value!r}")


def _count(name: str, least: int) -> Callable[[Plain], int | None]:
    def parse(value: Plain) -> int | None:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not least <= value <= MAX_COUNT:
            raise ValueError(f"{name}: a whole number from {least}, or null, not {value!r}")
        return value
    return parse


BY_SHARE, BY_DISSENT = "share", "dissent"  # how a minority may reopen a decision (reopening.py)
MAX_DAYS = 3650


def _reopening(value: Plain) -> dict[str, Any] | None:
    """The bylaws' `reopening` map, checked; null removes the right to reopen by these rules."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or not value or set(value) - {BY_SHARE, "dissent_days"}:
        raise ValueError("reopening: a map of `share` (p/q of the members) and/or `dissent_days`")
    out: dict[str, Any] = {}
    if BY_SHARE in value:
        share = value[BY_SHARE]
        if not isinstance(share, str):
            raise ValueError(f"reopening.share: a share such as 1/3, not {share!r}")
        parsed = parse_share(share)
        if not 0 < parsed <= 1:
            raise ValueError(f"reopening.share: above 0 and at most 1, not {share!r}")
        out[BY_SHARE] = f"{parsed.numerator}/{parsed.denominator}"
    if "dissent_days" in value:
        days = value["dissent_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
            raise ValueError(f"reopening.dissent_days: a whole number from 1 to {MAX_DAYS}, not {days!r}")
        out["dissent_days"] = days
    return out


# The keys of a `bylaws` map this version reads: name -> parser (ValueError if ill-formed).
# A rule added later (rotation, parity, reopening) is one more row and one more field.
FIELDS: dict[str, Callable[[Plain], Any]] = {
    "rule": _rule,  # "simple" (more for than against) or "p/q": for >= p/q of (for + against)
    "quorum": _count("quorum", 0),  # least members present, or null: no quorum
    "members": _count("members", 1),  # the number of members, or null: unknown
    "reopening": _reopening,  # what a minority needs to reopen a decision, or null: nothing
    "rotation": parse_rotation,  # how long one person may hold a mandate to one council, or null
}


@dataclass(frozen=True)
class Bylaws:
    rule: str = SIMPLE
    quorum: int | None = None
    members: int | None = None
    other: dict[str, Plain] = field(default_factory=dict)  # keys this version does not read
    reopening: dict[str, Any] | None = None  # what a minority needs to reopen (reopening.py)
    rotation: dict[str, Any] | None = None  # how long one may hold a mandate (rotation.py)

    def amended(self, changes: Mapping[str, Plain]) -> Bylaws:
        """These bylaws with the keys of a `bylaws` map set; ValueError if one is ill-formed."""
        if not isinstance(changes, Mapping) or not changes:
            raise ValueError("a bylaws map sets at least one key")
        known = {k: FIELDS[k](v) for k, v in changes.items() if k in FIELDS}
        unknown = {k: v for k, v in changes.items() if k not in FIELDS}
        return replace(self, **known, other={**self.other, **unknown})

    def plain(self) -> dict[str, Plain]:
        shown = {k: v for k, v in (("reopening", self.reopening), ("rotation", self.rotation))
                 if v is not None}
        return {**self.other, "rule": self.rule, "quorum": self.quorum, "members": self.members, **shown}


def outcome(tally: Tally, present: int | None, bylaws: Bylaws) -> tuple[Outcome, str]:
    """A decision's outcome under `bylaws`, and why. Those who voted were present, whatever
    `present` says."""
    cast = tally.votes_for + tally.against + tally.abstain
    there = max(present or 0, cast)
    if bylaws.quorum is not None and there < bylaws.quorum:
        return Outcome.NO_QUORUM, f"{there} members present; the bylaws require {bylaws.quorum}"
    rule = ("more for than against" if bylaws.rule == SIMPLE
            else f"for at least {bylaws.rule} of for and against")
    if threshold_met(bylaws.rule, tally.votes_for, tally.against):
        return Outcome.ADOPTED, rule
    return Outcome.REJECTED, f"not {rule}"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    bylaws: str | None  # the bylaws decision whose bylaws judged it; None: the defaults


@dataclass(frozen=True)
class Judged:
    """Every decision of one ledger judged, with the bylaws through time."""

    verdicts: dict[str, Verdict]
    history: tuple[tuple[dt.date, str | None, Bylaws], ...]  # (in force after, decision, bylaws)
    ill_formed: dict[str, str]  # adopted bylaws decisions whose map could not be read: why

    def bylaws_at(self, day: dt.date) -> tuple[str | None, Bylaws]:
        """The bylaws in force for a decision dated `day`, and the decision that set them."""
        found = [(d, b) for since, d, b in self.history if since < day]
        return found[-1]

    def adopted(self, decision_id: str | None) -> bool:
        verdict = self.verdicts.get(decision_id or "")
        return verdict is not None and verdict.outcome is Outcome.ADOPTED

    def recalls(self, ledger: Ledger) -> dict[str, Decision]:
        """mandate id -> its adopted recall in force: the earliest by (date, id)."""
        superseded = ledger.superseded()
        out: dict[str, Decision] = {}
        for d in sorted(ledger.decisions.values(), key=lambda d: (d.date, d.id)):
            if d.kind == RECALL and d.subject and d.id not in superseded and self.adopted(d.id):
                out.setdefault(d.subject, d)
        return out

    def recall_of(self, ledger: Ledger, mandate_id: str) -> Decision | None:
        return self.recalls(ledger).get(mandate_id)


def judge(ledger: Ledger) -> Judged:
    """Judge every decision of `ledger` in order of (date, id) by the bylaws in force."""
    members = ledger.profile.members if ledger.profile else None
    default = Bylaws(members=members if members is None or members >= 1 else None)
    history: list[tuple[dt.date, str | None, Bylaws]] = [(dt.date.min, None, default)]
    verdicts: dict[str, Verdict] = {}
    ill_formed: dict[str, str] = {}
    for d in sorted(ledger.decisions.values(), key=lambda d: (d.date, d.id)):
        source, bylaws = [(s, b) for since, s, b in history if since < d.date][-1]
        result, reason = outcome(d.tally, d.quorum, bylaws)
        verdicts[d.id] = Verdict(result, reason, source)
        if d.kind != BYLAWS or result is not Outcome.ADOPTED:
            continue
        try:
            history.append((d.date, d.id, history[-1][2].amended(d.bylaws or {})))
        except (TypeError, ValueError) as exc:
            ill_formed[d.id] = str(exc)
    return Judged(verdicts, tuple(history), ill_formed)
