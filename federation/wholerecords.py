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

from collections.abc import Collection, Mapping
from typing import Final

from .economy import FIELDS as ECONOMY_FIELDS

Path = tuple[str, ...]
W_WHOLE: Final = "W10"
RECORD: Final = "{record}"
ITEM: Final = "{item}"


def _keys(words: str) -> frozenset[str]:
    return frozenset(words.split())


# By the path of a map made, as the table of ledger.md writes it (a row's path, then the
# field's path inside it), which no two kinds of document share (a charter's root is ()):
# the keys it must hold.
REQUIRED: Final[dict[Path, frozenset[str]]] = {
    ("profile",): _keys("assembly name"),  # ledger.read_profile
    ("decisions", RECORD): _keys("title text date for against abstain kind"),  # ledger._decision
    ("decisions", RECORD, "proposal"): _keys("confederation kind"),  # confed._proposal_body
    ("decisions", RECORD, "reopening"): _keys("by"),  # reopening.py
    ("mandates", RECORD): _keys("delegate council term_from term_until instructions decision"),
    ("mandates", RECORD, "instructions", ITEM): _keys("question position binding"),
    ("mandates", RECORD, "co_delegates", ITEM): _keys("delegate"),
    # economy.check_record: every field, `supersedes` included (null when it revises nothing)
    **{(name, RECORD): frozenset(fields) for name, fields in ECONOMY_FIELDS.items()},
    ("sortition", RECORD): _keys("draw step value date"),  # draws.steps_of
    (RECORD,): _keys("kind date"),  # a mandate log's act: confed.act_records
    (): _keys("format founded members confederations rules"),  # charter.read_charter
    ("rules",): _keys("name threshold qualified assembly_quorum deadline_days protected"),
    ("parity",): _keys("attribute min"),  # parity.parse_parity
}
# A record's `kind` and what a record of that kind must hold, not null: what it points at
# (a recall its mandate...), or the map its kind is about.
BY_KIND: Final[dict[Path, dict[str, frozenset[str]]]] = {
    ("decisions", RECORD): {
        "recall": _keys("subject"), "charter-acceptance": _keys("subject"),
        "ratification": _keys("subject"), "reopening": _keys("subject reopening"),
        "proposal": _keys("proposal"), "bylaws": _keys("bylaws"), "sortition": _keys("sortition")},
    (RECORD,): {  # confed.Act
        "vote": _keys("proposal position binding"), "withdraw": _keys("proposal"),
        "sign": _keys("text"), "report": _keys("text")},
}


def lacking(pattern: Path, path: Path, keys: Collection[str] | None,
            values: Mapping[Path, object]) -> list[str]:
    """What the map made at `path` (whose table path is `pattern`) lacks, sorted: `keys` are
    the keys the change wrote in it, `values` every value the change put, by path."""
    required = REQUIRED.get(pattern)
    if required is None:
        return []
    held = keys if keys is not None else ()
    out = [] if required.issubset(held) else sorted(k for k in required if k not in held)
    by_kind = BY_KIND.get(pattern)
    if by_kind is None:
        return out
    kind = values.get((*path, "kind"))
    if isinstance(kind, str) and kind in by_kind:
        out += sorted(f"{k} (kind {kind})" for k in by_kind[kind] if values.get((*path, k)) is None)
    return out
