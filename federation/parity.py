"""Parity of delegations: what a charter may require of each member's delegates to its council.

protocol-spec/charter.md "Parity" is normative. A charter may carry `parity`:
`{attribute, min: {value: count}, share?: "p/q"}`. Each assembly declares the
attribute for its delegates in the mandates it issues (a mandate's
`attributes`, and each co-delegate's). A member's **delegation** to the
council on a day is every delegate (main and co-delegates) of its adopted,
unrecalled mandates to that council whose term covers the day. It meets
parity when, for every value named in `min`, at least that many delegates
declare it, and, with `share`, each such value holds at least that share of
the delegation. An undeclared attribute counts for no value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from .amvalues import Plain

MAX_VALUES = 20
MAX_COUNT = 100


def parse_parity(value: Plain) -> dict[str, Any] | None:
    """A charter's `parity`, checked; ValueError for anything else. None: no parity required."""
    if value is None:
        return None
    if not isinstance(value, Mapping) or set(value) - {"attribute", "min", "share"} or \
            not {"attribute", "min"} <= set(value):
        raise ValueError("parity: a map of attribute, min and optionally share")
    attribute, minimum = value["attribute"], value["min"]
    if not isinstance(attribute, str) or not attribute.strip():
        raise ValueError("parity.attribute: a text")
    if not isinstance(minimum, Mapping) or not 1 <= len(minimum) <= MAX_VALUES or not all(
            isinstance(k, str) and isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_COUNT
            for k, n in minimum.items()):
        raise ValueError(f"parity.min: 1 to {MAX_VALUES} values, each a count from 0 to {MAX_COUNT}")
    out: dict[str, Any] = {"attribute": attribute, "min": dict(sorted(minimum.items()))}
    if "share" in value:
        share = value["share"]
        if not isinstance(share, str) or "/" not in share:
            raise ValueError("parity.share: a share p/q")
        parsed = Fraction(share)
        if not 0 < parsed <= 1:
            raise ValueError("parity.share: above 0, at most 1")
        out["share"] = f"{parsed.numerator}/{parsed.denominator}"
    return out


def parity_gap(parity: Mapping[str, Any], declared: Sequence[Mapping[str, str]]) -> str | None:
    """Why a delegation whose delegates declare `declared` misses `parity`, or None if it meets it."""
    attribute = parity["attribute"]
    counts = {v: sum(1 for d in declared if d.get(attribute) == v) for v in parity["min"]}
    if not declared:
        return "no delegate in office"
    for value, least in parity["min"].items():
        if counts[value] < least:
            return f"{counts[value]} delegates of {attribute} {value}; the charter requires {least}"
    if "share" in parity:
        share = Fraction(parity["share"])
        for value in parity["min"]:
            if Fraction(counts[value], len(declared)) < share:
                return (f"{counts[value]} of {len(declared)} delegates of {attribute} {value}; "
                        f"the charter requires {parity['share']}")
    return None


def delegation(mandates: Mapping[str, Mapping[str, Any]], council: set[str],
               day: str) -> list[dict[str, Any]]:
    """The delegates (main and co-delegates, by mandate id) of one ledger's mandate records
    (view.md, "Records") in office at the council (named by any of `council`) on `day`."""
    out: list[dict[str, Any]] = []
    for mandate_id, m in sorted(mandates.items()):
        recall = m["recall"]
        if m["council"] not in council or m["outcome"] != "adopted" or m["issued"] > day \
                or not m["from"] <= day <= m["until"] or (recall is not None and recall["date"] <= day):
            continue
        out.append({"mandate": mandate_id, "delegate": m["delegate"], "delegate_key": m["delegate_key"],
                    "attributes": m["attributes"]})
        out.extend({"mandate": mandate_id, "delegate": c["delegate"], "delegate_key": c["delegate_key"],
                    "attributes": c["attributes"]} for c in m["co_delegates"])
    return out


def parity_report(parity: Mapping[str, Any], council: set[str], members: Sequence[tuple[str, str | None]],
                  ledgers: Mapping[str, Mapping[str, Any]], day: str) -> dict[str, Any]:
    """The view's `parity` of one confederation on `day`: per member assembly (key, name),
    its delegation and whether it meets `parity` (PA1-PA3), and whether all do. A member's
    ledger is always held: its acceptance, which made it a member, is read from it."""
    rows = []
    for assembly, name in members:
        delegates = delegation(ledgers[assembly]["mandates"], council, day)
        gap = parity_gap(parity, [d["attributes"] for d in delegates])
        rows.append({"assembly": assembly, "name": name, "delegates": delegates,
                     "met": gap is None, "reason": gap})
    return {"rule": dict(parity), "met": all(r["met"] for r in rows), "members": rows}
