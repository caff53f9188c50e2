"""How the CLI writes: through the running daemon's API if one serves the data
directory, else on the store itself — the same operation (daemon/services/writes.py) either way.

So a CLI write never lands in the store behind a running daemon's back: the
daemon records it with its own run's actor and announces it to its event
stream at once. Errors come back as the same one-line messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pnyx.client import ApiError, Client

from ..store.node import SetupError, open_node, read_api_token
from .bodies import BadRequest
from .presence import running_daemon
from .records import Recorder, RecordError
from .writes import WRITES, Result


def submit(data: Path, name: str, body: dict[str, Any], **params: str) -> Result:
    """Perform the write `name` with `body` (and path `params`); its JSON result."""
    write = WRITES[name]
    url = running_daemon(data)
    if url is None:
        node = open_node(data)
        try:
            return write.run(Recorder(node), params, body)
        finally:
            node.close()
    try:
        result: Result = Client(url, read_api_token(data)).post(write.url_path(params), body)
    except ApiError as exc:
        if exc.status == 400:
            raise BadRequest(exc.message) from None
        if 400 < exc.status < 500 and exc.status not in (401, 403):
            raise RecordError(exc.message) from None
        raise SetupError(f"the daemon at {url} refused: {exc}") from None
    except OSError as exc:
        raise SetupError(f"the daemon at {url} did not answer: {exc}") from None
    return result
