"""Short names a user types for what this store holds, in the CLI and the API alike.

An assembly by the name in its profile, a confederation by the name in its
charter, a proposal by its decision id or its title; a key or id is always
taken as it is. A name that matches nothing is `UnknownRecord`; one that
matches several is refused with the candidates listed, so the user can pick.
"""

from __future__ import annotations

from collections.abc import Iterator

from pnyx.federation.charter import CHARTER_ID_RE
from pnyx.federation.confed import PROPOSAL, PROPOSAL_ID_RE
from pnyx.federation.indexrows import DECISIONS
from pnyx.federation.keys import key_text, parse_key
from pnyx.federation.ledger import Decision, read_decisions

from ..store.node import Node
from .errors import RecordError, UnknownRecord


def held_decision(node: Node, doc_id: str, decision_id: str) -> Decision | None:
    """A decision of a ledger held here (None if the ledger or the decision is not, or the
    decision is void or ill-formed), from the index of records: not the whole ledger."""
    if not node.store.holds_document(doc_id):
        return None  # not indexed either: the index holds no row for a ledger it does not hold
    index = node.ingestor.ledgers
    with index.reading(doc_id):
        return read_decisions(index.by_id(doc_id, DECISIONS, [decision_id])).get(decision_id)


def held_proposals(node: Node) -> Iterator[tuple[str, Decision]]:
    """(assembly key text, proposal) for every proposal of every ledger held here, from the
    index of records."""
    index = node.ingestor.ledgers
    for doc_id in node.store.documents():
        if doc_id.startswith("ledger/"):
            with index.reading(doc_id):
                found = read_decisions(index.of_kind(doc_id, PROPOSAL))
            for decision in found.values():
                yield doc_id.removeprefix("ledger/"), decision


def held_charters(node: Node) -> Iterator[tuple[str, str]]:
    """(charter id, confederation name) for every valid charter this store holds."""
    for doc_id in node.store.documents():
        if doc_id.startswith("charter/"):
            record = node.docs.charter(doc_id.removeprefix("charter/"))
            if record is not None:
                yield record["id"], record["rules"]["name"]


def charter_rotations(node: Node, council: str) -> list[tuple[str, set[str], dict[str, int]]]:
    """(name, the names it goes by, rotation) of each charter held whose council is `council`
    (by id or founding name) and that limits how long one holds a mandate to it."""
    found = []
    for doc_id in sorted(node.store.documents()):
        record = node.docs.charter(doc_id.removeprefix("charter/")) if doc_id.startswith("charter/") else None
        names = set() if record is None else {record["id"], record["rules"]["name"]}
        if record is not None and record["rotation"] is not None and council in names:
            found.append((record["rules"]["name"], names, record["rotation"]))
    return found


def council_name(node: Node, council: str) -> str:
    """The name of the confederation whose charter id `council` is, if it is held here; else
    `council` as written (a council named in words)."""
    record = node.docs.charter(council)
    return council if record is None else str(record["rules"]["name"])


def assembly_names(node: Node) -> dict[str, str]:
    """Assembly key text -> name, for every ledger held with a profile (read from its genesis
    alone, DocumentCache.profile: no record is loaded)."""
    out = {}
    for doc_id in node.store.documents():
        profile = node.docs.profile(doc_id) if doc_id.startswith("ledger/") else None
        if profile is not None:
            out[doc_id.removeprefix("ledger/")] = profile.name
    return out


def the_one(found: list[tuple[str, str]], what: str) -> str:
    """The single (value, label) match a user's short name stands for; UnknownRecord if none,
    RecordError listing the candidates if several."""
    if not found:
        raise UnknownRecord(f"no {what}")
    if len(found) > 1:
        listed = "; ".join(f"{value} ({label})" for value, label in sorted(found))
        raise RecordError(f"more than one {what}: {listed}; give the id")
    return found[0][0]


def resolve_assembly(node: Node, key_or_name: str) -> bytes:
    """An assembly by key, or by the name in the profile of a ledger held here."""
    try:
        return parse_key(key_or_name)
    except ValueError:
        pass
    matches = [(key, name) for key, name in assembly_names(node).items()
               if name.casefold() == key_or_name.strip().casefold()]
    return parse_key(the_one(matches, f"assembly named {key_or_name!r} is held here"))


def resolve_confederation(node: Node, id_or_name: str) -> str:
    """A confederation by charter id (`charter/` prefix allowed) or by its name."""
    text = id_or_name.strip().removeprefix("charter/")
    if CHARTER_ID_RE.match(text):
        return text
    matches = [(cid, name) for cid, name in held_charters(node)
               if name.casefold() == text.casefold()]
    return the_one(matches, f"confederation named {id_or_name!r} is held here")


def resolve_unit(node: Node, text: str) -> str:
    """A member unit: an assembly (key or name) or a confederation (id or name)."""
    cleaned = text.strip().removeprefix("charter/")
    if CHARTER_ID_RE.match(cleaned):
        return cleaned
    try:
        return key_text(parse_key(cleaned))
    except ValueError:
        pass
    matches = [(key, f"assembly {name}") for key, name in assembly_names(node).items()
               if name.casefold() == cleaned.casefold()]
    matches += [(cid, f"confederation {name}") for cid, name in held_charters(node)
                if name.casefold() == cleaned.casefold()]
    return the_one(matches, f"assembly or confederation named {text!r} is held here")


def resolve_proposal(node: Node, text: str) -> str:
    """A proposal by its full id, by its decision id, or by its title, among those held."""
    if PROPOSAL_ID_RE.match(text):
        return text
    wanted = text.strip().casefold()
    matches = [(f"{key}/{d.id}", f"{d.title}, {d.date}") for key, d in held_proposals(node)
               if d.id == text or d.title.strip().casefold() == wanted]
    return the_one(matches, f"proposal {text!r} is held here")
