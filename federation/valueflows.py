"""The plan in Valueflows terms, as JSON-LD, for tools that plan economic networks.

Valueflows (https://www.valueflo.ws/) names what pnyx records: a need is an
Intent with a receiver, an offer an Intent with a provider; a pledge that both
sides recorded is a Commitment that is a clause of an Agreement between them;
a delivery an EconomicEvent fulfilling it; each line of the match proposal a
Proposal publishing the offer with the need as its reciprocal; a good in the
commons register an EconomicResource with its custodian primarily accountable.
Only the plan's own bytes are normative (protocol-spec/economy.md); this is a
deterministic translation of them, also pure.
"""

from __future__ import annotations

from typing import Any

Record = dict[str, Any]
CONTEXT: Record = {
    "vf": "https://w3id.org/valueflows/ont/vf#",
    "om2": "http://www.ontology-of-units-of-measure.org/resource/om-2/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "pnyx": "urn:pnyx:",
}


def _node(kind: str, ref: str) -> str:
    return f"pnyx:{kind}/{ref}"


def _measure(quantity: int, unit: str) -> Record:
    return {"@type": "om2:Measure", "om2:hasNumericalValue": quantity, "om2:hasUnit": unit}


def _agent(assembly: str) -> Record:
    return {"@id": _node("assembly", assembly)}


def plan_jsonld(plan: Record) -> Record:
    """The JSON-LD graph of a plan as render_plan gives it (parsed)."""
    graph: list[Record] = []
    for confederation in plan["confederations"]:
        scope = {"@id": _node("confederation", confederation["id"])}
        for line in confederation["items"]:
            graph.extend(_line(line, scope))
        for good in confederation["commons"]:
            graph.append({
                "@id": _node("commons", good["record"]), "@type": "vf:EconomicResource",
                "vf:name": good["good"], "vf:note": good["rules"],
                "vf:primaryAccountable": _agent(good["custodian"]), "vf:inScopeOf": scope})
    return {"@context": CONTEXT, "@id": f"pnyx:plan/{plan['as_of']}",
            "pnyx:asOf": {"@value": plan["as_of"], "@type": "xsd:date"}, "@graph": graph}


def _line(line: Record, scope: Record) -> list[Record]:
    unit, item = line["unit"], line["item"]
    out: list[Record] = []
    for need in line["needs"]:
        out.append({
            "@id": _node("need", need["id"]), "@type": "vf:Intent", "vf:action": "transfer",
            "vf:receiver": _agent(need["assembly"]), "vf:resourceClassifiedAs": item,
            "vf:resourceQuantity": _measure(need["quantity"], unit), "vf:due": need["by"],
            "vf:finished": need["state"] in ("met", "withdrawn", "lapsed"), "vf:note": need["note"],
            "pnyx:priority": need["priority"], "pnyx:state": need["state"], "vf:inScopeOf": scope})
    for offer in line["offers"]:
        out.append({
            "@id": _node("offer", offer["id"]), "@type": "vf:Intent", "vf:action": "transfer",
            "vf:provider": _agent(offer["assembly"]), "vf:resourceClassifiedAs": item,
            "vf:availableQuantity": _measure(offer["quantity"], unit),
            "vf:hasBeginning": offer["from"], "vf:hasEnd": offer["until"],
            "vf:finished": offer["state"] in ("withdrawn", "expired"), "vf:note": offer["conditions"],
            "pnyx:state": offer["state"], "vf:inScopeOf": scope})
    for pledge in line["pledges"]:
        pair = f"{pledge['need']}+{pledge['offer']}"
        provider, receiver = pledge["offer"].partition("/")[0], pledge["need"].partition("/")[0]
        sides = {"vf:provider": _agent(provider), "vf:receiver": _agent(receiver)}
        if pledge["state"] == "agreed":
            out.append({"@id": _node("agreement", pair), "@type": "vf:Agreement",
                        "vf:stipulates": {"@id": _node("pledge", pair)}})
        if pledge["state"] != "none":
            out.append({
                "@id": _node("pledge", pair), "@type": "vf:Commitment", "vf:action": "transfer",
                **sides, "vf:resourceClassifiedAs": item,
                "vf:resourceQuantity": _measure(pledge["agreed"] or pledge["provider"]
                                                or pledge["receiver"] or 0, unit),
                "vf:satisfies": [{"@id": _node("need", pledge["need"])},
                                 {"@id": _node("offer", pledge["offer"])}],
                "pnyx:state": pledge["state"],
                **({"vf:clauseOf": {"@id": _node("agreement", pair)}}
                   if pledge["state"] == "agreed" else {})})
        for side, quantity in (("provider", pledge["delivered"]), ("receiver", pledge["received"])):
            if quantity:
                out.append({
                    "@id": _node(f"delivery-{side}", pair), "@type": "vf:EconomicEvent",
                    "vf:action": "transfer", **sides, "vf:resourceClassifiedAs": item,
                    "vf:resourceQuantity": _measure(quantity, unit),
                    "vf:fulfills": {"@id": _node("pledge", pair)}, "pnyx:recordedBy": side})
    for n, match in enumerate(line["proposal"]):
        out.append({
            "@id": _node("proposal", f"{line['confederation']}/{item}/{unit}/{n}"), "@type": "vf:Proposal",
            "vf:unitBased": False, "vf:inScopeOf": scope,
            "vf:publishes": [
                {"@type": "vf:ProposedIntent", "vf:reciprocal": False,
                 "vf:publishes": {"@id": _node("offer", match["offer"])}},
                {"@type": "vf:ProposedIntent", "vf:reciprocal": True,
                 "vf:publishes": {"@id": _node("need", match["need"])}}],
            "vf:note": f"{match['quantity']} {unit} of {item}"})
    return out
