"""The local API under /api/v1/ (protocol-spec/openapi.yaml is normative).

JSON for everything the CLI reads and writes, served by `pnyx run` beside the
peer protocol. Reads are open to whoever may reach the API; writes need the
token of the data directory (`Authorization: Bearer TOKEN`). By default only
loopback clients are answered. Every error is JSON `{"error": {"status",
"message"}}`: 400 malformed body, 401 no or wrong token, 403 not loopback or
addressed to a name that is not this daemon's (daemon/http/access.py),
404 unknown id, 413 body too large, 422 a ledger rule refused it; in every
case nothing was written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pnyx.federation.docids import ledger_id
from pnyx.federation.errors import Rejected
from pnyx.federation.keys import key_text
from pnyx.federation.ledger import ECONOMY_COLLECTIONS, parse_date
from pnyx.federation.valueflows import plan_jsonld

from ..services.bodies import BadRequest, today
from ..services.draws import draw_row, draw_rows
from ..services.economy import listed_records
from ..services.jsonable import to_jsonable
from ..services.listing import (
    Lister,
    Listing,
    decision_listing,
    delegate_rows,
    device_rows,
    indexed_bylaws_row,
    mandate_listing,
)
from ..services.names import resolve_assembly, resolve_confederation
from ..services.once import HEADER, check_request_id, run_once
from ..services.parity import parity_rows
from ..services.records import Recorder, RecordError, UnknownRecord
from ..services.status import node_status
from ..services.writes import WRITES, Write
from ..store.audit import reverify
from ..store.node import Node
from ..store.peers import PeerBook, peer_rows
from ..store.viewindex import ViewIndex
from ..store.watch import StoreWatch
from .access import Access
from .events import stream

PREFIX = "/api/v1"
TOTAL = "Pnyx-Total"  # header of a listing: how many records there are, however many were listed
MAX_BODY_BYTES = 256 * 1024  # three texts of 20,000 characters in any script, with room


@dataclass
class ApiContext:
    node: Node
    recorder: Recorder
    token: str
    watch: StoreWatch
    access: Access
    view: ViewIndex
    _digest: tuple[tuple[int, dt.date], str] | None = None

    def view_digest(self) -> str:
        """A digest of today's confederal view, recomputed only when records or the day moved."""
        key = (self.watch.seqno, today())
        if self._digest is None or self._digest[0] != key:
            self._digest = (key, hashlib.sha256(self.view.render(key[1])).hexdigest())
        return self._digest[1]


API_KEY = web.AppKey("api", ApiContext)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"status": status, "message": message}}, status=status,
                             headers=headers)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Loopback only unless allowed; every failure as a JSON error."""
    refused = request.app[API_KEY].access.refuse(request)
    if refused is not None:
        return refused
    try:
        return await handler(request)
    except BadRequest as exc:
        return error(400, str(exc))
    except UnknownRecord as exc:
        return error(404, str(exc))
    except (RecordError, Rejected) as exc:
        return error(422, str(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error(exc.status, exc.reason, allow)


# --- reads ------------------------------------------------------------------------------


def assembly_of(request: web.Request) -> bytes:
    """The assembly a read is about: `?assembly=KEY_OR_NAME`, else this one; 404 if not held here."""
    node = request.app[API_KEY].node
    if "assembly" not in request.query:
        return node.assembly
    text = request.query["assembly"]
    assembly = resolve_assembly(node, text)
    if not node.store.holds_document(ledger_id(assembly)):
        raise UnknownRecord(f"no ledger of assembly {text} is held here")
    return assembly


def devices_of(request: web.Request) -> list[Any]:
    """The devices alone, as `pnyx show devices` reads them."""
    return device_rows(request.app[API_KEY].node.ingestor.ledgers, ledger_id(assembly_of(request)))


def one(rows: list[dict[str, Any]], request: web.Request, what: str) -> dict[str, Any]:
    found = [row for row in rows if row.get("id", row.get("key")) == request.match_info["id"]]
    if not found:
        raise UnknownRecord(f"unknown {what}: {request.match_info['id']}")
    return found[0]


async def get_status(request: web.Request) -> web.Response:
    node = request.app[API_KEY].node
    return web.json_response({**node_status(node), "seqno": node.store.last_seqno()})


async def get_assemblies(request: web.Request) -> web.Response:
    node = request.app[API_KEY].node
    out = []
    for doc_id in node.store.documents():
        if doc_id.startswith("ledger/"):
            profile = node.docs.profile(doc_id)  # from the genesis alone
            key = doc_id.removeprefix("ledger/")
            out.append({"key": key, "name": profile.name if profile else None,
                        "place": profile.place if profile else None,
                        "members": profile.members if profile else None,
                        "this": key == key_text(node.assembly)})
    return web.json_response(out)


def limit_of(request: web.Request) -> int | None:
    """`?limit=N`: only the newest N records of a listing; None: every one."""
    text = request.query.get("limit")
    try:
        limit = None if text is None else int(text)
    except ValueError:
        raise BadRequest(f"limit: a whole number, not {str(text)[:20]!r}") from None
    if limit is not None and limit < 1:
        raise BadRequest("limit: at least 1")
    return limit


def listed(request: web.Request, lister: Lister) -> Listing:
    """Decisions or mandates of the assembly a read is about, from the index of its records:
    the newest `?limit=N`, else every one."""
    limit = limit_of(request)
    node, doc_id = request.app[API_KEY].node, ledger_id(assembly_of(request))
    return lister(node.ingestor.ledgers, doc_id, node.docs.profile(doc_id), limit)


def listing_response(request: web.Request, lister: Lister) -> web.Response:
    found = listed(request, lister)
    return web.json_response(found.rows, headers={TOTAL: str(found.total)})


def one_listed(request: web.Request, lister: Lister, what: str) -> web.Response:
    node, doc_id = request.app[API_KEY].node, ledger_id(assembly_of(request))
    found = lister(node.ingestor.ledgers, doc_id, node.docs.profile(doc_id),
                   ids=[request.match_info["id"]]).rows
    if not found:
        raise UnknownRecord(f"unknown {what}: {request.match_info['id']}")
    return web.json_response(found[0])


async def get_ledger(request: web.Request) -> web.Response:
    """The ledger's profile, bylaws, devices and void records, with its decisions and mandates:
    the newest `?limit=N` of each (their `totals` say how many there are), else every one; and
    `delegates`, every mandate with its adopted recall, for the page's Delegates view."""
    limit = limit_of(request)
    assembly = assembly_of(request)
    node, doc_id = request.app[API_KEY].node, ledger_id(assembly)
    profile = node.docs.profile(doc_id)
    decisions = decision_listing(node.ingestor.ledgers, doc_id, profile, limit)
    mandates = mandate_listing(node.ingestor.ledgers, doc_id, profile, limit)
    return web.json_response({
        "assembly": key_text(assembly), "profile": to_jsonable(profile),
        "bylaws": indexed_bylaws_row(node.ingestor.ledgers, doc_id, profile, today()),
        "decisions": decisions.rows,
        "mandates": mandates.rows,
        "totals": {"decisions": decisions.total, "mandates": mandates.total},
        "delegates": delegate_rows(node.ingestor.ledgers, doc_id, profile),
        "devices": device_rows(node.ingestor.ledgers, doc_id),
        "void": [{"id": k, "reason": r} for k, r in sorted(decisions.void.items())],
    })


async def get_decisions(request: web.Request) -> web.Response:
    return listing_response(request, decision_listing)


async def get_decision(request: web.Request) -> web.Response:
    return one_listed(request, decision_listing, "decision")


async def get_bylaws(request: web.Request) -> web.Response:
    """The bylaws in force (as of `?as_of=`, default today) and every adopted change."""
    node, doc_id = request.app[API_KEY].node, ledger_id(assembly_of(request))
    return web.json_response(indexed_bylaws_row(node.ingestor.ledgers, doc_id, node.docs.profile(doc_id),
                                                as_of_param(request)))


async def get_mandates(request: web.Request) -> web.Response:
    return listing_response(request, mandate_listing)


async def get_mandate(request: web.Request) -> web.Response:
    return one_listed(request, mandate_listing, "mandate")


async def get_devices(request: web.Request) -> web.Response:
    return web.json_response(devices_of(request))


async def get_device(request: web.Request) -> web.Response:
    return web.json_response(one(devices_of(request), request, "device"))


async def get_verify(request: web.Request) -> web.Response:
    node = request.app[API_KEY].node
    report = reverify(node.store, node.data)
    return web.json_response({**to_jsonable(report), "ok": report.ok})


async def get_events(request: web.Request) -> web.StreamResponse:
    ctx = request.app[API_KEY]
    return await stream(request, ctx.watch, ctx.view_digest)


# --- the confederal view ------------------------------------------------------------------


def as_of_param(request: web.Request) -> dt.date:
    """`?as_of=YYYY-MM-DD`, default today (UTC): what the view and the plan are judged as of."""
    text = request.query.get("as_of")
    try:
        return today() if text is None else parse_date(text)
    except ValueError as exc:
        raise BadRequest(f"as_of: {exc}") from None


def view_of(request: web.Request, confederation: str | None = None) -> dict[str, Any]:
    """The confederal view as of `?as_of=` (default today), as federation/view.py renders it."""
    view: dict[str, Any] = json.loads(request.app[API_KEY].view.render(as_of_param(request),
                                                                       confederation))
    return view


def confederation_param(request: web.Request, name: str = "confederation") -> str | None:
    """A confederation by id or name, from the path or the query; 404 if no such is held."""
    text = request.match_info.get(name, request.query.get(name))
    return None if text is None else resolve_confederation(request.app[API_KEY].node, text)


async def get_view(request: web.Request) -> web.Response:
    return web.json_response(view_of(request, confederation_param(request)))


async def get_confederations(request: web.Request) -> web.Response:
    return web.json_response(view_of(request)["confederations"])


async def get_confederation(request: web.Request) -> web.Response:
    confederation = confederation_param(request, "id")
    found = [c for c in view_of(request, confederation)["confederations"] if c["id"] == confederation]
    if not found:
        raise UnknownRecord(f"no charter of confederation {confederation} is held here")
    return web.json_response(found[0])


def proposals(view: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**p, "confederation": c["id"]} for c in view["confederations"] for p in c["proposals"]]


async def get_proposals(request: web.Request) -> web.Response:
    return web.json_response(proposals(view_of(request, confederation_param(request))))


async def get_proposal(request: web.Request) -> web.Response:
    assembly = resolve_assembly(request.app[API_KEY].node, request.match_info["assembly"])
    pid = f"{key_text(assembly)}/{request.match_info['decision']}"
    found = [p for p in proposals(view_of(request)) if p["id"] == pid]
    if not found:
        raise UnknownRecord(f"unknown proposal: {pid}")
    return web.json_response(found[0])


# --- the economy: records and the confederal plan (protocol-spec/economy.md) --------------


def plan_of(request: web.Request) -> dict[str, Any]:
    plan: dict[str, Any] = json.loads(request.app[API_KEY].view.render_plan(
        as_of_param(request), confederation_param(request)))
    return plan


async def get_plan(request: web.Request) -> web.Response:
    return web.json_response(plan_of(request))


async def get_plan_jsonld(request: web.Request) -> web.Response:
    """The plan in Valueflows terms (federation/valueflows.py)."""
    return web.json_response(plan_jsonld(plan_of(request)), content_type="application/ld+json")


def economy_reader(collection: str) -> Handler:
    """GET /needs (offers, ...): every record of that collection of a ledger, revisions included."""
    async def handle(request: web.Request) -> web.Response:
        node = request.app[API_KEY].node
        return web.json_response(listed_records(node, assembly_of(request), collection))

    return handle


MAX_LISTED = 200


async def get_draws(request: web.Request) -> web.Response:
    """Every draw by lot declared in a ledger held here, recomputed as of `?as_of=`."""
    return web.json_response(draw_rows(request.app[API_KEY].view, as_of_param(request)))


async def get_draw(request: web.Request) -> web.Response:
    ctx = request.app[API_KEY]
    assembly = key_text(resolve_assembly(ctx.node, request.match_info["assembly"]))
    return web.json_response(draw_row(ctx.view, f"{assembly}/{request.match_info['decision']}",
                                      as_of_param(request)))


async def get_parity(request: web.Request) -> web.Response:
    """Per confederation requiring parity: each member's delegation and whether it meets it."""
    ctx = request.app[API_KEY]
    return web.json_response(parity_rows(ctx.view, as_of_param(request)))


async def get_peers(request: web.Request) -> web.Response:
    """Whom this daemon syncs with and how that went (as `pnyx peers --json`)."""
    return web.json_response(peer_rows(PeerBook(request.app[API_KEY].node.store), time.time()))


async def get_completeness(request: web.Request) -> web.Response:
    """What this store knows it lacks: changes waiting for missing ones, and member
    assemblies of the confederations held whose ledgers have not arrived."""
    node = request.app[API_KEY].node
    missing = node.store.pending.missing()
    held = {d.removeprefix("ledger/") for d in node.store.documents() if d.startswith("ledger/")}
    confederations = []
    for c in view_of(request)["confederations"]:
        units = [m["member"] for m in c["members"] if m["kind"] == "assembly"]
        confederations.append({"id": c["id"], "name": c["rules"]["name"], "assemblies": len(units),
                               "ledgers_missing": [u for u in units if u not in held]})
    return web.json_response({
        "pending": node.store.pending.count(), "missing": [h.hex() for h in missing[:MAX_LISTED]],
        "missing_count": len(missing), "confederations": confederations,
        "complete": not missing and all(not c["ledgers_missing"] for c in confederations)})


# --- writes -----------------------------------------------------------------------------


def authorize(request: web.Request, token: str) -> None:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
        reason = "no API token given" if not given else "wrong API token"
        raise web.HTTPUnauthorized(reason=f"{reason}: send Authorization: Bearer TOKEN "
                                          "(the token is in api.token in the data directory)")


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=request.content_length,
                                            reason=f"a body is at most {MAX_BODY_BYTES} bytes")
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY_BYTES, actual_size=len(raw),
                                            reason=f"a body is at most {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"malformed JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("the body holds a lone surrogate (\\ud800-\\udfff): not a character") from None
    return body


def write_handler(write: Write) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        ctx = request.app[API_KEY]
        authorize(request, ctx.token)
        body = await json_body(request)
        given = request.headers.get(HEADER)
        result, done_now = run_once(ctx.recorder, write, dict(request.match_info), body,
                                    None if given is None else check_request_id(given))
        ctx.watch.check()
        headers = None if done_now else {"Idempotent-Replayed": "true"}
        return web.json_response(result, status=201, headers=headers)

    return handle


READS: dict[str, Handler] = {
    "/status": get_status, "/assemblies": get_assemblies, "/ledger": get_ledger, "/bylaws": get_bylaws,
    "/decisions": get_decisions, "/decisions/{id}": get_decision,
    "/mandates": get_mandates, "/mandates/{id}": get_mandate,
    "/devices": get_devices, "/devices/{id}": get_device, "/verify": get_verify,
    "/events": get_events, "/view": get_view,
    "/confederations": get_confederations, "/confederations/{id}": get_confederation,
    "/completeness": get_completeness, "/peers": get_peers,
    "/proposals": get_proposals, "/proposals/{assembly}/{decision}": get_proposal,
    "/parity": get_parity, "/draws": get_draws, "/draws/{assembly}/{decision}": get_draw,
    "/plan": get_plan, "/plan.jsonld": get_plan_jsonld,
    **{f"/{collection}": economy_reader(collection) for collection in ECONOMY_COLLECTIONS},
}


# --- the application --------------------------------------------------------------------


def api_app(node: Node, token: str, access: Access, view: ViewIndex,
            watch: StoreWatch) -> web.Application:
    """The /api/v1 sub-application, reading the daemon's view index and store watch."""
    app = web.Application(middlewares=[guard])
    app[API_KEY] = ApiContext(node, Recorder(node, view=view), token, watch, access, view)
    for path, handler in READS.items():
        app.router.add_get(path, handler, allow_head=False)
    for write in WRITES.values():
        app.router.add_post(write.path, write_handler(write))
    return app
