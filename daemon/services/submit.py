"""How the CLI writes: through the running daemon's API if one serves the data
directory, else on the store itself — the same operation (daemon/services/writes.py) either way.

So a CLI write never lands in the store behind a running daemon's back: the
daemon records it with its own run's actor and announces it to its event
stream at once. Errors come back as the same one-line messages.

Every write carries a request id (daemon/services/once.py): when the daemon
does not answer, the CLI tries again with the same id, through the daemon or,
if it is gone, on the store itself, for up to RETRY_SECONDS; it is recorded
at most once. If no try gets an answer, the CLI says that it cannot know
whether the write was stored, and how to retry it safely.
"""

from __future__ import annotations

import time
import uuid
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ..store.node import SetupError, open_node, read_api_token
from .bodies import BadRequest
from .once import run_once
from .presence import running_daemon
from .records import Recorder, RecordError
from .writes import WRITES, Result

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)  # `--request-id`
RETRY_SECONDS = 10.0
RETRY_PAUSE = 0.5


class Unknown(SetupError):
    """The write was sent but no answer came back: it may or may not be stored."""


def submit(data: Path, name: str, body: dict[str, Any], **params: str) -> Result:
    """Perform the write `name` with `body` (and path `params`); its JSON result."""
    write = WRITES[name]
    request_id = REQUEST_ID.get() or uuid.uuid4().hex
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        url = running_daemon(data)
        if url is None:
            node = open_node(data)
            try:
                return run_once(Recorder(node), write, params, body, request_id)[0]
            finally:
                node.close()
        from pnyx.client import ApiError, Client  # only with a daemon to send to (presence.py)

        try:
            result: Result = Client(url, read_api_token(data)).post(write.url_path(params), body,
                                                                   request_id)
            return result
        except ApiError as exc:
            if exc.status == 400:
                raise BadRequest(exc.message) from None
            if 400 < exc.status < 500 and exc.status not in (401, 403):
                raise RecordError(exc.message) from None
            raise SetupError(f"the daemon at {url} refused: {exc}") from None
        except OSError as exc:
            if time.monotonic() > deadline:
                raise Unknown(
                    f"the daemon at {url} did not answer ({exc}), so whether the write was stored "
                    f"is unknown; check with `pnyx show`, or run the same command again with "
                    f"--request-id {request_id}: it is then recorded at most once") from None
            time.sleep(RETRY_PAUSE)
