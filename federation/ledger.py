"""The assembly ledger: its document schema and its records as typed values.

Layout of `ledger/<assembly key>` (protocol-spec/ledger.md is normative):
root maps `profile`, `devices`, `decisions`, `mandates` and the economy's
collections (federation/economy.py), each keyed by id so
that two devices recording offline never conflict; the genesis change creates
them all, so no device ever creates one concurrently with another. Decisions are superseded,
never deleted; a recall is a decision that names the mandate it ends.
Readers are defensive: an entry that does not fit the schema is skipped, so a
well-signed but ill-formed record can never stop a ledger from being read.
Records a revoked device wrote outside its revocation's cut are void: every
read leaves them out (`Ledger.void` says why), whatever order the changes
arrived in. A mandate's recall is the recall decision naming it: records never
change once written (federation/writerules.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, TypeVar

from automerge.core import ROOT, Document, Transaction

from .amvalues import Plain, ensure_map, entry_ids, object_op, put_value, read_entry, read_map
from .bounded import keep, make_room
from .docids import RECORD_ALPHABET, RECORD_ID_CHARS
from .envelope import ACTOR_BYTES
from .keys import KEY_BYTES, SigningKey, key_text, parse_key, verify_signature

T = TypeVar("T")
DEVICE_DOMAIN = b"pnyx/device/v1"
REVOKE_DOMAIN = b"pnyx/revoke/v1"
MAX_TEXT_CHARS: Final = 20_000  # Final: compiled, read directly, not from the module's dict
DATE_RE = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")
ACTOR_HEX_RE = re.compile(f"[0-9a-f]{{{2 * ACTOR_BYTES}}}")


class Position(str, Enum):
    FOR = "for"
    AGAINST = "against"
    ABSTAIN = "abstain"


class Binding(str, Enum):
    IMPERATIVE = "imperative"
    INDICATIVE = "indicative"


@dataclass(frozen=True)
class Profile:
    assembly: str
    name: str
    place: str
    members: int | None


# Tally and Decision are built for every decision an index reads (decision_of). Their
# __init__ is written out, not generated: compiled, it stores each field directly (0.04 us
# for a Tally), where the generated one runs as Python, calling object.__setattr__ for each
# field (0.6 us for a Tally, 1.7 for a Decision, measured). They stay frozen dataclasses
# (fields, eq, repr, replace): the parameters are the fields, in order, with their defaults.


@dataclass(frozen=True, init=False)
class Tally:
    votes_for: int
    against: int
    abstain: int

    def __init__(self, votes_for: int, against: int, abstain: int) -> None:
        if votes_for < 0 or against < 0 or abstain < 0:
            raise ValueError("a tally cannot be negative")
        object.__setattr__(self, "votes_for", votes_for)
        object.__setattr__(self, "against", against)
        object.__setattr__(self, "abstain", abstain)


@dataclass(frozen=True, init=False)
class Decision:
    id: str
    title: str
    text: str
    date: dt.date
    tally: Tally
    quorum: int | None
    dissent: str
    supersedes: str | None
    kind: str  # "decision", "mandate", "recall", "bylaws", or a confederal kind (confed.py)
    subject: str | None  # the mandate, charter or proposal the decision is about
    bylaws: dict[str, Any] | None = None  # kind "bylaws": the keys it sets (federation/bylaws.py)
    sortition: dict[str, Any] | None = None  # kind "sortition": the draw it declares (draws.py)
    reopening: dict[str, Any] | None = None  # kind "reopening": the condition it claims (reopening.py)
    revote_of: str | None = None  # the reopening this new vote answers (reopening.py)

    def __init__(self, id: str, title: str, text: str, date: dt.date, tally: Tally,
                 quorum: int | None, dissent: str, supersedes: str | None, kind: str,
                 subject: str | None, bylaws: dict[str, Any] | None = None,
                 sortition: dict[str, Any] | None = None, reopening: dict[str, Any] | None = None,
                 revote_of: str | None = None) -> None:
        object.__setattr__(self, "id", id)
        object.__setattr__(self, "title", title)
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "date", date)
        object.__setattr__(self, "tally", tally)
        object.__setattr__(self, "quorum", quorum)
        object.__setattr__(self, "dissent", dissent)
        object.__setattr__(self, "supersedes", supersedes)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "subject", subject)
        object.__setattr__(self, "bylaws", bylaws)
        object.__setattr__(self, "sortition", sortition)
        object.__setattr__(self, "reopening", reopening)
        object.__setattr__(self, "revote_of", revote_of)


@dataclass(frozen=True)
class Instruction:
    question: str
    position: Position
    binding: Binding


@dataclass(frozen=True)
class Mandate:
    id: str
    delegate: str
    delegate_key: str | None
    council: str
    term_from: dt.date
    term_until: dt.date
    instructions: tuple[Instruction, ...]
    decision: str
    recalled_by: str | None  # read: the first recall decision naming the mandate
    attributes: dict[str, str] | None = None  # what the assembly declares of the delegate (parity)
    co_delegates: tuple[CoDelegate, ...] = ()  # who act together with the delegate

    def writers(self) -> list[str]:
        """The keys that may write this mandate's log: the delegate's, then each co-delegate's."""
        return [k for k in (self.delegate_key, *(c.delegate_key for c in self.co_delegates)) if k]


@dataclass(frozen=True)
class CoDelegate:
    """A further delegate of one mandate (co-chairs, co-spokespeople), with a key and attributes."""

    delegate: str
    delegate_key: str | None
    attributes: dict[str, str]


@dataclass(frozen=True)
class Device:
    key: str
    label: str
    certificate: bytes
    revoked_cut: dict[str, int] | None  # actor hex -> last seq accepted, once revoked


@dataclass(frozen=True)
class Ledger:
    profile: Profile | None
    devices: dict[str, Device]
    decisions: dict[str, Decision]
    mandates: dict[str, Mandate]
    void: dict[str, str] = dataclasses.field(default_factory=dict)  # record id -> why it is void

    def superseded(self) -> set[str]:
        return {d.supersedes for d in self.decisions.values() if d.supersedes}


def parse_date(text: str) -> dt.date:
    """ISO date YYYY-MM-DD exactly; ValueError says what a user typed wrong.

    Only this one form: Python 3.11 and later also read 20261120 or 2026-W47-5, and a
    ledger must read the same on every machine, whatever its Python. Each date read is
    remembered (a bounded memo of the valid ones: records of a ledger share few dates), as
    an index reads one for every decision it stores: the regex and fromisoformat cost 3.4k
    instructions a decision (callgrind), the lookup a tenth of that."""
    found = _DATES.get(text) if isinstance(text, str) else None
    if found is not None:
        return found
    try:
        if DATE_RE.fullmatch(text):
            return keep(_DATES, text, dt.date.fromisoformat(text), MAX_DATES)
    except (ValueError, TypeError):
        pass
    raise ValueError(f"not a date (YYYY-MM-DD): {str(text)[:40]!r}")


_DATES: Final[dict[str, dt.date]] = {}  # dates parsed, by their text (only valid ones)
MAX_DATES: Final = 4096


# --- device certificates -------------------------------------------------------------


def certificate_input(assembly: bytes, device: bytes) -> bytes:
    return DEVICE_DOMAIN + assembly + device


def revocation_input(assembly: bytes, device: bytes, cut: Mapping[str, int]) -> bytes:
    body = ";".join(f"{actor}={seq}" for actor, seq in sorted(cut.items()))
    return REVOKE_DOMAIN + assembly + device + body.encode("ascii")


@functools.lru_cache(maxsize=4096)
def _assembly_signed(assembly: bytes, signature: bytes, message: bytes) -> bool:
    """verify_signature, remembered: every change a device writes checks its certificate again."""
    return verify_signature(assembly, signature, message)


def certificate_valid(assembly: bytes, device: bytes, entry: Plain) -> bool:
    """Whether a `devices` entry carries the assembly key's certificate for `device`."""
    if not isinstance(entry, dict) or not isinstance(entry.get("certificate"), bytes):
        return False
    return _assembly_signed(assembly, entry["certificate"], certificate_input(assembly, device))


def revocation_cut(assembly: bytes, device: bytes, entry: Plain) -> dict[str, int] | None:
    """The validly signed revocation cut of a `devices` entry, if it has one."""
    if not isinstance(entry, dict):
        return None
    revoked = entry.get("revoked")
    if not isinstance(revoked, dict) or not isinstance(revoked.get("signature"), bytes):
        return None
    cut = revoked.get("cut")
    if not isinstance(cut, dict) or not all(_cut_entry(a, s) for a, s in cut.items()):
        return None
    if not _assembly_signed(assembly, revoked["signature"], revocation_input(assembly, device, cut)):
        return None
    return dict(cut)


# Every map key on the path to what a `devices` entry says about certification and
# revocation: the map itself, the entry's `certificate` and `revoked`, the revocation's
# `cut` and `signature`, a device's text form (52 base32 characters) and an actor in a
# cut (80 hex digits), both runs of at least 52 of [0-9a-z]. A change writes a map key as
# its literal UTF-8 bytes (string columns are never compressed inside a change, chunk.py),
# so a change whose canonical chunk holds none of these writes nothing on that path.
_DEVICE_PATH_WORDS = (b"devices", b"certificate", b"revoked", b"cut", b"signature")
_KEY_RUN = 52
_KEY_CHARS = bytes(ord("k") if chr(b) in "0123456789abcdefghijklmnopqrstuvwxyz" else ord(".")
                   for b in range(256))


def may_change_devices(raw_chunk: bytes, deps: int) -> bool:
    """Whether the `devices` map as of this ledger change alone can differ from the map as of
    its dependency. False only for a change with exactly one dependency that writes no key
    on a device entry's path; true for a genesis and for a merge of several branches, whose
    merged state no single held change had. Lets the daemon reuse a device entry read
    (certificate and revocation) for the states after, reading again only where it may
    have changed."""
    return (deps != 1 or any(word in raw_chunk for word in _DEVICE_PATH_WORDS)
            or b"k" * _KEY_RUN in raw_chunk.translate(_KEY_CHARS))


def _cut_entry(actor: object, seq: object) -> bool:
    """An actor id in lowercase hex and a seq: anything else cannot be encoded in the signed
    input (or could be read two ways), so a cut holding it is no revocation at all."""
    return (isinstance(actor, str) and ACTOR_HEX_RE.fullmatch(actor) is not None
            and isinstance(seq, int) and not isinstance(seq, bool) and seq >= 0)


def device_entry(doc: Document, device: bytes, heads: list[bytes] | None = None) -> Plain:
    return read_entry(doc, "devices", key_text(device), heads)


# --- writing ---------------------------------------------------------------------------


# Top-level maps of a ledger. The genesis change creates every one of them: two devices
# that each created a missing map offline would make two conflicting maps under one key,
# and Automerge would show only one of them, hiding the other device's records.
# The economy's collections (federation/economy.py): needs, offers, pledges, deliveries, commons.
ECONOMY_COLLECTIONS = ("needs", "offers", "pledges", "deliveries", "commons")
# "sortition": the commitments and reveals of draws by lot (federation/draws.py).
COLLECTIONS: tuple[str, ...] = ("devices", "decisions", "mandates", *ECONOMY_COLLECTIONS, "sortition")


def write_genesis(tx: Transaction, profile: Profile) -> None:
    """The first change of a ledger: the profile and every collection, empty."""
    write_profile(tx, profile)
    for name in COLLECTIONS:
        ensure_map(tx, name)


def write_profile(tx: Transaction, profile: Profile) -> None:
    put_value(tx, ROOT, "profile", {
        "assembly": profile.assembly, "name": profile.name, "place": profile.place,
        "members": profile.members,
    })


def write_device(tx: Transaction, assembly_key: SigningKey, device: bytes, label: str) -> None:
    devices = ensure_map(tx, "devices")
    put_value(tx, devices, key_text(device), {
        "label": label,
        "certificate": assembly_key.sign(certificate_input(assembly_key.public, device)),
    })


def write_revocation(tx: Transaction, assembly_key: SigningKey, device: bytes,
                     cut: Mapping[str, int]) -> None:
    found = tx.get(ensure_map(tx, "devices"), key_text(device))
    if found is None:
        raise ValueError(f"unknown device {key_text(device)}")
    put_value(tx, found[1], "revoked", {
        "cut": dict(cut),
        "signature": assembly_key.sign(revocation_input(assembly_key.public, device, cut)),
    })


def write_decision(tx: Transaction, decision: Decision) -> None:
    put_value(tx, ensure_map(tx, "decisions"), decision.id, _decision_plain(decision))


def write_mandate(tx: Transaction, mandate: Mandate) -> None:
    put_value(tx, ensure_map(tx, "mandates"), mandate.id, {
        "delegate": mandate.delegate, "delegate_key": mandate.delegate_key,
        "council": mandate.council, "term_from": mandate.term_from.isoformat(),
        "term_until": mandate.term_until.isoformat(),
        "instructions": [{"question": i.question, "position": i.position.value,
                          "binding": i.binding.value} for i in mandate.instructions],
        "decision": mandate.decision,
        **({"attributes": dict(mandate.attributes)} if mandate.attributes else {}),
        **({"co_delegates": [{"delegate": c.delegate, "delegate_key": c.delegate_key,
                              "attributes": dict(c.attributes)} for c in mandate.co_delegates]}
           if mandate.co_delegates else {}),
    })


def _decision_plain(d: Decision) -> dict[str, Plain]:
    plain: dict[str, Plain] = {
        "title": d.title, "text": d.text, "date": d.date.isoformat(),
        "for": d.tally.votes_for, "against": d.tally.against, "abstain": d.tally.abstain,
        "quorum": d.quorum, "dissent": d.dissent, "supersedes": d.supersedes,
        "kind": d.kind, "subject": d.subject,
    }
    if d.bylaws is not None:
        plain["bylaws"] = d.bylaws
    if d.sortition is not None:
        plain["sortition"] = d.sortition
    if d.reopening is not None:
        plain["reopening"] = d.reopening
    if d.revote_of is not None:
        plain["revote_of"] = d.revote_of
    return plain


# --- reading ---------------------------------------------------------------------------


def read_ledger(doc: Document) -> Ledger:
    devices = read_devices(doc)
    void: dict[str, str] = {}
    revoked = _revoked(doc, devices)
    return ledger_of(read_profile(doc), devices, _valid(doc, "decisions", revoked, void),
                     _valid(doc, "mandates", revoked, void), void)


def ledger_of(profile: Profile | None, devices: dict[str, Device], decisions_raw: dict[str, Plain],
              mandates_raw: dict[str, Plain], void: dict[str, str]) -> Ledger:
    """A Ledger from the plain entries of `decisions` and `mandates` that are not void, as
    read_ledger reads a document; also what the daemon's index of records (or a part of it,
    daemon/store/ledgerindex.py) gives, so both readers build records the same way."""
    decisions = _entries(decisions_raw, _decision)
    mandates = _entries(mandates_raw, _mandate)
    recalls = sorted((d.date, d.id, d.subject) for d in decisions.values() if d.kind == "recall")
    recalled_by: dict[str, str] = {}
    for _, decision_id, subject in recalls:
        if subject is not None:
            recalled_by.setdefault(subject, decision_id)
    mandates = {k: dataclasses.replace(m, recalled_by=recalled_by.get(k)) for k, m in mandates.items()}
    return Ledger(profile, devices, decisions, mandates, void)


# --- void records ------------------------------------------------------------------------


@dataclass(frozen=True)
class Revoked:
    """Revoked devices and, per actor of theirs, the last op counter inside the cut."""

    devices: dict[bytes, str]  # device key -> the reason its void records give
    inside: dict[bytes, int]  # actor -> max_op of its last change inside the cut

    def void(self, actor: bytes, counter: int) -> str | None:
        reason = self.devices.get(actor[:KEY_BYTES])
        return reason if reason is not None and counter > self.inside.get(actor, 0) else None


def _revoked(doc: Document, devices: dict[str, Device]) -> Revoked:
    """The validly revoked devices of the ledger and where their cuts end in op counters.

    The assembly key is the genesis's signer (its actor begins with it, rule E3). An
    actor's op counters grow with its seq (rules S4, S5), so "seq beyond the cut" is
    "counter beyond the max_op of the cut's last change" for every op the actor made."""
    if all(device.revoked_cut is None for device in devices.values()):
        return Revoked({}, {})
    heads = tuple(sorted(bytes(h) for h in doc.get_heads()))
    if heads not in _REVOKED_AT:  # heads name a whole history: the same answer for good
        make_room(_REVOKED_AT, 64)
        _REVOKED_AT[heads] = _revoked_in(doc, devices)
    return _REVOKED_AT[heads]


_REVOKED_AT: dict[tuple[bytes, ...], Revoked] = {}


def _revoked_in(doc: Document, devices: dict[str, Device]) -> Revoked:
    changes = doc.get_changes([])
    assembly = next((bytes(c.actor_id)[:KEY_BYTES] for c in changes if not c.deps), b"")
    cuts = {}
    for key, device in devices.items():
        if device.revoked_cut is not None:
            cut = revocation_cut(assembly, parse_key(key), read_entry(doc, "devices", key))
            if cut is not None:
                cuts[parse_key(key)] = cut
    inside: dict[bytes, int] = {}
    for change in changes:
        actor = bytes(change.actor_id)
        cut = cuts.get(actor[:KEY_BYTES])
        if cut is not None and change.seq <= cut.get(actor.hex(), 0):
            inside[actor] = max(inside.get(actor, 0), change.max_op)
    reasons = {device: void_reason(device) for device in cuts}
    return Revoked(reasons, inside)


def void_reason(device: bytes) -> str:
    """Why a record a revoked device wrote outside its revocation's cut is void."""
    return f"written by device {key_text(device)} outside its revocation's cut"


def _valid(doc: Document, collection: str, revoked: Revoked, void: dict[str, str]) -> dict[str, Plain]:
    """The entries of a collection, without the void ones (noted in `void`)."""
    entries = read_map(doc, collection)
    if not revoked.devices:
        return entries
    for key, obj_id in entry_ids(doc, collection).items():
        made = object_op(obj_id)
        reason = None if made is None else revoked.void(*made)
        if reason is not None:
            void[key] = reason
            entries.pop(key, None)
    return entries


def read_decisions(raw: dict[str, Plain]) -> dict[str, Decision]:
    """The well-formed entries of a `decisions` map (as plain values), by id."""
    return _entries(raw, _decision)


def read_mandates(raw: dict[str, Plain]) -> dict[str, Mandate]:
    """The well-formed entries of a `mandates` map (as plain values), by id."""
    return _entries(raw, _mandate)


def read_devices(doc: Document) -> dict[str, Device]:
    """The devices alone, as read_ledger reads them, without reading every record."""
    return _entries(read_map(doc, "devices"), _device)


def read_profile(doc: Document) -> Profile | None:
    """The profile alone: what a status needs, without reading every record."""
    return _profile(read_map(doc, "profile") if doc.get(ROOT, "profile") else {})


def read_device(doc: Document, key: str) -> Device | None:
    """One device entry, read as read_ledger reads it (None if absent or ill-formed): a
    write checks one entry in time independent of the ledger's size."""
    return _entry(key, read_entry(doc, "devices", key), _device)


def read_mandate(doc: Document, mandate_id: str) -> Mandate | None:
    """One mandate, read as read_ledger reads it (None if absent or ill-formed)."""
    return mandate_of(mandate_id, read_entry(doc, "mandates", mandate_id))


def read_decision(doc: Document, decision_id: str) -> Decision | None:
    """One decision, read as read_ledger reads it (None if absent or ill-formed)."""
    return decision_of(decision_id, read_entry(doc, "decisions", decision_id))


def device_of(key: str, raw: Plain) -> Device | None:
    """One entry of a `devices` map as read_devices reads it; None if ill-formed: an index
    reads each device as it is certified."""
    return _entry(key, raw, _device)


def decision_of(key: str, raw: Plain) -> Decision | None:
    """One entry of a `decisions` map (a plain value) as read_decisions reads it; None if
    ill-formed: an index reads each record as it is made, one at a time. `_entry` written
    out: compiled, its call of `build` is a generic call through the function object."""
    if raw is None:
        return None
    try:
        return _decision(key, raw)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # ill-formed entry: skipped, never fatal


def mandate_of(key: str, raw: Plain) -> Mandate | None:
    """One entry of a `mandates` map as read_mandates reads it; None if ill-formed."""
    return _entry(key, raw, _mandate)


def _entries(raw: dict[str, Plain], build: Any) -> dict[str, Any]:
    out = {}
    for key in sorted(raw):
        built = _entry(key, raw[key], build)
        if built is not None:
            out[key] = built
    return out


def _entry(key: str, raw: Plain, build: Callable[[str, Plain], T]) -> T | None:
    if raw is None:
        return None
    try:
        return build(key, raw)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None  # ill-formed entry: skipped, never fatal


def _text(value: Plain) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise ValueError("expected a string")
    return value


def _int(value: Plain) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("expected an integer")
    return value


def _optional(value: Plain, convert: Any) -> Any:
    return None if value is None else convert(value)


def _optional_int(value: Plain) -> int | None:
    """`_optional(value, _int)`, called directly (`_optional_text`)."""
    return None if value is None else _int(value)


def _optional_text(value: Plain) -> str | None:
    """`_optional(value, _text)`: compiled, `convert` is called generically, this directly."""
    return None if value is None else _text(value)


def _profile(raw: dict[str, Plain]) -> Profile | None:
    try:
        return Profile(_text(raw["assembly"]), _text(raw["name"]), _text(raw.get("place", "")),
                       _optional(raw.get("members"), _int))
    except (KeyError, ValueError):
        return None


def _device(key: str, raw: Plain) -> Device:
    parse_key(key)
    if not isinstance(raw, dict) or not isinstance(raw.get("certificate"), bytes):
        raise ValueError("no certificate")
    cut = raw.get("revoked", {}).get("cut") if isinstance(raw.get("revoked"), dict) else None
    return Device(key, _text(raw.get("label", "")), raw["certificate"],
                  dict(cut) if isinstance(cut, dict) else None)


def _record(key: str, raw: Plain) -> dict[str, Plain]:
    """A record's fields, if `key` is a record id and `raw` a map; ValueError otherwise."""
    if not isinstance(raw, dict) or not record_id(key):
        raise ValueError(f"not a record: {key[:40]!r}")
    return raw


RECORD_BYTES: Final = RECORD_ALPHABET.encode()


def record_id(key: str) -> bool:
    """`docids.RECORD_ID_RE.match(key)`, asked of every record read and made: compiled,
    stripping the alphabet off its bytes costs a third of the regex (measured)."""
    if len(key) != RECORD_ID_CHARS:
        return False
    try:
        raw = key.encode("ascii")
    except UnicodeEncodeError:
        return False
    return not raw.strip(RECORD_BYTES)


def _decision(key: str, plain: Plain) -> Decision:
    raw = _record(key, plain)  # typed as a dict: compiled, its reads are then dict reads
    return Decision(  # by position: compiled, keywords cost a dict per call
        key, _text(raw["title"]), _text(raw["text"]), parse_date(raw["date"]),
        Tally(_int(raw["for"]), _int(raw["against"]), _int(raw["abstain"])),
        _optional_int(raw.get("quorum")), _text(raw.get("dissent", "")),
        _optional_text(raw.get("supersedes")), _text(raw["kind"]), _optional_text(raw.get("subject")),
        raw["bylaws"] if isinstance(raw.get("bylaws"), dict) else None,
        raw["sortition"] if isinstance(raw.get("sortition"), dict) else None,
        raw["reopening"] if isinstance(raw.get("reopening"), dict) else None,
        _optional_text(raw.get("revote_of")),
    )


def _mandate(key: str, plain: Plain) -> Mandate:
    raw = _record(key, plain)  # typed as a dict: compiled, its reads are then dict reads
    instructions = raw["instructions"]
    if not isinstance(instructions, list):
        raise ValueError("instructions must be a list")
    return Mandate(
        id=key, delegate=_text(raw["delegate"]),
        delegate_key=_optional(raw.get("delegate_key"), _text), council=_text(raw["council"]),
        term_from=parse_date(raw["term_from"]), term_until=parse_date(raw["term_until"]),
        instructions=tuple(Instruction(_text(i["question"]), Position(i["position"]),
                                       Binding(i["binding"])) for i in instructions),
        decision=_text(raw["decision"]), recalled_by=_optional(raw.get("recalled_by"), _text),
        attributes=_optional(raw.get("attributes"), _attributes),
        co_delegates=tuple(CoDelegate(_text(c["delegate"]), _optional(c.get("delegate_key"), _text),
                                      _attributes(c.get("attributes", {})))
                           for c in _list(raw.get("co_delegates", []))),
    )


def _attributes(value: Plain) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError("attributes are a map of texts")
    return {k: _text(v) for k, v in value.items()}


def _list(value: Plain) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value
