"""Rule W10: a change that makes a record makes it whole.

Rules W1-W9 (federation/writerules.py) type what a change writes but require
nothing, while the readers (federation/ledger.py, confed.py, economy.py,
draws.py, charter.py, parity.py, reopening.py) skip a record that lacks a field
they need: a decision holding only a title would be stored, relayed to every
peer and then read by nobody. So each map a change makes must hold, in that
same change, the keys its readers cannot do without (protocol-spec/ledger.md
"Write rules", W10), and a record of a kind that points at something must
name it. Every receiver (ingest, bundle import, `pnyx verify`) and the
daemon's own writes (daemon/services/records.py stores nothing a receiver
would refuse) run it inside `check_writes`.

Only presence is judged here, and for the keys a kind needs a value other than
null: the types are W5's, the meaning of a value (a date's form, a tally's
sign) stays the readers' (ledger.md "Values"). Adding a field a reader needs
is one word in `REQUIRED`.
"""

from __future__ import annotations

from typing import Final

from .economy import FIELDS as ECONOMY_FIELDS

Path = tuple[str, ...]
W_WHOLE: Final = "W10"
ITEM: Final = "{item}"


def _keys(words: str) -> frozenset[str]:
    return frozenset(words.split())


# By the rule of the row (protocol-spec/ledger.md "Write rules") whose object the map is or
# lies in, then by the map's path inside that object (() for the object itself): the keys
# it must hold. Keyed by rule, a text whose hash Python keeps, so the lookup made for every
# record costs no tuple hashing (callgrind: a third of W10's instructions, measured).
REQUIRED: Final[dict[str, dict[Path, frozenset[str]]]] = {
    "L1": {(): _keys("assembly name")},  # ledger.read_profile
    "L5": {  # ledger._decision, confed._proposal_body, reopening.py
        (): _keys("title text date for against abstain kind"),
        ("proposal",): _keys("confederation kind"), ("reopening",): _keys("by")},
    "L7": {  # ledger._mandate
        (): _keys("delegate council term_from term_until instructions decision"),
        ("instructions", ITEM): _keys("question position binding"),
        ("co_delegates", ITEM): _keys("delegate")},
    # economy.check_record: every field, `supersedes` included (null when it revises nothing);
    # rows E2, E4, ... E10 in the order of economy.FIELDS, as writerules.TABLE numbers them
    **{f"E{2 * n + 2}": {(): frozenset(fields)} for n, fields in enumerate(ECONOMY_FIELDS.values())},
    "S2": {(): _keys("draw step value date")},  # draws.steps_of
    "M1": {(): _keys("kind date")},  # a mandate log's act: confed.act_records
    "C5": {(): _keys("name threshold qualified assembly_quorum deadline_days protected")},
    "C6": {(): _keys("attribute min")},  # parity.parse_parity
}
CHARTER_ROOT: Final = _keys("format founded members confederations rules")  # charter.read_charter
# By rule, a record's `kind` and what a record of that kind must hold, not null: what it
# points at (a recall its mandate...), or the map its kind is about.
BY_KIND: Final[dict[str, dict[str, frozenset[str]]]] = {
    "L5": {"recall": _keys("subject"), "charter-acceptance": _keys("subject"),
           "ratification": _keys("subject"), "reopening": _keys("subject reopening"),
           "proposal": _keys("proposal"), "bylaws": _keys("bylaws"), "sortition": _keys("sortition")},
    "M1": {"vote": _keys("proposal position binding"), "withdraw": _keys("proposal"),  # confed.Act
           "sign": _keys("text"), "report": _keys("text")},
}


def lacking(required: frozenset[str], keys: set[str] | None) -> list[str]:
    """The keys of `required` not among `keys` (those written in a map), sorted."""
    if keys is not None and required <= keys:  # compiled: one comparison, no method call
        return []
    return sorted(required - keys) if keys is not None else sorted(required)


def record_lacks(rule: str, rel: Path, path: Path, keys: set[str] | None,
                 values: dict[Path, object]) -> list[str]:
    """What the map made at `path` lacks, sorted: `rel` is its path inside the object of row
    `rule`, `keys` the keys the change wrote in it, `values` every value the change put."""
    by_path = REQUIRED.get(rule)
    required = by_path.get(rel) if by_path is not None else None
    out = lacking(required, keys) if required is not None else []
    by_kind = BY_KIND.get(rule) if not rel else None
    if by_kind is not None:
        # a decision's path at once: compiled, the starred form builds a list first (measured)
        kind = values.get((path[0], path[1], "kind") if len(path) == 2 else (*path, "kind"))
        if isinstance(kind, str) and kind in by_kind:
            out += sorted(f"{k} (kind {kind})" for k in by_kind[kind] if values.get((*path, k)) is None)
    return out
