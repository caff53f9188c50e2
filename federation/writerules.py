"""Write rules: what an authorized change may do to its document, op by op.

A signature proves who wrote a change; these rules say what that writer may
do (protocol-spec/ledger.md "Write rules" is normative). Every operation of a
change is decoded (federation/ops.py) and must be allowed by one row of the
schema table below: the root collections are written by the document's first
change only, a record is created once under a new key of its collection,
its fields are written in the change that creates it and never overwritten
or deleted, a field the table lists as `once` may be added later to a record
already held, once, and every value has the type its row lists; every map a
change makes holds what its readers require (W10, federation/wholerecords.py).
A change that breaks a rule is refused whole with `schema-violation`, naming
the operation and the rule.

Adding a record kind or a field is one row or one entry of a row's `fields`
(protocol-spec/ledger.md "Adding a record kind"). Raises only `Rejected`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Final, Protocol, cast, final

from .chunk import parse_change
from .docids import DocKind
from .envelope import ACTOR_BYTES, VerifiedChange
from .errors import Reason, Rejected
from .keys import key_text, parse_key
from .ledger import certificate_valid, record_id, revocation_cut
from .ops import (
    HEAD,
    PUT,
    Action,
    Op,
    OpId,
    Rows,
    Value,
    decode_rows,
    own_id,
)
from .wholerecords import CHARTER_ROOT, W_WHOLE, lacking, record_lacks

Path = tuple[str, ...]
# Final: compiled code reads a Final module constant directly, any other through the
# module's dict (so every constant read per change or per op is Final).
ITEM: Final = "{item}"  # a list element: written by an insert
RECORD_KEY: Final = "{record}"  # a record's key in its collection
MADE: Final = object()  # in a change's values: a map or list made there


class When(str, Enum):
    GENESIS = "genesis"  # by the document's first change only
    RECORD = "record"  # once, under a new key of its collection, by any change


@dataclass(frozen=True)
class Row:
    """One schema row: an object at `path` and the fields written with it.

    `fields` (paths relative to the object) are written in the change that creates
    the object and never again; `once` fields may also be added later, once, to an
    object already held. `required`: the document's first change must create it.
    `signed`: objects (relative paths, () the row's own) whose content must carry a
    signature of the assembly key, by the name of the check in PROOFS."""

    rule: str
    doc: DocKind
    path: Path
    type: str
    when: When
    fields: Mapping[Path, frozenset[str]]
    once: frozenset[Path]
    required: bool
    meaning: str
    signed: Mapping[Path, str]


def row(rule: str, doc: DocKind, path: str, type_: str, when: When, meaning: str,
        fields: Mapping[str, str] | None = None, once: Sequence[str] = (),
        required: bool = False, signed: Mapping[str, str] | None = None) -> Row:
    """A row from its text form: paths as `a/b/{record}`, types as `str|null`."""
    return Row(rule, doc, tuple(path.split("/")), type_, when,
               {tuple(k.split("/")): frozenset(v.split("|")) for k, v in (fields or {}).items()},
               frozenset(tuple(k.split("/")) for k in once), required, meaning,
               {tuple(k.split("/")) if k else (): v for k, v in (signed or {}).items()})


LEDGER: Final = DocKind.LEDGER
MANDATE: Final = DocKind.MANDATE
CHARTER: Final = DocKind.CHARTER
GENESIS: Final = When.GENESIS
RECORD: Final = When.RECORD
DECISION_FIELDS = {
    "title": "str", "text": "str", "date": "str", "for": "int", "against": "int",
    "abstain": "int", "quorum": "int|null", "dissent": "str", "supersedes": "str|null",
    "kind": "str", "subject": "str|null", "saw": "list", "saw/{item}": "str",
    "proposal": "map", "proposal/confederation": "str", "proposal/kind": "str",
    "proposal/subject": "str|null", "proposal/amendment": "map|null",
    "proposal/amendment/name": "str", "proposal/amendment/threshold": "str",
    "proposal/amendment/qualified": "str", "proposal/amendment/assembly_quorum": "str",
    "proposal/amendment/deadline_days": "int", "proposal/amendment/protected": "list",
    "proposal/amendment/protected/{item}": "str",
    # kind bylaws: the keys it sets (federation/bylaws.py FIELDS; a new bylaws key is a row here)
    "bylaws": "map", "bylaws/rule": "str", "bylaws/quorum": "int|null", "bylaws/members": "int|null",
    "bylaws/reopening": "map|null", "bylaws/reopening/share": "str",
    "bylaws/reopening/dissent_days": "int", "bylaws/rotation": "map|null",
    "bylaws/rotation/consecutive_terms": "int", "bylaws/rotation/days": "int",
    "bylaws/rotation/period_days": "int",
    # kind sortition: the draw it declares (protocol-spec/sortition.md, federation/draws.py)
    "sortition": "map", "sortition/seats": "int",
    "sortition/pool": "list", "sortition/pool/{item}": "map", "sortition/pool/{item}/id": "str",
    "sortition/pool/{item}/attributes": "map", "sortition/pool/{item}/attributes/{name}": "str",
    "sortition/quotas": "list", "sortition/quotas/{item}": "map",
    "sortition/quotas/{item}/attribute": "str", "sortition/quotas/{item}/value": "str",
    "sortition/quotas/{item}/min": "int", "sortition/quotas/{item}/max": "int",
    "sortition/portfolio": "list", "sortition/portfolio/{item}": "map",
    "sortition/portfolio/{item}/panel": "list", "sortition/portfolio/{item}/panel/{item}": "str",
    "sortition/portfolio/{item}/weight": "int", "sortition/participants": "list",
    "sortition/participants/{item}": "str", "sortition/commit_by": "str", "sortition/reveal_by": "str",
    # kind reopening, and the new vote that answers one (ledger.md RO1-RO3)
    "reopening": "map", "reopening/by": "str", "revote_of": "str",
}
MANDATE_FIELDS = {
    "delegate": "str", "delegate_key": "str|null", "council": "str", "term_from": "str",
    "term_until": "str", "instructions": "list", "instructions/{item}": "map",
    "instructions/{item}/question": "str", "instructions/{item}/position": "str",
    "instructions/{item}/binding": "str", "decision": "str",
    # parity and co-delegates (charter.md PA1-PA3)
    "attributes": "map", "attributes/{name}": "str", "co_delegates": "list",
    "co_delegates/{item}": "map", "co_delegates/{item}/delegate": "str",
    "co_delegates/{item}/delegate_key": "str|null", "co_delegates/{item}/attributes": "map",
    "co_delegates/{item}/attributes/{name}": "str",
}
DRAW_STEP_FIELDS = {"draw": "str", "step": "str", "value": "str", "date": "str"}  # sortition.md
ACT_FIELDS = {
    "kind": "str", "date": "str", "proposal": "str|null", "position": "str|null",
    "binding": "str|null", "text": "str", "replaces": "str|null", "saw": "list", "saw/{item}": "str",
    "by": "str",  # the acting delegate's key: the change's signer (changes.md S6)
}
CHAIN_FIELDS = {"date": "str", "supersedes": "str|null", "withdrawn": "bool"}  # economy.md
WHAT_FIELDS = {"confederation": "str", "item": "str", "quantity": "int", "unit": "str"}
ECONOMY_FIELDS = {  # federation/economy.py FIELDS, as types
    "needs": {**WHAT_FIELDS, "by": "str", "priority": "str", "cooperative": "str", "note": "str",
              **CHAIN_FIELDS},
    "offers": {**WHAT_FIELDS, "from": "str", "until": "str", "conditions": "str",
               "cooperative": "str", **CHAIN_FIELDS},
    "pledges": {**WHAT_FIELDS, "need": "str", "offer": "str", **CHAIN_FIELDS},
    "deliveries": {**WHAT_FIELDS, "need": "str", "offer": "str", "note": "str", **CHAIN_FIELDS},
    "commons": {"confederation": "str", "good": "str", "rules": "str", **CHAIN_FIELDS},
}
RULES_FIELDS = {
    "name": "str", "threshold": "str", "qualified": "str", "assembly_quorum": "str",
    "deadline_days": "int", "protected": "list", "protected/{item}": "str",
}

# The schema table (protocol-spec/ledger.md "Write rules" and charter.md list the same rows).
TABLE: Final[tuple[Row, ...]] = (
    row("L1", LEDGER, "profile", "map", GENESIS, "the assembly's profile", required=True,
        fields={"assembly": "str", "name": "str", "place": "str", "members": "int|null"}),
    row("L2", LEDGER, "devices", "map", GENESIS, "device certificates", required=True),
    row("L3", LEDGER, "devices/{device}", "map", RECORD, "a device certificate",
        fields={"label": "str", "certificate": "bytes", "revoked": "map", "revoked/cut": "map",
                "revoked/cut/{actor}": "int", "revoked/signature": "bytes"},
        once=["revoked"], signed={"": "certificate", "revoked": "revocation"}),
    row("L4", LEDGER, "decisions", "map", GENESIS, "decisions", required=True),
    row("L5", LEDGER, "decisions/{record}", "map", RECORD, "a decision", fields=DECISION_FIELDS),
    row("L6", LEDGER, "mandates", "map", GENESIS, "mandates", required=True),
    row("L7", LEDGER, "mandates/{record}", "map", RECORD, "a mandate", fields=MANDATE_FIELDS),
    *(r for n, (name, fields) in enumerate(ECONOMY_FIELDS.items()) for r in (
        row(f"E{2 * n + 1}", LEDGER, name, "map", GENESIS, f"the economy's {name}"),
        row(f"E{2 * n + 2}", LEDGER, f"{name}/{{record}}", "map", RECORD, f"a record of {name}",
            fields=fields))),
    row("S1", LEDGER, "sortition", "map", GENESIS, "the commitments and reveals of draws by lot"),
    row("S2", LEDGER, "sortition/{record}", "map", RECORD, "a commitment or reveal",
        fields=DRAW_STEP_FIELDS),
    row("M1", MANDATE, "{record}", "map", RECORD, "a delegate's act", fields=ACT_FIELDS),
    row("C1", CHARTER, "format", "str", GENESIS, "the charter format"),
    row("C2", CHARTER, "founded", "str", GENESIS, "the founding date"),
    row("C3", CHARTER, "members", "list", GENESIS, "founding assemblies", fields={"{item}": "str"}),
    row("C4", CHARTER, "confederations", "list", GENESIS, "founding confederations",
        fields={"{item}": "str"}),
    row("C5", CHARTER, "rules", "map", GENESIS, "decision rules", fields=RULES_FIELDS),
    row("C6", CHARTER, "parity", "map", GENESIS, "the parity each member's delegation must meet",
        fields={"attribute": "str", "min": "map", "min/{name}": "int", "share": "str"}),
    row("C7", CHARTER, "rotation", "map", GENESIS, "how long one person may hold a mandate to the council",
        fields={"consecutive_terms": "int", "days": "int", "period_days": "int"}),
)

# Structural rules, numbered as protocol-spec/ledger.md lists them.
W_ACTIONS: Final = "W2"  # only make map, make list, put
W_OVERWRITE: Final = "W3"  # nothing overwritten or deleted; lists gain elements only when made
W_PATH: Final = "W4"  # every path written is one the table names
W_TYPE: Final = "W5"  # values of the types the row lists
W_WHEN: Final = "W6"  # fields only with their object; genesis rows only in the first change
W_NEW_KEY: Final = "W7"  # records and once-fields under keys not held as of the deps
W_GENESIS: Final = "W8"  # one genesis per ledger, creating every required row
W_SIGNED: Final = "W9"  # certificates and revocations carry the assembly key's valid signature
# W10, W_WHOLE: every map made holds what its readers require (federation/wholerecords.py)

def _canonical_key(text: str) -> bool:
    try:
        return key_text(parse_key(text)) == text
    except ValueError:
        return False


MAX_NAME_CHARS: Final = 64


PLACEHOLDERS: Final[dict[str, Callable[[str], bool]]] = {
    RECORD_KEY: record_id,
    "{device}": _canonical_key,
    "{name}": lambda k: 1 <= len(k) <= MAX_NAME_CHARS,  # an attribute or a value named by the assembly
    "{actor}": lambda k: re.fullmatch(f"[0-9a-f]{{{2 * ACTOR_BYTES}}}", k) is not None,
}
PROOFS: Final[dict[str, Callable[[bytes, bytes, dict[str, object]], bool]]] = {
    "certificate": certificate_valid,
    "revocation": lambda assembly, device, revoked: revocation_cut(
        assembly, device, {"revoked": revoked}) is not None,
}
ALLOWED_ACTIONS: Final[dict[int, str | None]] = {  # plain ints: an IntEnum key compares slower
    int(Action.MAKE_MAP): "map", int(Action.MAKE_LIST): "list", int(Action.PUT): None}


class HeldObjects(Protocol):
    """What the rules need from the receiver's store about a document already held."""

    def object_path(self, doc_id: str, obj: OpId) -> Path | None:
        """The path from the root of the map or list that op `obj` created, if held."""
        ...

    def has_entry(self, doc_id: str, path: Path, key: str, heads: Sequence[bytes]) -> bool:
        """Whether the object at `path` holds `key` as of `heads`."""
        ...

    def first_change(self, doc_id: str) -> bytes | None:
        """The hash of a held change of `doc_id` without dependencies."""
        ...


def _segment_matches(pattern: str, key: str) -> bool:
    if pattern == ITEM or key == ITEM:
        return pattern == key
    if pattern == RECORD_KEY:  # the usual placeholder, called directly
        return record_id(key)
    fits = PLACEHOLDERS.get(pattern)
    return fits(key) if fits else pattern == key


def _matches(pattern: Path, path: Path) -> bool:
    return len(pattern) == len(path) and all(map(_segment_matches, pattern, path))


@dataclass(eq=False)  # hashed by identity: the memo of verdicts is keyed by node
class _Node:
    """The table as a tree of path segments: literal keys first, then placeholders."""

    literal: dict[str, _Node]
    wild: list[tuple[str, _Node]]
    row: Row | None = None  # the row whose object is here
    types: frozenset[str] = frozenset()  # what may be written here

    def child(self, segment: str) -> _Node:
        if segment in PLACEHOLDERS or segment == ITEM:
            for pattern, node in self.wild:
                if pattern == segment:
                    return node
            self.wild.append((segment, _Node({}, [])))
            return self.wild[-1][1]
        return self.literal.setdefault(segment, _Node({}, []))

    def step(self, key: str) -> _Node | None:
        if key != ITEM:
            found = self.literal.get(key)
            if found is not None:
                return found
        for pattern, node in self.wild:
            if _segment_matches(pattern, key):
                return node
        return None


def _tree(doc: DocKind) -> _Node:
    root = _Node({}, [])
    for r in TABLE:
        if r.doc is not doc:
            continue
        node = root
        for segment in r.path:
            node = node.child(segment)
        node.row, node.types = r, frozenset({r.type})
        for field_path, types in r.fields.items():
            leaf = node
            for segment in field_path:
                leaf = leaf.child(segment)
            leaf.types = types
    return root


TREES: Final = {kind: _tree(kind) for kind in DocKind}


Place = tuple[_Node | None, tuple[Row, int] | None]  # a node of the tree and its owning row


def _descend(place: Place, path: Path, start: int) -> Place:
    """From the place of `path[:start]` down to that of `path`."""
    node, owner = place
    for depth in range(start, len(path)):
        node = node.step(path[depth]) if node is not None else None
        if node is None:
            break
        if node.row is not None:
            owner = (node.row, depth + 1)
    return node, owner


def _found(place: Place, path: Path) -> tuple[Row, Path, frozenset[str]] | None:
    node, owner = place
    if owner is None:
        return None
    found_row, depth = owner
    return found_row, path[depth:], node.types if node is not None else frozenset()


def match(doc: DocKind, path: Path) -> tuple[Row, Path, frozenset[str]] | None:
    """The row whose object `path` is or lies in, the path relative to that object, and the
    types allowed there (empty when the row names no such field)."""
    return _found(_descend((TREES[doc], None), path, 0), path)


def _once(found: Row, rel: Path) -> bool:
    return any(_matches(p, rel) for p in found.once)


def violation(n: int, op: Op, rule: str, detail: str, row_: Row | None = None) -> Rejected:
    """`op N (action key): rule W.. (row ..): what`, naming the operation, the rule and the row."""
    where = f" (row {row_.rule})" if row_ is not None else ""
    return Rejected(Reason.SCHEMA_VIOLATION, f"op {n} ({op.describe()}): rule {rule}{where}: {detail}")


@final
class Written:
    """What a change the rules allow writes: every value put, by path (a map or list made
    there as MADE), and its operations as decoded to judge them, so that an index of what
    it writes reads them without decoding the change again (ops.made_under_keys); and
    whether it puts anything under `devices`, which the daemon asks of every ledger change
    (the device entries it may reuse): found here, compiled, in 1/4 of the instructions the
    same loop over `values` took in the daemon (5.6k a change, callgrind). A plain slotted
    class: built for every change, as ops.Rows is."""

    __slots__ = ("devices", "rows", "values")

    def __init__(self, values: Mapping[Path, Value], rows: Rows) -> None:
        self.values = values
        self.rows = rows
        devices = False
        for path in values:
            if path[0] == "devices":
                devices = True
                break
        self.devices = devices


def check_writes(vc: VerifiedChange, held: HeldObjects, grouped: bool = True) -> Written:
    """Refuse (`schema-violation`) a change any of whose operations no rule allows; return
    what it writes. Not `grouped`: every op judged alone (what judging a record's fields at
    once must agree with: tests/test_fast_paths.py)."""
    change, doc_id, kind = vc.change, vc.envelope.doc_id, vc.doc.kind
    genesis = not change.deps
    if genesis and kind is LEDGER:
        first = held.first_change(doc_id)
        if first is not None and first != change.hash:
            raise Rejected(Reason.SCHEMA_VIOLATION, f"rule {W_GENESIS}: a second genesis; the "
                                                   f"ledger begins with {first.hex()}", conflict=first)
    judge = _Judge(vc, held, genesis, decode_rows(change), kind)
    judge.ops(grouped)
    if judge.signed:  # asked here: most changes sign nothing, and a call costs more
        judge.proofs()
    if genesis and kind is LEDGER:
        missing = [r.rule for r in TABLE if r.doc is kind and r.required and r.rule not in judge.created]
        if missing:
            raise Rejected(Reason.SCHEMA_VIOLATION, f"rule {W_GENESIS}: the genesis does not "
                                                   f"create {', '.join(missing)}")
    judge.whole()
    return Written(judge.values, judge.rows)


Parent = tuple[Path, str, bool, Place]  # an object's path, type, whether made here, and place


class _Judge:
    """One change's operations judged in order, with what the change has made so far."""

    def __init__(self, vc: VerifiedChange, held: HeldObjects, genesis: bool, rows: Rows,
                 kind: DocKind) -> None:
        self.vc, self.held, self.genesis, self.rows = vc, held, genesis, rows
        self.kind = kind  # vc.doc.kind, read once: DocId is a Python class, each read a lookup
        self.written: dict[OpId | None, set[str]] = {}  # the keys written in each map
        self.values: dict[Path, object] = {}  # every value put, by path
        self.signed: list[tuple[int, Row, str, Path]] = []  # objects that need a proof
        self.created: set[str] = set()  # rows whose object this change made
        # each object written to, found once (a record's fields share their parent's walk);
        # an object this change made is entered by the op that made it
        self.parents: dict[OpId | None, Parent] = {}

    def fail(self, n: int, rule: str, detail: str, row_: Row | None = None) -> Rejected:
        return violation(n, self.rows.op(n), rule, detail, row_)

    def ops(self, grouped: bool) -> None:
        """Every op in order, each allowed by one row. Ops run in groups by the object they
        write to: a record's fields, put in the change that makes it, are judged at once."""
        objs = self.rows.obj
        start, count = 0, len(objs)
        while start < count:  # the runs itertools.groupby finds, without its generic calls
            obj, end = objs[start], start + 1
            while end < count and (objs[end] is obj or objs[end] == obj):  # a run shares one id
                end += 1
            if not grouped or end - start < 2 or not self.fields(obj, start, end):
                for n in range(start, end):
                    self.op(n, obj)
            start = end

    def fields(self, obj: OpId | None, start: int, end: int) -> bool:
        """Ops `start` to `end`, when all of them put a field of a map this change made: True
        if `op` would allow each (and then with what `op` would record), False to ask `op`.
        Each key is looked up in the table directly: a memo of runs by their keys cost more to
        hash and compare than the lookups it spared (measured)."""
        found = self.parents.get(obj)
        if found is None:
            return False
        parent, parent_type, parent_new, (node, owner) = found
        if not parent_new or parent_type != "map" or node is None or owner is None:
            return False
        rows = self.rows
        action, pred, insert, key, kind = rows.action, rows.pred, rows.insert, rows.key, rows.kind
        written = self.written.get(obj)  # none yet, the usual case: nothing to compare with
        named: set[str] = set()  # grown here, not built from a slice after (2.1k instructions)
        literal = node.literal
        for i in range(start, end):
            field = key[i]
            if action[i] != PUT or pred[i] or insert[i] or field is None or field in named \
                    or (written is not None and field in written):
                return False  # a key put twice in the run, or before it: `op` says which
            child = literal.get(field)
            if child is None:
                child = node.step(field)
            if child is None or child.row is not None or kind[i] not in child.types:
                return False
            named.add(field)
        if written is None:
            self.written[obj] = named
        else:
            written.update(named)
        values, value = self.values, rows.value
        if len(parent) == 2:  # a record of a collection: its paths built here, not by a call
            first, second = parent[0], parent[1]
            for i in range(start, end):
                values[first, second, cast(str, key[i])] = value[i]
        else:
            for i in range(start, end):
                values[_extended(parent, cast(str, key[i]))] = value[i]
        return True

    def op(self, n: int, obj: OpId | None) -> None:
        """Op `n`, checked as ledger.md lists the rules, in its order."""
        rows, change = self.rows, self.vc.change
        action = rows.action[n]
        if action not in ALLOWED_ACTIONS:
            raise self.fail(n, W_ACTIONS, "only maps, lists and values are written; nothing "
                                          "is deleted, counted or made text")
        if rows.pred[n]:
            raise self.fail(n, W_OVERWRITE, "overwrites an earlier value")
        parent, parent_type, parent_new, (node, owner) = self.parents.get(obj) or self.parent(n, obj)
        segment = self.segment(n, obj, parent_type)
        path = _extended(parent, segment)
        node = node.step(segment) if node is not None else None
        if node is not None and node.row is not None:
            owner = (node.row, len(path))
        if owner is None:
            raise self.fail(n, W_PATH, f"no rule allows {'/'.join(path)}")
        row_, depth = owner
        rel = path[depth:]
        types = node.types if node is not None else frozenset()
        if not types:
            raise self.fail(n, W_PATH, f"no field {'/'.join(rel)} in {row_.meaning}", row_)
        value_type = ALLOWED_ACTIONS[action] or rows.kind[n]
        if value_type not in types:
            raise self.fail(n, W_TYPE, f"{'/'.join(path)} is {'|'.join(sorted(types))}, "
                                       f"not {value_type}", row_)
        if not rel and row_.when is GENESIS and not self.genesis:
            raise self.fail(n, W_WHEN, f"{'/'.join(path)} is written by the first change only", row_)
        if not parent_new:
            if rel and not _once(row_, rel):
                raise self.fail(n, W_WHEN, f"{'/'.join(path)} is written only with its record", row_)
            if change.deps and self.held.has_entry(self.vc.envelope.doc_id, parent, segment,
                                                   change.deps):
                raise self.fail(n, W_NEW_KEY, f"{'/'.join(path)} exists already", row_)
        if action == PUT:
            self.values[path] = rows.value[n]
            return
        self.values[path] = MADE
        op_id = own_id(rows.obj, n, rows.start, rows.actor)
        self.parents[op_id] = (path, value_type, True, (node, owner))
        if not rel:
            self.created.add(row_.rule)
        if rel in row_.signed:
            self.signed.append((n, row_, row_.signed[rel], path))

    def whole(self) -> None:
        """Every map this change made holds, in this change, what its readers require
        (rule W10): a record missing a field would be stored and relayed, then read by nobody."""
        values = self.values
        if self.genesis and self.kind is CHARTER:
            lacks = lacking(CHARTER_ROOT, self.written.get(None))
            if lacks:
                raise Rejected(Reason.SCHEMA_VIOLATION, f"rule {W_WHOLE}: the charter lacks "
                                                       f"{', '.join(lacks)}")
        for obj, (path, type_, new, (_, owner)) in self.parents.items():
            if obj is None or not new or type_ != "map" or owner is None:
                continue
            row_, depth = owner
            lacks = record_lacks(row_.rule, path[depth:], path, self.written.get(obj), values)
            if lacks:
                raise self.fail(obj.counter - self.rows.start, W_WHOLE,
                                f"{'/'.join(path)} ({row_.meaning}) lacks {', '.join(lacks)}", row_)

    def parent(self, n: int, obj: OpId | None) -> Parent:
        """The object op `n` writes to, not made by this change (`parents` has those): a
        map the document holds, or the root."""
        parent: Path = ()
        parent_new = self.genesis
        if obj is not None:
            resolved = self.held.object_path(self.vc.envelope.doc_id, obj)
            if resolved is None:
                raise self.fail(n, W_PATH, "writes to an object the document does not hold")
            parent, parent_new = resolved, False
        found = self.parents[obj] = (parent, "map", parent_new,
                                     _descend((TREES[self.kind], None), parent, 0))
        return found

    def segment(self, n: int, obj: OpId | None, parent_type: str) -> str:
        """The path segment op `n` writes: a map key, or ITEM for a list insert."""
        rows = self.rows
        if parent_type == "list":
            change, elem = self.vc.change, rows.elem[n]
            own_element = (elem is not None and elem.actor == change.actor
                           and change.start_op <= elem.counter < rows.start + n)
            if not rows.insert[n] or not (elem == HEAD or own_element):
                raise self.fail(n, W_OVERWRITE, "a list gains elements only in the change that makes it")
            return ITEM
        key = rows.key[n]
        if key is None or rows.insert[n]:
            raise self.fail(n, W_OVERWRITE, "a list operation on a map")
        written = self.written.get(obj)  # not setdefault: it builds a set for every op
        if written is None:
            written = self.written[obj] = set()
        elif key in written:
            raise self.fail(n, W_OVERWRITE, "writes one key twice")
        written.add(key)
        return key

    def proofs(self) -> None:
        """Objects whose content is the assembly key's statement (a certificate, a
        revocation) must carry its valid signature: a certified device can neither squat a
        device key nor write a revocation that would block the real one (rule W9)."""
        for n, row_, proof, path in self.signed:
            assembly = self.vc.doc.assembly  # read here: most changes sign nothing
            content = _plain(self.values, path)
            device = parse_key(path[row_.path.index("{device}")])
            if assembly is None or not PROOFS[proof](assembly, device, content):
                raise self.fail(n, W_SIGNED, f"{'/'.join(path)} does not carry the assembly "
                                             f"key's {proof}", row_)


def _extended(path: Path, key: str) -> Path:
    """`(*path, key)`, built at once for the usual depths: compiled, the starred form builds a
    list and copies it into the tuple (a few hundred instructions a field, measured)."""
    depth = len(path)
    if depth == 2:
        return path[0], path[1], key
    if depth == 1:
        return path[0], key
    return (*path, key)


def _plain(values: dict[Path, object], path: Path) -> dict[str, object]:
    """The maps made and values put under `path` in this change, as nested dicts (lists,
    which no proof reads, as empty dicts)."""
    out: dict[str, object] = {}
    for where in sorted((w for w in values if len(w) > len(path) and w[:len(path)] == path), key=len):
        node: object = out
        for segment in where[len(path):-1]:
            node = node.get(segment) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[where[-1]] = {} if values[where] is MADE else values[where]
    return out


def resolve_path(doc_id: str, obj: OpId, chunk_with_op: ChunkLookup, depth: int = 0) -> Path | None:
    """The path of the map that op `obj` made, following each creating op up to the root.

    Only maps made under a map key are targets the rules allow after their change, so
    anything else (a list, a list element, an op that made no map) has no path here."""
    if depth > 8:
        return None
    chunk = chunk_with_op(doc_id, obj)
    if chunk is None:
        return None
    parsed = parse_change(chunk)
    index = obj.counter - parsed.start_op
    rows = decode_rows(parsed)
    if not 0 <= index < len(rows.action):
        return None
    key, made_in = rows.key[index], rows.obj[index]
    if rows.action[index] != Action.MAKE_MAP or key is None or rows.insert[index]:
        return None
    parent = () if made_in is None else resolve_path(doc_id, made_in, chunk_with_op, depth + 1)
    return None if parent is None else (*parent, key)


class ChunkLookup(Protocol):
    def __call__(self, doc_id: str, op: OpId) -> bytes | None:
        """The canonical chunk of the held change of `doc_id` holding op `op`."""
        ...
