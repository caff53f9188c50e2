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

from .sqlite import Store

WATCH_INTERVAL = 0.2


class StoreWatch:
    def __init__(self, store: Store, interval: float = WATCH_INTERVAL) -> None:
        self.store = store
        self.interval = interval
        self.seqno = store.last_seqno()
        self.closed = False
        self._moved = asyncio.Event()

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(self.interval)
            self.check()

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
