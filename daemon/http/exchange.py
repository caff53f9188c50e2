"""Offline exchange through the local API: state files and bundles as downloads and uploads.

The same files as `pnyx state export`, `pnyx bundle export` and `pnyx bundle import`
(protocol-spec/bundles.md), so the web page can carry records on a USB stick
without a terminal. Exports are reads (no token, they reveal what any reader
of the API sees); an import writes and needs the token. An import is verified
exactly like sync: a damaged file keeps every valid record before the damage
and says where it stopped.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from pathlib import Path
from typing import IO, BinaryIO

from aiohttp import web
from pnyx.federation.bundle import BundleError, HeldState, decode_state, encode_state
from pnyx.federation.ledger import parse_date

from ..services.bodies import BadRequest
from ..services.records import RecordError, UnknownRecord
from ..store.bundles import ImportResult, export_selected, held_state, import_bundle, import_summary
from ..store.node import open_node
from .api import API_KEY, authorize, confederation_param

MAX_STATE_BYTES = 4 * 1024 * 1024  # a state file is a version vector per document: small
MAX_BUNDLE_BYTES = 256 * 1024 * 1024  # what a page may upload in one import
CHUNK = 64 * 1024
OCTETS = "application/octet-stream"


def attachment(body: bytes, filename: str) -> web.Response:
    return web.Response(body=body, content_type=OCTETS,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


async def read_body(request: web.Request, limit: int, into: IO[bytes]) -> int:
    """Copy the request body into `into`, refusing more than `limit` bytes (413)."""
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length,
                                            reason=f"this upload is at most {limit} bytes")
    size = 0
    async for chunk in request.content.iter_chunked(CHUNK):
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size,
                                                reason=f"this upload is at most {limit} bytes")
        into.write(chunk)
    return size


def since_param(request: web.Request) -> dt.date | None:
    text = request.query.get("since")
    try:
        return None if text is None else parse_date(text)
    except ValueError as exc:
        raise BadRequest(f"since: {exc}") from None


def bundle_bytes(request: web.Request, theirs: HeldState | None) -> bytes:
    """A bundle of what this store holds (filtered by `?since=` and `?confederation=`)."""
    node = request.app[API_KEY].node
    since, confed = since_param(request), confederation_param(request)
    with tempfile.TemporaryDirectory(dir=node.data) as scratch:
        path = Path(scratch) / "export.pnyx"
        try:
            export_selected(node, path, since, confed, theirs)
        except ValueError as exc:  # a confederation whose charter is not held here
            raise UnknownRecord(str(exc)) from None
        return path.read_bytes()


async def get_state(request: web.Request) -> web.Response:
    """GET /state: what this daemon holds, the file a neighbour answers with a bundle."""
    return attachment(encode_state(held_state(request.app[API_KEY].node)), "pnyx.state")


async def get_bundle(request: web.Request) -> web.Response:
    """GET /bundle: every record held (or those `?since=` a day, of `?confederation=`)."""
    return attachment(bundle_bytes(request, None), "pnyx-bundle.pnyx")


async def post_bundle_for_state(request: web.Request) -> web.Response:
    """POST /bundle/for-state: exactly what the daemon that wrote the posted state file lacks."""
    with tempfile.SpooledTemporaryFile(max_size=MAX_STATE_BYTES) as body:
        await read_body(request, MAX_STATE_BYTES, body)
        body.seek(0)
        try:
            theirs = decode_state(body.read())
        except BundleError as exc:
            raise RecordError(f"not a usable state file: {exc}") from None
    return attachment(bundle_bytes(request, theirs), "pnyx-bundle.pnyx")


def import_apart(data: Path, body: BinaryIO) -> ImportResult:
    """Import on a connection of its own, in a worker thread, as `pnyx bundle import` does
    beside a running daemon: verifying a large bundle never stalls the daemon's event loop,
    and the store watch announces what arrived."""
    node = open_node(data)
    try:
        return import_bundle(node, body, "uploaded to the local API")
    finally:
        node.close()


async def post_bundle_import(request: web.Request) -> web.Response:
    """POST /bundle/import: verify and store the posted bundle; what it brought.

    201 with `complete: false` and the error when the file is damaged after some
    valid records (those are kept); 422 when not even its header can be read."""
    ctx = request.app[API_KEY]
    authorize(request, ctx.token)
    with tempfile.TemporaryFile(dir=ctx.node.data) as body:
        await read_body(request, MAX_BUNDLE_BYTES, body)
        body.seek(0)
        result = await asyncio.to_thread(import_apart, ctx.node.data, body)
    if result.header is None:
        raise RecordError(f"not a bundle: {result.error}")
    ctx.watch.check()
    return web.json_response(import_summary("upload", result), status=201)


def add_exchange(api: web.Application) -> None:
    """Mount the exchange routes on the /api/v1 application `api`."""
    api.router.add_get("/state", get_state, allow_head=False)
    api.router.add_get("/bundle", get_bundle, allow_head=False)
    api.router.add_post("/bundle/for-state", post_bundle_for_state)
    api.router.add_post("/bundle/import", post_bundle_import)
