"""Reading a text/event-stream (the WHATWG server-sent events format) line by line."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from .types import Event


def read_events(lines: Iterable[bytes]) -> Iterator[Event]:
    """Events of a stream; comments (keep-alives) and events whose data is not JSON are skipped."""
    kind, event_id, data = "message", None, []  # type: tuple[str, str | None, list[str]]
    for raw in lines:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if data:
                try:
                    payload = json.loads("\n".join(data))
                except ValueError:
                    payload = None
                if isinstance(payload, dict):
                    yield Event(type=kind, id=event_id, data=payload)
            kind, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value
