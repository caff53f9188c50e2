"""The gossip scheduler inside `pnyx run`: when to sync with whom.

- Push at once: the store is watched (daemon/store/watch.py, the same watch that feeds
  the API's event stream: its highest arrival number, polled every
  `watch_interval` seconds), so a change recorded by this daemon, by a CLI
  process on the same data directory, or received from a peer is pushed,
  itself and nothing else, to `fanout` random due peers within a fraction of
  a second. That also relays other assemblies' records onward. Whom and when
  is federation/gossip.py's policy, on the clock passed in.
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
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import aiohttp
from pnyx.federation.envelope import Envelope
from pnyx.federation.gossip import GossipPolicy
from pnyx.federation.keys import key_text
from pnyx.federation.sync import PULL_ENVELOPES
from pnyx.federation.syncmsg import Push, Pushed

from ..store.faults import fault
from ..store.peers import PeerBook
from ..store.watch import StoreWatch
from .identity import Unproven, proven_key
from .sync_client import SyncFailed, fetch_peers, new_session, post, sync_with
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
    batch: int = PULL_ENVELOPES
    learn: bool = True  # add peers named by other peers, by inbound exchanges and by mDNS
    follow: tuple[bytes, ...] | None = None  # the scopes reconciled (None: the whole store)

    @property
    def policy(self) -> GossipPolicy:
        return GossipPolicy(self.interval, self.fanout, self.push)


class Gossip:
    def __init__(self, ctx: SyncContext, config: GossipConfig, rng: random.Random,
                 watch: StoreWatch, clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.clock = clock
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

    def kick(self, url: str, fresh: tuple[Envelope, ...] | None = None) -> None:
        """Sync with `url` now (only push `fresh` if given), or run a full exchange right after
        the one under way, which carries `fresh` too.

        Before `run` has started this does nothing: `run` begins with every due peer."""
        if self._session is None:
            return
        if url in self._running:
            self._again.add(url)
        else:
            self._running[url] = asyncio.create_task(self._exchange_loop(url, fresh))

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
            if self.peers.add(url, "discovered", self.clock()):
                log.info("discovered peer %s", url)
        except ValueError:
            return
        self.peers.heard(url, announced, self.clock())
        if self._session is not None and self._identities.get(url) != announced:
            self._identities[url] = announced
            task = asyncio.create_task(self._check_identity(url, announced))
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)
        if url in self.peers.due(self.clock()):
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
        for url in self.peers.due(self.clock()):
            self.kick(url)
        while not self.watch.closed:
            moved = await self.watch.wait_beyond(seen, self.config.interval)
            if moved is None:
                continue
            since, seen = seen, moved
            peers = self.config.policy.push_peers(self.peers.due(self.clock()), self.rng)
            if peers:
                self._push_new(since, moved, peers)

    def _push_new(self, since: int, upto: int, peers: list[str]) -> None:
        """Eager push (protocol-spec/sync.md, "Gossip"): the changes stored after arrival number
        `since`, and only them, in one `push` to each peer; a full exchange when more than a
        batch arrived (a catch-up is the exchange's job, not the push's), or when some arrived
        vouched (no signature of their own: an exchange's batches carry their vouchers)."""
        fresh = list(itertools.islice((c.envelope for c in self.ctx.node.store.envelopes(since)
                                       if c.seqno <= upto), self.config.batch + 1))
        vouched = any(not e.signature for e in fresh)
        for url in peers:
            if len(fresh) > self.config.batch or vouched:
                self.kick(url)
            elif fresh:
                self.kick(url, tuple(fresh))

    async def _push(self, url: str, envelopes: tuple[Envelope, ...]) -> None:
        assert self._session is not None
        peer = self.peers.device_of(url)  # a push proves its sender to a peer whose key is known
        sender = None if peer is None else (self.ctx.node.device_key, peer)
        try:
            reply = await post(self._session, url, Push(envelopes), sender=sender)
        except SyncFailed as exc:
            delay = self.peers.failed(url, str(exc), self.clock(), self.rng.random())
            log.info("push to %s failed (%s); next try in %.1f s", url, exc, delay)
            return
        if not isinstance(reply, Pushed):
            return
        self.peers.succeeded(url, None, self.clock(), reply.accepted, 0)  # reached, took our news
        if reply.accepted or reply.rejected:
            log.info("pushed %d to %s: %d new, %d rejected", len(envelopes), url, reply.accepted,
                     reply.rejected)
        if reply.pending:
            self._again.add(url)  # it lacks what they build on: an exchange brings it now

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.config.policy.next_round_in(self.rng))
            with store_faults_logged("a gossip round"):
                due = self.peers.due(self.clock())
                for url in self.config.policy.round_peers(due, self.rng):
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
                if self.peers.add(learned, "learned", self.clock()):
                    log.info("learned peer %s from %s", learned, url)
                    self.kick(learned)
            except ValueError:
                continue

    async def _exchange_loop(self, url: str, fresh: tuple[Envelope, ...] | None) -> None:
        """Exchanges with one peer never overlap: a push, or an exchange, then one more if asked."""
        try:
            while True:
                self._again.discard(url)
                with store_faults_logged(f"sync with {url}"):
                    if fresh is not None:
                        await self._push(url, fresh)
                        fresh = None
                    else:
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
            delay = self.peers.failed(url, str(exc), self.clock(), self.rng.random())
            log.info("sync with %s failed (%s); next try in %.1f s", url, exc, delay)
            if exc.outcome is not None:
                self.peers.count_rejected(url, exc.outcome.received.rejected)
            return
        if outcome.peer_key == self.ctx.node.device_key.public:
            self.peers.mark_self(url)
            return
        received = outcome.received
        self.peers.succeeded(url, outcome.peer_key, self.clock(), outcome.progress.pushed,
                             received.accepted)
        self.peers.count_rejected(url, received.rejected)
        if received.accepted or received.rejected or outcome.progress.pushed:
            log.info("sync with %s: received %d new (%d rejected), sent %d", url, received.accepted,
                     len(received.rejected), outcome.progress.pushed)
