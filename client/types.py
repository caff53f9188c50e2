"""The JSON shapes of the local API (protocol-spec/openapi.yaml), as typed dicts."""

from __future__ import annotations

from typing import Any, TypedDict

# A tally as every part of the API writes and reads it ("for" is a Python keyword, hence
# the functional form).
Tally = TypedDict("Tally", {"for": int, "against": int, "abstain": int})


class Decision(TypedDict):
    id: str
    title: str
    text: str
    date: str
    tally: Tally
    quorum: int | None
    dissent: str
    supersedes: str | None
    superseded: bool
    kind: str
    subject: str | None
    bylaws: dict[str, Any] | None  # kind "bylaws": the keys it sets
    outcome: str  # adopted, rejected or no-quorum, under the bylaws in force at its date
    reason: str
    judged_by: str | None  # the bylaws decision that judged it; None: the default bylaws


class Instruction(TypedDict):
    question: str
    position: str
    binding: str


class Mandate(TypedDict):
    id: str
    delegate: str
    delegate_key: str | None
    council: str
    term_from: str
    term_until: str
    instructions: list[Instruction]
    decision: str
    issued: str | None  # the date of the issuing decision
    outcome: str | None  # of the issuing decision: only an adopted mandate confers anything
    recalled_by: str | None  # the adopted recall, if any


class Device(TypedDict):
    key: str
    label: str
    certificate: str
    revoked_cut: dict[str, int] | None


class Profile(TypedDict):
    assembly: str
    name: str
    place: str
    members: int | None


class Bylaws(TypedDict):
    """The bylaws in force on `as_of` (set by `decision`, None: the defaults) and every
    adopted change (protocol-spec/ledger.md "Bylaws and outcomes")."""

    in_force: dict[str, Any]
    decision: str | None
    as_of: str
    history: list[dict[str, Any]]
    ill_formed: dict[str, str]


class Ledger(TypedDict):
    assembly: str
    profile: Profile | None
    bylaws: Bylaws
    decisions: list[Decision]
    mandates: list[Mandate]
    totals: Totals
    delegates: Delegates
    devices: list[Device]
    void: list[VoidRecord]


class Delegates(TypedDict):
    """Every mandate of a ledger and the decisions that recalled them, whatever page of its
    decisions and mandates a Ledger lists: what a Delegates view shows beside the view."""

    mandates: list[Mandate]
    recalls: list[Decision]


class Totals(TypedDict):
    """How many decisions and mandates a ledger has, however many were listed."""

    decisions: int
    mandates: int


class VoidRecord(TypedDict):
    """A record left out of every read, and why (protocol-spec/ledger.md "Void records")."""

    id: str
    reason: str


class Flag(TypedDict):
    """A key that signed contradicting changes in one document, with the changes' hashes."""

    key: str
    doc: str
    reason: str
    changes: list[str]


class Assembly(TypedDict):
    key: str
    name: str | None
    place: str | None
    members: int | None
    this: bool


class Status(TypedDict, total=False):
    assembly: str
    assembly_name: str | None
    device: str
    documents: int
    changes: int
    pending: int
    evidence: int
    equivocations: list[Flag]
    as_of: str
    seqno: int


class Event(TypedDict):
    """One server-sent event: its type (`hello`, `records`), its id and its data."""

    type: str
    id: str | None
    data: dict[str, Any]


class Proposal(TypedDict, total=False):
    """A confederal proposal in the view (protocol-spec/view.md): `outcome` is open,
    adopted, rejected or lapsed; `tally` sums citizens' votes over the ratifying
    assemblies; `breakdown` has one row per assembly's ratification."""

    id: str
    confederation: str
    proposer: str
    kind: str
    title: str
    text: str
    date: str
    deadline: str
    decided_on: str | None
    outcome: str
    reason: str
    threshold: str
    tally: Tally
    breakdown: list[dict[str, Any]]
    members: int
    members_voted: int
    councils: list[dict[str, Any]]
    not_voted: list[str]
    tendency: list[dict[str, Any]]
    ignored: list[dict[str, Any]]


class Confederation(TypedDict, total=False):
    id: str
    founded: str
    rules: dict[str, Any]
    charter: dict[str, Any]
    members: list[dict[str, Any]]
    proposals: list[Proposal]
    ignored_proposals: list[dict[str, Any]]
    parity: dict[str, Any] | None  # per member assembly, whether its delegation meets the charter's
    rotation: dict[str, int] | None  # the charter's rotation for its council


class View(TypedDict):
    format: str
    as_of: str
    confederations: list[Confederation]
    mandates: list[dict[str, Any]]  # each with co_delegates, rotation, acts naming who acted (`by`)
    draws: list[dict[str, Any]]  # every draw by lot, with each person's chance


class EconomyRecord(TypedDict, total=False):
    """A need, offer, pledge, delivery or commons record (protocol-spec/economy.md): every
    record has `id`, `date`, `supersedes`, `withdrawn`; listed ones also `superseded`."""

    id: str
    confederation: str
    item: str
    quantity: int
    unit: str
    date: str
    supersedes: str | None
    withdrawn: bool
    superseded: bool


class PlanConfederation(TypedDict):
    """One confederation's plan: `members` says, per member assembly, whether its ledger is held
    and the date of its newest economy record held; `items` one line per item and unit."""

    id: str
    name: str
    members: list[dict[str, Any]]
    items: list[dict[str, Any]]
    commons: list[dict[str, Any]]
    ignored_commons: list[dict[str, Any]]


class Plan(TypedDict):
    format: str
    as_of: str
    confederations: list[PlanConfederation]
