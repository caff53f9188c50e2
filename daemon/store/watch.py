"""Noticing that the store changed, whoever changed it.

Records arrive through this daemon (the API, a peer) or through another
process on the same data directory (the CLI without a daemon, a bundle
import). All of them raise the store's highest arrival number, so polling
that number — one indexed read — every `interval` seconds notices every one;
a write made here calls `check()` to be announced at once. Waiters (the
event streams) wake when it moves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from .sqlite import Store

WATCH_INTERVAL = 0.2
IDLE_AFTER = 10.0  # seconds without a new record before the daemon counts as idle


class StoreWatch:
    """Polls the store; after `idle_after` seconds in which nothing arrived, calls `on_idle`
    once (the document cache's tend: snapshots, then letting go of what was loaded)."""

    def __init__(self, store: Store, interval: float = WATCH_INTERVAL,
                 on_idle: Callable[[], None] | None = None, idle_after: float = IDLE_AFTER) -> None:
        self.store = store
        self.interval = interval
        self.seqno = store.last_seqno()
        self.closed = False
        self._moved = asyncio.Event()
        self._on_idle = on_idle
        self._idle_after = idle_after

    async def run(self) -> None:
        """Poll until cancelled."""
        quiet = 0.0
        while True:
            await asyncio.sleep(self.interval)
            before = self.seqno
            self.check()
            quiet = 0.0 if self.seqno != before else quiet + self.interval
            if self._on_idle is not None and quiet >= self._idle_after:
                self._on_idle()
                quiet = 0.0

    def check(self) -> None:
        last = self.store.last_seqno()
        if last != self.seqno:
            self.seqno = last
            self._wake()

    def close(self) -> None:
        """Wake every waiter for good: the daemon is stopping."""
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._moved.set()
        self._moved = asyncio.Event()

    async def wait_beyond(self, seen: int, timeout: float) -> int | None:
        """The arrival number once it differs from `seen`; None after `timeout` s or on close."""
        if self.seqno != seen and not self.closed:
            return self.seqno
        moved = self._moved
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(moved.wait(), timeout)
        return None if self.closed or self.seqno == seen else self.seqno
