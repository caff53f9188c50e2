"""Writes carried out once per request id, so a retry after a lost reply records nothing twice.

A client names each write with a request id (the API's `Idempotency-Key`
header; the CLI makes one per command, or takes `--request-id`). The id, the
write, a digest of what was asked and the result are stored in the same
transaction as the write itself: either both are stored or neither. The same
id again answers the stored result without writing; the same id for another
write or another body is refused. Ids are kept for RETENTION seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from ..store.schema import create_schema
from ..store.sqlite import Store
from .bodies import BadRequest
from .records import Recorder
from .writes import Result, Write

SCHEMA = """
CREATE TABLE IF NOT EXISTS write_requests (
    id TEXT PRIMARY KEY,
    digest BLOB NOT NULL,
    result TEXT NOT NULL,
    at REAL NOT NULL
);
"""
RETENTION = 30 * 86_400.0
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
HEADER = "Idempotency-Key"


def check_request_id(text: str) -> str:
    if not REQUEST_ID.match(text):
        raise BadRequest(f"{HEADER}: 8 to 128 letters, digits or . _ : - (a UUID will do)")
    return text


def _digest(write: Write, params: Mapping[str, str], body: Mapping[str, Any]) -> bytes:
    asked = json.dumps([write.name, dict(params), body], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(asked.encode("utf-8", "surrogatepass")).digest()


def run_once(rec: Recorder, write: Write, params: Mapping[str, str], body: dict[str, Any],
             request_id: str | None) -> tuple[Result, bool]:
    """The write's result, and whether it was carried out now (False: an earlier try did it)."""
    if request_id is None:
        return write.run(rec, params, body), True
    store: Store = rec.node.store
    create_schema(store.db, SCHEMA)
    digest = _digest(write, params, body)
    with store.transaction():
        row = store.db.execute("SELECT digest, result FROM write_requests WHERE id = ?",
                               (request_id,)).fetchone()
        if row is not None:
            if bytes(row[0]) != digest:
                raise BadRequest(f"request id {request_id} was used for another write")
            stored: Result = json.loads(row[1])
            return stored, False
        result = write.run(rec, params, body)
        now = time.time()
        store.db.execute("DELETE FROM write_requests WHERE at < ?", (now - RETENTION,))
        store.db.execute("INSERT INTO write_requests (id, digest, result, at) VALUES (?,?,?,?)",
                         (request_id, digest, json.dumps(result), now))
    return result, True
