"""Verified changes waiting, per document, to be handed to Automerge together.

Automerge takes changes through a hand-built sync message (documents.apply_chunks),
which costs far less per change when one message carries many: ingest stages the
changes it accepts in a batch and applies each document's at once when the batch
ends. Applying stays contained: afterwards the document's heads must be exactly
those the staged changes make (its heads before, less what the changes depend on,
plus the changes nothing depends on). Automerge cannot apply a change without its
dependencies, so a change it refused leaves a head missing: the batch is then
taken back and judged again one change at a time (daemon/store/ingest.py), which
pins the change Automerge refuses and loses nothing else.

Until the batch ends the document lacks its staged changes, and the checks of later
changes read it. Reads go through DocumentCache, which applies a document's staged
changes before any read, except one: whether a key already exists in a held map
(rule W3, `has_entry`), asked for about every record a change writes. It is answered
without applying when the key is absent from the document and no staged change can
have written it: a staged change writes into a held map only keys it asked about
itself (rule W3 asks about every such write), and writes everything else under a map
it made there, so no path asked about since the batch began being a prefix of the
key's path proves that. A first change (no dependencies) asks about nothing; a
document with one staged is applied before it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

Path = tuple[str, ...]


class StagedApplyFailed(Exception):
    """Automerge did not take every staged change of a document: judge the batch again,
    one change at a time."""


@dataclass
class Staged:
    """One document's staged changes, in the order they were accepted (DocumentCache.apply_verified
    adds each, without a call of a method here)."""

    chunks: list[bytes] = field(default_factory=list)
    hashes: list[bytes] = field(default_factory=list)
    deps: set[bytes] = field(default_factory=set)  # every dependency of a staged change
    first: bool = False  # one of them has no dependencies
    # the document's maps at the paths asked about, read without these changes: the document
    # does not change while they wait (DocumentCache.has_entry)
    objects: dict[Path, bytes] = field(default_factory=dict)

    def heads_after(self, before: Sequence[bytes]) -> set[bytes]:
        """The heads the document must have once every staged change is applied."""
        return {h for h in before if h not in self.deps} | \
            {h for h in self.hashes if h not in self.deps}
