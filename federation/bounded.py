"""Bounded memories: caches and memos whose keys a peer or a file chooses, so each keeps at
most a fixed number of entries, in insertion order."""

from __future__ import annotations

import itertools
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def make_room(memory: dict[K, V], most: int) -> None:
    """Before adding to `memory`, which keeps at most `most` entries: once full, forget its
    older half. Ingest mostly asks about the changes that came last (a change's deps, the
    state of `devices` they share), so these stay remembered: forgetting everything at once
    made every later change read again what its dependency had already read."""
    if len(memory) >= most:
        for key in list(itertools.islice(memory, len(memory) // 2)):
            del memory[key]


def keep(memory: dict[K, V], key: K, value: V, most: int) -> V:
    """`memory[key] = value` in a memory of at most `most` entries (room made first); `value`.
    For the memos of compiled modules whose misses are rare: a call into source code."""
    make_room(memory, most)
    memory[key] = value
    return value
