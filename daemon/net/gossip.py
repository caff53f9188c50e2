"""The gossip scheduler inside `pnyx run`: when to sync with whom.

- Push at once: the store is watched (daemon/store/watch.py, the same watch that feeds
  the API's event stream: its highest arrival number, polled every
  `watch_interval` seconds), so a change recorded by this daemon, by a CLI
  process on the same data directory, or received from a peer is offered to
  every known peer within a fraction of a second. That also relays other
  assemblies' records onward.
- Pull-push: every `interval` seconds (times a random factor in [0.5, 1.5))
  a full exchange with `fanout` random peers, and one peer is asked for the
  peers it knows.
- Unreachable peers back off exponentially (daemon/store/peers.py); exchanges with
  one peer never overlap: a request to sync while one runs makes one more
  run afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
from pnyx.federation.keys import key_text
from pnyx.federation.sync import BATCH_ENVELOPES

from ..store.faults import fault
from ..store.peers import PeerBook
from ..store.watch import StoreWatch
from .identity import Unproven, proven_key
from .sync_client import SyncFailed, fetch_peers, new_session, sync_with
from .sync_endpoint import SyncContext

log = logging.getLogger("pnyx.gossip")


@contextlib.contextmanager
def store_faults_logged(what: str) -> Iterator[None]:
    """A full disk or a damaged store stops this round, not gossip: logged in one line, and
    the next round tries again (the API answers the same fault as 507 or 503)."""
    try:
        yield
    except Exception as exc:
        found = fault(exc)
        if found is None:
            raise
        log.error("%s: %s", what, found)


@dataclass(frozen=True)
class GossipConfig:
    interval: float = 30.0
    fanout: int = 3
    watch_interval: float = 0.2
    push: bool = True
    batch: int = BATCH_ENVELOPES
    learn: bool = True  # add peers named by other peers, by inbound exchanges and by mDNS


class Gossip:
    def __init__(self, ctx: SyncContext, config: GossipConfig, rng: random.Random,
                 watch: StoreWatch) -> None:
        self.ctx = ctx
        self.watch = watch
        self.config = config
        self.rng = rng
        self.sessions = 0
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._session: aiohttp.ClientSession | None = None
        self._identities: dict[str, bytes] = {}  # url -> announced key checked or being checked
        self._checks: set[asyncio.Task[None]] = set()

    @property
    def peers(self) -> PeerBook:
        return self.ctx.peers

    async def run(self) -> None:
        """Gossip until cancelled."""
        async with new_session() as session:
            self._session = session
            try:
                await asyncio.gather(self._watch(), self._periodic())
            finally:
                for task in list(self._running.values()):
                    task.cancel()
                await asyncio.gather(*self._running.values(), return_exceptions=True)

    def kick(self, url: str) -> None:
        """Sync with `url` now, or once more right after the exchange under way.

        Before `run` has started this does nothing: `run` begins with every due peer."""
        if self._session is None:
            return
        if url in self._running:
            self._again.add(url)
        else:
            self._running[url] = asyncio.create_task(self._exchange_loop(url))

    def discovered(self, url: str, announced: bytes) -> None:
        """A neighbour heard on the local network: a proposed peer, synced with at once.

        Every announcement heard counts: a peer that was backing off after
        failed syncs (cut off, restarted) is retried as soon as it is heard
        again. The first time a URL announces a key, it is asked to prove it
        (daemon/net/identity.py); a peer that proves another key is flagged.
        """
        if not self.config.learn or url == self.ctx.advertise:
            return
        try:
            if self.peers.add(url, "discovered", time.time()):
                log.info("discovered peer %s", url)
        except ValueError:
            return
        self.peers.heard(url, announced, time.time())
        if self._session is not None and self._identities.get(url) != announced:
            self._identities[url] = announced
            task = asyncio.create_task(self._check_identity(url, announced))
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)
        if url in self.peers.due(time.time()):
            self.kick(url)

    async def _check_identity(self, url: str, announced: bytes) -> None:
        assert self._session is not None
        try:
            proven = await proven_key(self._session, url)
        except Unproven as exc:
            log.info("%s did not prove its key: %s", url, exc)
            if exc.bad_answer:
                self.peers.set_flag(url, f"announces {key_text(announced)} but its proof fails: {exc}")
            else:
                self._identities.pop(url, None)  # unreachable: ask again when it is heard again
            return
        if proven != announced:
            log.warning("%s announces device %s but proves %s", url, key_text(announced), key_text(proven))
            self.peers.set_flag(url, f"announces {key_text(announced)} but proves {key_text(proven)}")
        else:
            self.peers.set_flag(url, None)

    async def _watch(self) -> None:
        """Push whenever the store watch (daemon/store/watch.py) sees the arrival number move."""
        seen = self.watch.seqno
        for url in self.peers.due(time.time()):
            self.kick(url)
        while not self.watch.closed:
            moved = await self.watch.wait_beyond(seen, self.config.interval)
            if moved is None:
                continue
            seen = moved
            if self.config.push:
                for url in self.peers.due(time.time()):
                    self.kick(url)

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.config.interval * self.rng.uniform(0.5, 1.5))
            with store_faults_logged("a gossip round"):
                due = self.peers.due(time.time())
                for url in self.rng.sample(due, min(self.config.fanout, len(due))):
                    self.kick(url)
                if due and self.ctx.learn:
                    await self._learn_from(self.rng.choice(due))

    async def _learn_from(self, url: str) -> None:
        assert self._session is not None
        try:
            urls = await fetch_peers(self._session, url, self.ctx.advertise)
        except SyncFailed as exc:
            log.info("peer list from %s: %s", url, exc)
            return
        for learned in urls:
            if learned == self.ctx.advertise:
                continue
            try:
                if self.peers.add(learned, "learned", time.time()):
                    log.info("learned peer %s from %s", learned, url)
                    self.kick(learned)
            except ValueError:
                continue

    async def _exchange_loop(self, url: str) -> None:
        try:
            while True:
                self._again.discard(url)
                with store_faults_logged(f"sync with {url}"):
                    await self._exchange(url)
                if url not in self._again:
                    return
        finally:
            self._running.pop(url, None)

    async def _exchange(self, url: str) -> None:
        assert self._session is not None
        self.sessions += 1
        try:
            outcome = await sync_with(self._session, self.ctx.node, self.ctx.holdings, url,
                                      self.ctx.advertise, limit=self.config.batch)
        except SyncFailed as exc:
            delay = self.peers.failed(url, str(exc), time.time(), self.rng.random())
            log.info("sync with %s failed (%s); next try in %.1f s", url, exc, delay)
            if exc.outcome is not None:
                self.peers.count_rejected(url, exc.outcome.received.rejected)
            return
        if outcome.peer_key == self.ctx.node.device_key.public:
            self.peers.mark_self(url)
            return
        received = outcome.received
        self.peers.succeeded(url, outcome.peer_key, time.time(), outcome.progress.pushed,
                             received.accepted)
        self.peers.count_rejected(url, received.rejected)
        if received.accepted or received.rejected or outcome.progress.pushed:
            log.info("sync with %s: received %d new (%d rejected), sent %d", url, received.accepted,
                     len(received.rejected), outcome.progress.pushed)
