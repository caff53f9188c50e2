"""The stateful checks on a change, given what the receiver already holds.

`envelope.check_envelope` proves who signed what; this module decides whether
that change may join the document, in the order protocol-spec/changes.md
gives: equivocation, missing dependencies (the change waits), sequence
continuity, the actor's previous change among the ancestors, start_op
continuity, the writer's authority over the document, then the write rules
(federation/writerules.py). Authority is judged by causal position only: what
the change's own dependencies hold, never what happened to arrive first. The store answers
questions through the two protocols below, so the rules stay pure and the
same for sync, bundles and local writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, final

from .amvalues import Plain
from .bounded import make_room
from .docids import DocKind
from .envelope import VerifiedChange
from .errors import Reason, Rejected
from .keys import key_text
from .ledger import certificate_valid, revocation_cut
from .writerules import CHARTER, MANDATE, HeldObjects, Path, Written, check_writes


@final
class HeldChange:
    """What the store keeps about an accepted change for the checks of later ones. A plain
    slotted class, never changed once built: one is built for every change stored, and a
    frozen dataclass took ten times as long to build (1.6 us against 0.15, measured)."""

    __slots__ = ("actor", "deps", "doc_id", "max_op", "seq")

    def __init__(self, doc_id: str, actor: bytes, seq: int, max_op: int,
                 deps: tuple[bytes, ...]) -> None:
        self.doc_id = doc_id
        self.actor = actor
        self.seq = seq
        self.max_op = max_op
        self.deps = deps


class ChangeIndex(Protocol):
    def lookup(self, change_hash: bytes) -> HeldChange | None: ...

    def hash_at(self, doc_id: str, actor: bytes, seq: int) -> bytes | None: ...


class AuthorityRecords(HeldObjects, Protocol):
    def device_entry(self, assembly: bytes, device: bytes, heads: Sequence[bytes] | None) -> Plain:
        """The `devices` entry in ledger/<assembly> as of `heads`."""
        ...

    def mandate_entry(self, assembly: bytes, mandate: str) -> Plain:
        """The `mandates` entry in ledger/<assembly> as held now, None if not held."""
        ...


@dataclass(frozen=True)
class Wait:
    """The change cannot be judged yet: it waits for these changes or this document."""

    missing: tuple[bytes, ...]
    awaiting_doc: str | None


def check_in_context(vc: VerifiedChange, index: ChangeIndex, authority: AuthorityRecords,
                     rules: Callable[[VerifiedChange, AuthorityRecords], Written] | None = None
                     ) -> Wait | Written:
    """Wait if the change must wait; what it writes (the write rules' Written) if it may be
    applied; raises Rejected otherwise. `rules`: the write rules, when not writerules'
    (tests lift them; this module is compiled, so patching its `check_writes` would not)."""
    change, doc_id = vc.change, vc.envelope.doc_id
    held_same_seq = index.hash_at(doc_id, change.actor, change.seq)
    if held_same_seq is not None and held_same_seq != change.hash:
        raise Rejected(Reason.EQUIVOCATION, f"another change holds seq {change.seq} of this actor",
                       conflict=held_same_seq)
    deps: list[HeldChange] = []
    missing: list[bytes] = []
    for dep in change.deps:
        found = index.lookup(dep)
        if found is None:
            missing.append(dep)
        elif found.doc_id != doc_id:
            raise Rejected(Reason.MALFORMED_CHANGE, "a dependency belongs to another document")
        else:
            deps.append(found)
    if missing:
        return Wait(tuple(missing), None)
    if change.seq > 1:
        _check_previous(vc, index, deps)
    expected_start = 1  # 1 + the greatest max_op of the deps: a loop, as max(default=) is a
    for held in deps:   # call by keyword, costlier compiled than the loop
        if held.max_op >= expected_start:
            expected_start = held.max_op + 1
    if change.start_op != expected_start:
        raise Rejected(Reason.START_OP_MISMATCH,
                       f"start_op {change.start_op}, dependencies say {expected_start}")
    kind = vc.doc.kind  # read once: DocId is a Python class, each read a lookup
    wait = _check_authority(vc, kind, authority)
    if wait is not None:
        return wait
    written = check_writes(vc, authority) if rules is None else rules(vc, authority)
    if kind is MANDATE:
        _check_acts_by(vc, written.values, authority)
    return written


def _check_previous(vc: VerifiedChange, index: ChangeIndex, deps: list[HeldChange]) -> None:
    change = vc.change
    before = change.seq - 1
    for dep in deps:  # the usual case: an actor's change follows its previous one, a dependency
        if dep.seq == before and dep.actor == change.actor:  # (one change per actor and seq is
            return  # held: this is the one hash_at would give, found without asking the store)
    previous = index.hash_at(vc.envelope.doc_id, change.actor, before)
    if previous is None:
        raise Rejected(Reason.SEQ_GAP, f"seq {change.seq} but seq {before} is not held")
    held = index.lookup(previous)
    assert held is not None
    if not _is_ancestor(index, previous, held.max_op, change.deps):
        raise Rejected(Reason.PREVIOUS_NOT_ANCESTOR, "the actor's previous change is not a dependency")


def _is_ancestor(index: ChangeIndex, target: bytes, target_max_op: int,
                 heads: Sequence[bytes]) -> bool:
    """Walk back from `heads`; a change whose max_op is below the target's cannot descend from it."""
    stack, seen = list(heads), set()
    while stack:
        current = stack.pop()
        if current == target:
            return True
        if current in seen:
            continue
        seen.add(current)
        held = index.lookup(current)
        if held is not None and held.max_op >= target_max_op:
            stack.extend(held.deps)
    return False


def mandate_keys(entry: Plain) -> list[str]:
    """The keys that may write a mandate's log: its `delegate_key`, then each co-delegate's."""
    if not isinstance(entry, dict):
        return []
    co = entry.get("co_delegates")
    keys = [entry.get("delegate_key"), *(c.get("delegate_key") for c in co if isinstance(c, dict))] \
        if isinstance(co, list) else [entry.get("delegate_key")]
    return [k for k in keys if isinstance(k, str)]


def _check_acts_by(vc: VerifiedChange, written: Mapping[Path, object],
                   authority: AuthorityRecords) -> None:
    """Every act a change makes names its signer in `by`, so that who acted is on record
    and no co-delegate acts in another's name. An act without `by` (logs written before
    co-delegates could act) is by the mandate's first delegate: only that key may write one."""
    doc, signer = vc.doc, key_text(vc.envelope.signer)
    assert doc.assembly is not None
    entry = authority.mandate_entry(doc.assembly, doc.record)
    first = entry.get("delegate_key") if isinstance(entry, dict) else None
    for path in sorted(p for p in written if len(p) == 1):
        by = written.get((*path, "by"))
        if by is None and signer != first:
            raise Rejected(Reason.NOT_AUTHORIZED, f"act {path[0]} does not name its delegate in "
                                                  "`by`; only the first delegate's acts may omit it")
        if by is not None and by != signer:
            raise Rejected(Reason.NOT_AUTHORIZED, f"act {path[0]} names {by} in `by`, not its signer")


def _check_authority(vc: VerifiedChange, kind: DocKind, authority: AuthorityRecords) -> Wait | None:
    doc, change, signer = vc.doc, vc.change, vc.envelope.signer
    assembly = doc.assembly  # read once: DocId is a Python class, each read a lookup
    if kind is CHARTER:
        if change.seq != 1 or change.deps or change.hash.hex() != doc.record:
            raise Rejected(Reason.NOT_AUTHORIZED, "a charter is one change whose hash is its id")
        return None
    assert assembly is not None
    if kind is MANDATE:
        entry = authority.mandate_entry(assembly, doc.record)
        if entry is None:
            return Wait((), f"ledger/{key_text(assembly)}")
        if key_text(signer) not in mandate_keys(entry):
            raise Rejected(Reason.NOT_AUTHORIZED, "the signer is not a delegate of the mandate")
        return None
    if signer == assembly:
        return None
    entry = authority.device_entry(assembly, signer, change.deps)
    valid, cut = _device_verdict(assembly, signer, entry)
    if not valid:
        raise Rejected(Reason.UNKNOWN_DEVICE, "no certificate of the assembly precedes this change")
    # A revocation in the change's own past: its writer knew it was revoked. One the change
    # has not seen leaves it valid but void in every read (federation/void.py), wherever
    # and whenever it arrives, so that every receiver holds the same changes.
    if cut is not None and cut.get(change.actor.hex(), 0) < change.seq:
        raise Rejected(Reason.REVOKED_DEVICE, "the device's revocation precedes this change")
    return None


# The last `devices` entry read for each (assembly, device), with whether it certifies the
# device and its revocation cut: a device's changes mostly see the same entry, one object
# the store hands out again for every state after it (DocumentCache.device_entry), so its
# certificate and revocation are judged once for a run of them, not once a change. Entries
# are plain values never changed once read; the entry is kept, so its identity stays its own.
_DEVICE_VERDICTS: Final[dict[tuple[bytes, bytes], tuple[Plain, bool, dict[str, int] | None]]] = {}
MAX_DEVICE_VERDICTS: Final = 1_024


def _device_verdict(assembly: bytes, device: bytes, entry: Plain) -> tuple[bool, dict[str, int] | None]:
    """certificate_valid and revocation_cut of `entry`, judged once for the same entry."""
    known = _DEVICE_VERDICTS.get((assembly, device))
    if known is not None and known[0] is entry:
        return known[1], known[2]
    valid = certificate_valid(assembly, device, entry)
    cut = revocation_cut(assembly, device, entry) if valid else None
    if len(_DEVICE_VERDICTS) >= MAX_DEVICE_VERDICTS:  # asked here: make_room is a call into source
        make_room(_DEVICE_VERDICTS, MAX_DEVICE_VERDICTS)
    _DEVICE_VERDICTS[(assembly, device)] = (entry, valid, cut)
    return valid, cut
