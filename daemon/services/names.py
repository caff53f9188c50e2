"""Short names a user types for what this store holds: an assembly by the name in its profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

from pnyx.federation.keys import parse_key
from pnyx.federation.ledger import Ledger

from ..store.node import Node

T = TypeVar("T")


def resolve_assembly(node: Node, key_or_name: str) -> bytes:
    """An assembly by key, or by the name in the profile of a ledger held here."""
    try:
        return parse_key(key_or_name)
    except ValueError:
        pass
    matches = [parse_key(key) for key, ledger in held_ledgers(node)
               if ledger.profile is not None and ledger.profile.name == key_or_name]
    return the_one(matches, f"assembly named {key_or_name!r}")


def held_ledgers(node: Node) -> Iterator[tuple[str, Ledger]]:
    """(assembly key text, ledger) for every assembly ledger this store holds."""
    from pnyx.federation.ledger import read_ledger

    for doc_id in node.store.documents():
        if doc_id.startswith("ledger/"):
            yield doc_id.removeprefix("ledger/"), read_ledger(node.docs.get(doc_id))


def the_one(found: list[T], what: str) -> T:
    """The single match a user's short name stands for; a one-line error otherwise."""
    if len(found) != 1:
        raise ValueError(f"{'no' if not found else 'more than one'} {what}")
    return found[0]
