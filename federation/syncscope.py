"""Scopes: one digest tree per confederation followed, so a daemon reconciles only what it relays.

A **scope** is named by a confederation's charter hash (protocol-spec/sync.md,
"Scopes"). Its documents are the charter itself, the ledgers and mandate logs
of the charter's founding member assemblies and, recursively, the scopes of
its founding member confederations (a confederation of confederations): a
function of held charters alone, and a charter is one immutable change, so
two daemons holding the same charters file every document alike. `WHOLE`
(the empty name) is the scope of every document held: a daemon that follows
no confederation in particular reconciles everything, as before scopes. On
the wire a scope is named by its **tag**, the first TAG_BYTES of its charter
hash, so that a hello naming three scopes stays under 256 bytes.

`ScopedTrees` keeps the whole store's tree up to date on every insert and,
beside it, the tree of each scope asked for, built once from the whole tree
(O(D)) and then kept up to date with it (O(log D) per insert). A charter
arriving can widen a scope, so it drops the scope trees built so far, to be
built again when next asked: charters are rare.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from automerge.core import Document

from .amvalues import read_root
from .charter import read_charter
from .docids import DocKind, parse_doc_id
from .errors import Rejected
from .keys import parse_key
from .synctree import DigestTree

WHOLE = b""  # the scope of every document held
TAG_BYTES = 8  # a scope's name on the wire: the first bytes of its charter hash


def tag(charter: bytes) -> bytes:
    return charter[:TAG_BYTES]


@dataclass(frozen=True)
class Members:
    """Who a scope holds: assembly keys (their ledgers and mandate logs) and charter hashes."""

    assemblies: frozenset[bytes]
    charters: frozenset[bytes]

    def holds(self, doc_id: str) -> bool:
        try:
            doc = parse_doc_id(doc_id)
        except Rejected:
            return False
        if doc.kind is DocKind.CHARTER:
            return bytes.fromhex(doc.record) in self.charters
        return doc.assembly in self.assemblies


@dataclass(frozen=True)
class Founders:
    """A charter's founding lists: the members it enrols (once they accept) from the start."""

    assemblies: tuple[bytes, ...]
    confederations: tuple[bytes, ...]


def founders(charter_id: bytes, change: bytes) -> Founders | None:
    """The founding lists of the charter whose one change is `change`; None if it is not a
    charter (the store verified the change, so this only happens to a charter refused later)."""
    try:
        charter = read_charter(charter_id.hex(), read_root(Document.load(change)))
    except (ValueError, KeyError, TypeError, RuntimeError):
        return None
    return Founders(tuple(parse_key(m) for m in charter.members),
                    tuple(bytes.fromhex(c) for c in charter.confederations))


def members(scope: bytes, read: Callable[[bytes], Founders | None]) -> Members:
    """The closure of a scope over held charters (`read` gives a held charter's founders)."""
    assemblies: set[bytes] = set()
    charters: set[bytes] = set()
    todo = [scope]
    while todo:
        charter = todo.pop()
        if charter in charters:
            continue  # a cycle of confederations naming each other
        charters.add(charter)
        found = read(charter)
        if found is not None:
            assemblies.update(found.assemblies)
            todo.extend(found.confederations)
    return Members(frozenset(assemblies), frozenset(charters))


class ScopedTrees:
    """The whole tree and the trees of the scopes asked for, kept up to date together.

    `follow`: the confederations this side follows (None: every one whose charter it holds,
    and the whole store); `read` gives a held charter's founders."""

    def __init__(self, follow: Iterable[bytes] | None,
                 read: Callable[[bytes], Founders | None]) -> None:
        self.whole = DigestTree()
        self.follow = None if follow is None else tuple(sorted(set(follow)))
        self._read = read
        self._trees: dict[bytes, tuple[Members, DigestTree]] = {}  # by tag
        # tag -> charter hash: those followed, or (following everything) those held
        self._named = {} if self.follow is None else {tag(s): s for s in self.follow}

    def fork(self, read: Callable[[bytes], Founders | None]) -> ScopedTrees:
        """Trees that start as these and share their structures (DigestTree.fork), reading
        charters through `read`; these must not change afterwards."""
        for name in self.scopes():
            self.tree(name)  # built once, in the shared part
        other = ScopedTrees(self.follow, read)
        other.whole = self.whole.fork()
        other._trees = {name: (held, tree.fork()) for name, (held, tree) in self._trees.items()}
        other._named = dict(self._named)
        return other

    def scopes(self) -> tuple[bytes, ...]:
        """The scopes (tags) an initiator names in its hello."""
        return (WHOLE,) if self.follow is None else tuple(tag(s) for s in self.follow)

    def set(self, doc_id: str, digest: bytes) -> None:
        new_charter = doc_id.startswith("charter/") and self.whole.get(doc_id) is None
        self.whole.set(doc_id, digest)
        if new_charter:
            if self.follow is None:
                charter = parse_doc_id(doc_id).record
                self._named.setdefault(tag(bytes.fromhex(charter)), bytes.fromhex(charter))
            self._trees.clear()
            return
        for held, tree in self._trees.values():
            if held.holds(doc_id):
                tree.set(doc_id, digest)

    def covers(self, doc_id: str) -> bool:
        """Whether `doc_id` is in a scope this side follows (every document, following none):
        what an initiator may take from a responder's hints, which name documents, not scopes."""
        if self.follow is None:
            return True
        for name in self.scopes():
            self.tree(name)
        return any(held.holds(doc_id) for held, _ in self._trees.values())

    def tree(self, name: bytes) -> DigestTree | None:
        """The tree of the scope tagged `name` (WHOLE: every document), None if this side does
        not follow it. A side following some confederations does not answer for WHOLE: a peer
        reconciling everything would otherwise push it what it does not relay."""
        if name == WHOLE:
            return self.whole if self.follow is None else None
        scope = self._named.get(name)
        if scope is None:
            return None
        built = self._trees.get(name)
        if built is None:
            held = members(scope, self._read)
            tree = DigestTree.of((leaf.doc_id, leaf.digest) for leaf in self.whole.docs_under("")
                                 if held.holds(leaf.doc_id))
            built = self._trees[name] = (held, tree)
        return built[1]
