"""Draws by lot as ledger records: a declaration voted by one assembly, commitments and reveals
recorded by the participants in their own ledgers, and the result anyone recomputes from them.

protocol-spec/sortition.md, "Draws in the ledgers" (rules SL1–SL5), is normative;
federation/sortition.py holds the arithmetic (pool, post, lottery, seed, pick).

- The **declaration** is a decision of kind `sortition` whose `sortition` map
  publishes the pool, the post, the lottery (portfolio), the participants and
  two dates: `commit_by` and `reveal_by`. Its draw reference is
  `ASSEMBLY_KEY/DECISION_ID`; the seed's draw id is that reference. Only an
  adopted declaration draws anything: a draw is the assembly's decision.
- Each participant records a **commitment** and later a **reveal** in the
  `sortition` collection of its own ledger, each a new record (never
  overwritten). Commitments count when dated from the declaration to
  `commit_by`; reveals when dated after `commit_by` and up to `reveal_by`, so a
  reveal can never be on record before every commitment's deadline.

`draw_result` is what every daemon computes from the same records, as of a
date, as plain JSON values: identical bytes on every machine.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from automerge.core import ROOT, Document, ObjType, Transaction

from .amvalues import Plain, put_value, read_map
from .docids import RECORD_ID_RE
from .keys import KEY_TEXT_CHARS, key_text, parse_key
from .ledger import parse_date
from .sortition import (
    Candidate,
    DrawError,
    Portfolio,
    Post,
    Quota,
    chances,
    check_portfolio,
    commitment,
    pick,
    seed,
)

SORTITION = "sortition"  # the decision kind that declares a draw, and the ledger collection of steps
COMMIT = "commit"
REVEAL = "reveal"
MAX_PARTICIPANTS = 50
DRAW_REF_RE = re.compile(rf"^[a-z2-7]{{{KEY_TEXT_CHARS}}}/[a-z2-7]{{16}}\Z")
_HEX32_RE = re.compile("[0-9a-f]{64}")
Record = dict[str, Any]


@dataclass(frozen=True)
class Declaration:
    """What a `sortition` decision publishes, checked (SL1)."""

    pool: dict[str, Candidate]
    post: Post
    portfolio: Portfolio
    participants: tuple[bytes, ...]
    commit_by: dt.date
    reveal_by: dt.date

    def plain(self) -> dict[str, Plain]:
        """The `sortition` map of the declaring decision, in its canonical form."""
        return {
            "pool": [{"id": c.id, "attributes": dict(sorted(c.attributes.items()))}
                     for c in self.pool.values()],
            "seats": self.post.seats,
            "quotas": [{"attribute": q.attribute, "value": q.value, "min": q.min, "max": q.max}
                       for q in self.post.quotas],
            "portfolio": [{"panel": list(panel), "weight": weight} for panel, weight in self.portfolio],
            "participants": [key_text(p) for p in self.participants],
            "commit_by": self.commit_by.isoformat(), "reveal_by": self.reveal_by.isoformat(),
        }


def _int(value: Any, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise DrawError("SL1", f"{what} is not a whole number")
    return value


def _str(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise DrawError("SL1", f"{what} is not a text")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise DrawError("SL1", f"{what} is not a list")
    return value


def _map(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DrawError("SL1", f"{what} is not a map")
    return value


def read_declaration(raw: Any, declared: dt.date) -> Declaration:
    """The declaration a decision dated `declared` publishes; DrawError naming the broken rule."""
    raw = _map(raw, "the sortition map")
    pool: dict[str, Candidate] = {}
    for entry in _list(raw.get("pool"), "the pool"):
        entry = _map(entry, "a candidate")
        cid = _str(entry.get("id"), "a candidate id")
        attributes = {_str(k, "an attribute"): _str(v, "an attribute value")
                      for k, v in _map(entry.get("attributes", {}), "attributes").items()}
        if cid in pool:
            raise DrawError("SP1", f"the candidate {cid[:64]} is in the pool twice")
        pool[cid] = Candidate(cid, attributes)
    quotas = tuple(Quota(_str(q.get("attribute"), "a quota's attribute"),
                         _str(q.get("value"), "a quota's value"),
                         _int(q.get("min"), "a quota's min"), _int(q.get("max"), "a quota's max"))
                   for q in (_map(x, "a quota") for x in _list(raw.get("quotas", []), "the quotas")))
    post = Post(_int(raw.get("seats"), "seats"), quotas)
    portfolio = tuple((tuple(_str(c, "a panel's candidate") for c in _list(p.get("panel"), "a panel")),
                       _int(p.get("weight"), "a weight"))
                      for p in (_map(x, "a panel") for x in _list(raw.get("portfolio"), "the portfolio")))
    check_portfolio(pool, post, portfolio)
    try:
        participants = tuple(parse_key(_str(k, "a participant")) for k in
                             _list(raw.get("participants"), "the participants"))
        commit_by = parse_date(_str(raw.get("commit_by"), "commit_by"))
        reveal_by = parse_date(_str(raw.get("reveal_by"), "reveal_by"))
    except ValueError as exc:
        raise DrawError("SL1", str(exc)) from None
    if len(set(participants)) != len(participants) or not 2 <= len(participants) <= MAX_PARTICIPANTS:
        raise DrawError("SL1", f"a draw names 2 to {MAX_PARTICIPANTS} distinct participant assemblies")
    if not declared <= commit_by < reveal_by:
        raise DrawError("SL1", f"the dates must run declared ({declared}) <= commit_by ({commit_by}) "
                               f"< reveal_by ({reveal_by})")
    return Declaration(pool, post, portfolio, participants, commit_by, reveal_by)


# --- the steps: commitments and reveals ----------------------------------------------------


def step_record(draw: str, step: str, value: bytes, date: dt.date) -> Record:
    """A commitment (the 32-byte hash) or a reveal (the 32-byte secret), as written."""
    return {"draw": draw, "step": step, "value": value.hex(), "date": date.isoformat()}


def write_step(tx: Transaction, record_id: str, record: Record) -> None:
    """A new record in the `sortition` collection; nothing is ever overwritten (SL2).

    The collection must exist (the genesis made it): a writer never creates one, since two
    devices doing so offline would make two maps under one key (ledger.md)."""
    found = tx.get(ROOT, SORTITION)
    if found is None or found[0] != ObjType.Map:
        raise DrawError("SL2", "this ledger has no sortition collection (it was founded before "
                               "pnyx recorded draws)")
    if tx.get(found[1], record_id) is not None:
        raise DrawError("SL2", f"record {record_id} exists already")
    put_value(tx, found[1], record_id, record)


def read_steps(doc: Document) -> dict[str, Record]:
    """The well-formed records of a ledger's `sortition` collection, by id; others skipped."""
    return steps_of(read_map(doc, SORTITION))


def steps_of(entries: Mapping[str, Plain]) -> dict[str, Record]:
    """read_steps from the collection's entries (plain values, by id)."""
    out: dict[str, Record] = {}
    for record_id, raw in sorted(entries.items()):
        if not RECORD_ID_RE.match(record_id) or not isinstance(raw, dict):
            continue
        draw, step, value, date = (raw.get(k) for k in ("draw", "step", "value", "date"))
        if not (isinstance(draw, str) and DRAW_REF_RE.match(draw) and step in (COMMIT, REVEAL)
                and isinstance(value, str) and _HEX32_RE.fullmatch(value) and isinstance(date, str)):
            continue
        try:
            parse_date(date)
        except ValueError:
            continue
        out[record_id] = {"draw": draw, "step": step, "value": value, "date": date}
    return out


def _first(steps: Mapping[str, Record], draw: str, step: str, lo: dt.date, hi: dt.date,
           ok: Any = None) -> tuple[str, Record] | None:
    """The earliest record (by date, then id) of `step` for `draw` dated within lo..hi."""
    found = sorted((r["date"], k) for k, r in steps.items()
                   if r["draw"] == draw and r["step"] == step
                   and lo.isoformat() <= r["date"] <= hi.isoformat() and (ok is None or ok(r)))
    return (found[0][1], dict(steps[found[0][1]])) if found else None


# --- the result -------------------------------------------------------------------------------


def fraction_text(f: Fraction) -> str:
    return f"{f.numerator}/{f.denominator}"


def draw_result(draw: str, raw: Any, declared: dt.date, adopted: bool,
                steps: Mapping[bytes, Mapping[str, Record] | None], as_of: dt.date) -> dict[str, Any]:
    """Everything a reader recomputes of one draw as of `as_of`, as plain JSON values.

    `steps` maps each participant's key to its ledger's `sortition` records, or None if
    its ledger is not held. Status: `rejected` (the declaration was not adopted),
    `invalid` (it breaks a rule), `committing`, `revealing`, `drawn`, `void` (a
    commitment or reveal missing after its deadline), or `incomplete` (a participant's
    ledger is not held here, so this daemon cannot say)."""
    out: dict[str, Any] = {"draw": draw, "declared": declared.isoformat(), "as_of": as_of.isoformat()}
    try:
        decl = read_declaration(raw, declared)
    except DrawError as exc:
        return {**out, "status": "invalid", "reason": str(exc)}
    out.update(decl.plain())
    out["chances"] = {cid: fraction_text(f) for cid, f in chances(decl.pool, decl.portfolio).items()}
    if not adopted:
        return {**out, "status": "rejected", "reason": "the declaring decision was not adopted"}
    committed: dict[bytes, bytes] = {}
    revealed: dict[bytes, bytes] = {}
    rows = []
    reveal_from = decl.commit_by + dt.timedelta(days=1)
    for assembly in sorted(decl.participants):
        held = steps.get(assembly)
        row: dict[str, Any] = {"assembly": key_text(assembly), "held": held is not None,
                               "commitment": None, "committed": None, "revealed": None, "secret": None}
        commit = None if held is None else _first(held, draw, COMMIT, declared, min(decl.commit_by, as_of))
        if held is not None and commit is not None:
            value = bytes.fromhex(commit[1]["value"])
            committed[assembly] = value
            row.update(commitment=commit[1]["value"], committed=commit[1]["date"])
            reveal = _first(held, draw, REVEAL, reveal_from, min(decl.reveal_by, as_of),
                            lambda r, a=assembly, v=value: _matches(draw, a, r, v))
            if reveal is not None:
                revealed[assembly] = bytes.fromhex(reveal[1]["value"])
                row.update(revealed=reveal[1]["date"], secret=reveal[1]["value"])
        rows.append(row)
    out["participants"] = rows
    if len(committed) < len(decl.participants):
        missing_ledger = any(not r["held"] for r in rows)
        if as_of <= decl.commit_by:
            return {**out, "status": "committing", "reason": "waiting for commitments"}
        if missing_ledger:
            return {**out, "status": "incomplete", "reason": "a participant's ledger is not held here"}
        return {**out, "status": "void", "reason": f"a participant did not commit by {decl.commit_by}"}
    if len(revealed) < len(committed):
        if as_of <= decl.reveal_by:
            return {**out, "status": "revealing", "reason": "waiting for reveals"}
        return {**out, "status": "void", "reason": f"a participant did not reveal by {decl.reveal_by}"}
    draw_seed = seed(draw, committed, revealed)
    return {**out, "status": "drawn", "reason": "every participant committed and revealed",
            "seed": draw_seed.hex(), "panel": list(pick(decl.portfolio, draw_seed))}


def _matches(draw: str, assembly: bytes, record: Record, commitment_value: bytes) -> bool:
    """A reveal counts only if its secret hashes to the participant's commitment (SD2)."""
    return commitment(draw, assembly, bytes.fromhex(record["value"])) == commitment_value


def participant_keys(raw: Any) -> list[bytes]:
    """The participant keys a declaration's `sortition` map names, as far as they parse (a
    declaration with others is invalid anyway)."""
    listed = raw.get("participants") if isinstance(raw, Mapping) else None
    out = []
    for text in listed if isinstance(listed, list) else []:
        try:
            out.append(parse_key(text))
        except (ValueError, TypeError):
            continue
    return out


def view_draws(ledgers: Mapping[str, Record], as_of: dt.date, assemblies: set[str] | None) -> list[Record]:
    """The view's `draws`: every draw declared by as-of in the ledgers' records (view.md,
    "Records"), or in those of `assemblies`, by (assembly, decision id), each recomputed
    from the commitments and reveals held, with its title."""
    out = []
    for assembly in sorted(ledgers):
        if assemblies is not None and assembly not in assemblies:
            continue
        for decision_id, d in sorted(ledgers[assembly]["draws"].items()):
            if d["date"] > as_of.isoformat():
                continue
            steps = {p: ledgers[key_text(p)]["sortition"] if key_text(p) in ledgers else None
                     for p in participant_keys(d["sortition"])}
            out.append(draw_result(f"{assembly}/{decision_id}", d["sortition"],
                                   dt.date.fromisoformat(d["date"]), d["adopted"], steps, as_of)
                       | {"title": d["title"]})
    return out
