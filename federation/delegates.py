"""Mandates as of a date, and every delegate act judged against its mandate.

protocol-spec/view.md, "Mandates and delegate acts": the term, then the
recall (judged causally: whether the act had seen the recall, or the recall
the act), then the instructions. Used by the view for its mandate list and
for the indicative tendency of delegates on pending proposals. Every delegate and
co-delegate of a mandate acts in its one log; each act says who acted (`by`).
"""

from __future__ import annotations

import datetime as dt

from .confed import Record
from .recordset import RecordSet
from .rotation import Term, charter_breach, person


def majority(votes_for: int, against: int) -> str:
    return "for" if votes_for > against else "against" if against > votes_for else "tie"


def replacements(acts: dict[str, Record], as_of: dt.date) -> dict[str, str]:
    """act id -> the act that replaces it: one standing act per proposal and mandate log.

    Among the acts dated by as-of: an act named in `replaces` by another act on the same
    proposal is replaced by it; of the acts on a proposal left, all but the last by
    (date, id) are replaced by that last one (acts written concurrently)."""
    today = as_of.isoformat()
    dated = {k: a for k, a in sorted(acts.items())
             if a["date"] <= today and a["proposal"] is not None}
    out: dict[str, str] = {}
    for act_id, act in dated.items():
        earlier = dated.get(act["replaces"] or "")
        if earlier is not None and earlier["proposal"] == act["proposal"] and act["replaces"] != act_id:
            out.setdefault(act["replaces"], act_id)
    remaining: dict[str, list[tuple[str, str]]] = {}
    for act_id, act in dated.items():
        if act_id not in out:
            remaining.setdefault(act["proposal"], []).append((act["date"], act_id))
    for items in remaining.values():
        last = max(items)[1]
        out.update({act_id: last for _, act_id in items if act_id != last})
    return out


def standing_act(acts: dict[str, Record], proposal: str, as_of: dt.date) -> str | None:
    """The act (vote or withdrawal) that stands for a mandate log on `proposal` as of a day."""
    replaced = replacements(acts, as_of)
    left = [(a["date"], k) for k, a in acts.items() if a["proposal"] == proposal
            and k not in replaced and a["date"] <= as_of.isoformat()]
    return max(left)[1] if left else None


def classify(records: RecordSet, as_of: dt.date, assembly: str, mandate: Record,
             act: Record, replaced_by: str | None = None) -> tuple[str, str]:
    """(class, reason) of one delegate act; protocol-spec/view.md "Delegate acts"."""
    if mandate["outcome"] != "adopted":
        return "void", f"the mandate was not adopted: {mandate['outcome']}"
    if not mandate["from"] <= act["date"] <= mandate["until"]:
        return "void", "dated outside the mandate's term"
    recall = mandate["recall"]
    if recall is not None and recall["date"] <= as_of.isoformat():
        if act["saw_recall"]:
            return "void", f"recorded after the recall {recall['decision']} was known"
        if not act["seen_by_recall"]:
            return "disputed", (f"concurrent with the recall {recall['decision']}: "
                                "neither record had seen the other")
    if replaced_by is not None:
        return "replaced", f"replaced by the later act {replaced_by}"
    if act["kind"] == "withdraw":
        return "withdrawal", "the delegate's vote on this proposal is withdrawn"
    if act["kind"] == "report":
        return "within-mandate", "a report back to the assembly"
    if act["kind"] == "sign":
        covered = [i for i in mandate["instructions"] if i["question"] == act["text"]]
        if any(i["binding"] == "imperative" and i["position"] == "for" for i in covered):
            return "within-mandate", "the mandate instructs to sign this text"
        return "exceeds-mandate", "only a mandated delegate may co-sign; take it home for validation"
    proposal = records.proposals.get(act["proposal"])
    if proposal is not None:
        charter = records.charters.get(proposal["confederation"], {})
        councils = {proposal["confederation"], charter.get("rules", {}).get("name")}
        if mandate["council"] not in councils:
            return "exceeds-mandate", "the mandate is for another council"
    questions = {act["proposal"], act["proposal"].split("/")[-1]}
    if proposal is not None:
        questions.add(proposal["title"].strip().casefold())
    covered = [i for i in mandate["instructions"]
               if i["question"] in questions or i["question"].strip().casefold() in questions]
    imperative = [i for i in covered if i["binding"] == "imperative"]
    if imperative:
        if any(i["position"] == act["position"] for i in imperative):
            return "within-mandate", "as the mandate instructs"
        return "exceeds-mandate", "contrary to the mandate's instruction"
    if act["binding"] == "imperative":
        return "exceeds-mandate", "the mandate gives no imperative instruction on this question"
    ratified = records.ratifications.get(act["proposal"], {}).get(assembly)
    if ratified is not None and ratified["date"] <= as_of.isoformat():
        return "indicative-ratified", (f"the assembly has ratified: "
                                       f"{majority(ratified['for'], ratified['against'])}")
    return "indicative-awaiting-ratification", "the proposal goes back to the assembly"


def acted_by(mandate: Record, act: Record) -> tuple[str | None, str]:
    """(key, name) of the delegate who made `act`: its `by`, or the mandate's first delegate
    for an act without one (written before co-delegates could act)."""
    key = act.get("by") or mandate["delegate_key"]
    names = {c["delegate_key"]: c["delegate"] for c in mandate["co_delegates"]}
    return key, mandate["delegate"] if key == mandate["delegate_key"] else names.get(key, "")


def rotation_flag(records: RecordSet, as_of: dt.date, assembly: str, mandate_id: str,
                  mandate: Record) -> str | None:
    """Why an adopted mandate breaks the rotation: its bylaws' (RT1, RT2, read with the
    ledger), else that of the charter of its council (RT3), against the same ledger's
    adopted mandates issued by as-of."""
    bylaws: str | None = mandate["rotation"]
    if mandate["outcome"] != "adopted" or bylaws is not None:
        return bylaws
    today = as_of.isoformat()
    for charter_id, charter in sorted(records.charters.items()):
        names = {charter_id, charter["rules"]["name"]}
        if charter["rotation"] is None or mandate["council"] not in names:
            continue
        pool = [_term(k, m) for k, m in records.ledgers[assembly]["mandates"].items()
                if m["outcome"] == "adopted" and m["issued"] <= today]
        why = charter_breach(charter["rotation"], charter["rules"]["name"], names,
                             _term(mandate_id, mandate), pool)
        if why is not None:
            return why
    return None


def _term(mandate_id: str, m: Record) -> Term:
    return Term(mandate_id, person(m["delegate_key"], m["delegate"]), m["council"],
                dt.date.fromisoformat(m["from"]), dt.date.fromisoformat(m["until"]))


def mandate_rows(records: RecordSet, as_of: dt.date, councils: set[str] | None) -> list[Record]:
    """Every mandate issued by as-of, or those for one of `councils` (ids or names)."""
    out = []
    today = as_of.isoformat()
    for assembly in sorted(records.ledgers):
        for mandate_id, m in sorted(records.ledgers[assembly]["mandates"].items()):
            if m["issued"] > today or (councils is not None and m["council"] not in councils):
                continue
            recall = m["recall"] if m["recall"] and m["recall"]["date"] <= today else None
            state = ("not-adopted" if m["outcome"] != "adopted" else "recalled" if recall
                     else "expired" if today > m["until"]
                     else "not-yet-in-force" if today < m["from"] else "active")
            acts = []
            log = records.logs.get((assembly, mandate_id)) or {"acts": {}}
            replaced = replacements(log["acts"], as_of)
            for act_id, act in sorted(log["acts"].items()):
                if act["date"] <= today:
                    verdict, reason = classify(records, as_of, assembly, m, act, replaced.get(act_id))
                    by, name = acted_by(m, act)
                    acts.append({"id": act_id, "kind": act["kind"], "date": act["date"],
                                 "proposal": act["proposal"], "position": act["position"],
                                 "binding": act["binding"], "text": act["text"],
                                 "replaces": act["replaces"], "by": by, "delegate": name,
                                 "class": verdict, "reason": reason})
            out.append({"assembly": assembly, "mandate": mandate_id, "delegate": m["delegate"],
                        "delegate_key": m["delegate_key"],
                        "co_delegates": [{"delegate": c["delegate"], "delegate_key": c["delegate_key"]}
                                         for c in m["co_delegates"]],
                        "council": m["council"], "from": m["from"], "until": m["until"], "state": state,
                        "recalled_by": recall["decision"] if recall else None,
                        "rotation": rotation_flag(records, as_of, assembly, mandate_id, m), "acts": acts})
    return out
