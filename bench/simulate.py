"""N daemons' real protocol code in one process: gossip rounds on a random mesh (issue 18).

Each node is a federation/memstore.MemoryStore (every change verified: Ed25519,
dependencies, sequence, authority as far as no document contents are
needed) behind a federation/syncpeer.Responder; exchanges run
federation/sync.Initiator through federation/syncpeer.exchange, and every
message is encoded and decoded by federation/syncmsg, so the bytes counted
are the bodies a daemon would post. Whom each node syncs with comes from
federation/gossip.GossipPolicy, on a round counter instead of a clock.
Nothing is shared between nodes but immutable envelopes.

Reported, each beside its goal:
Rounds are asynchronous (each node's timer fires once a round, in an order
drawn again every round, and what it learns it stores at once), and for the
spread also synchronous (what a node receives in a round it stores at the
round's end and passes on from the next round only: the slowest case).
1. spread: NODES nodes on a random 4-regular mesh, periodic pull-push only
   (fanout 3): rounds until every node holds a new decision, against
   ceil(log2 N) + 2; bytes and CPU per node per round, idle and during the
   spread; memory per node.
2. faults: lossy links, a partition healed, a node offline while changes are
   made elsewhere, then rejoining: rounds to converge and what it costs.
3. size: one new change among D documents (1,000 and DOCS), on SIZE_NODES
   nodes: bytes each node sends and receives for it beyond idle, for a small
   and a large change, so the cost splits into a multiple of the change's
   size and a constant; idle bytes per node per round, which must not grow
   with D.
4. federation: NODES daemons that each follow a few confederations of a
   confederation of confederations (scopes) and hold only their documents,
   and a relay per confederation holding all: rounds for a decision to reach
   every daemon that follows it, bytes, and memory per daemon (daemons with
   the same holdings share them: MemoryStore.fork).
"""

from __future__ import annotations

import base64
import contextlib
import math
import os
import random
import resource
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pnyx.federation.chunk import parse_change
from pnyx.federation.envelope import Envelope
from pnyx.federation.gossip import GossipPolicy
from pnyx.federation.keys import SigningKey
from pnyx.federation.memstore import MemoryReport, MemoryStore
from pnyx.federation.sync import Initiator
from pnyx.federation.syncmsg import (
    ProtocolError,
    Push,
    Pushed,
    Reply,
    Request,
    decode_reply,
    decode_request,
    encode,
)
from pnyx.federation.syncpeer import Responder, exchange

from bench.corpus import charter, ledger_chain, new_key

NODES = int(os.environ.get("PNYX_SIM_NODES", "10000"))
DOCS = int(os.environ.get("PNYX_SIM_DOCS", "100000"))
MESH_DEGREE = 4
POLICY = GossipPolicy(interval=1.0, fanout=3, push=False)
EAGER = GossipPolicy(interval=1.0, fanout=3, push=True)


class LinkDown(Exception):
    """The message (or its reply) was lost, or the peer is unreachable."""


@dataclass
class SimNode:
    key: bytes
    store: MemoryStore
    neighbours: list[int] = field(default_factory=list)
    online: bool = True
    sent: int = 0
    received: int = 0
    cpu: float = 0.0
    inbox: list[Envelope] = field(default_factory=list)  # received this round
    synchronous: bool = False
    fresh: list[Envelope] = field(default_factory=list)  # accepted, not yet pushed on

    def receive(self, envelopes: Sequence[Envelope]) -> MemoryReport:
        """Stored at once (asynchronous rounds: every node's timer fires once a round at a
        random moment, so what it learns it may pass on within the same round); in
        synchronous rounds, stored at the round's end and passed on from the next round."""
        if not self.synchronous:
            report = self.store.ingest(envelopes)
            self.fresh.extend(report.new)
            return report
        self.inbox.extend(envelopes)
        return MemoryReport(accepted=len(envelopes))

    def settle(self) -> None:
        if self.inbox:
            start = time.process_time()
            self.store.ingest(self.inbox)
            self.cpu += time.process_time() - start
            self.inbox = []


class Network:
    """Nodes joined by links that lose each message with probability `loss`; `side` splits
    the nodes into partitions that cannot reach each other."""

    def __init__(self, nodes: list[SimNode], rng: random.Random, loss: float = 0.0,
                 policy: GossipPolicy = POLICY) -> None:
        self.nodes = nodes
        self.policy = policy
        self.rng = rng
        self.loss = loss
        self.side: list[int] | None = None
        self.exchanges = 0
        self.fresh: list[int] = []  # nodes that accepted changes not yet pushed on

    def receiver(self, i: int) -> Callable[[Sequence[Envelope]], MemoryReport]:
        node = self.nodes[i]

        def receive(envelopes: Sequence[Envelope]) -> MemoryReport:
            report = node.receive(envelopes)
            if node.fresh:
                self.fresh.append(i)
            return report
        return receive

    def link(self, a: int, b: int) -> Callable[[Request], Reply]:
        src, dst = self.nodes[a], self.nodes[b]

        def send(request: Request) -> Reply:
            if not dst.online or (self.side is not None and self.side[a] != self.side[b]) \
                    or self.rng.random() < self.loss:
                raise LinkDown
            body = encode(request)
            start = time.process_time()
            responder = Responder(dst.store, dst.key, self.receiver(b), self.rng.randbytes)
            reply = encode(responder.respond(decode_request(body)))
            dst.cpu += time.process_time() - start
            src.sent += len(body)
            dst.received += len(body)
            dst.sent += len(reply)
            if self.rng.random() < self.loss:
                raise LinkDown
            src.received += len(reply)
            return decode_reply(reply)
        return send

    def sync(self, a: int, b: int) -> None:
        """One exchange initiated by node a with node b; a lost message ends it."""
        self.exchanges += 1
        node = self.nodes[a]
        start = time.process_time()
        before = self.nodes[b].cpu
        with contextlib.suppress(LinkDown, ProtocolError):  # what was stored stays stored
            exchange(Initiator(node.store, node.key), self.link(a, b), self.receiver(a))
        node.cpu += time.process_time() - start - (self.nodes[b].cpu - before)
        self.push_fresh()

    def push_fresh(self) -> None:
        """Eager push: every node that accepted changes pushes them, and only them, to
        `fanout` random neighbours at once; those that accept them push them on in turn."""
        while self.fresh:
            i = self.fresh.pop(0)
            node = self.nodes[i]
            envelopes, node.fresh = tuple(node.fresh), []
            if envelopes:
                for j in self.policy.push_peers(node.neighbours, self.rng):
                    with contextlib.suppress(LinkDown):
                        reply = self.link(i, j)(Push(envelopes))
                        if isinstance(reply, Pushed) and reply.pending:
                            self.sync(i, j)  # it lacks what they build on: an exchange brings it

    def round(self) -> None:
        """Every online node pull-pushes with `fanout` random neighbours, in random order."""
        order = list(range(len(self.nodes)))
        self.rng.shuffle(order)
        for i in order:
            if self.nodes[i].online:
                for j in self.policy.round_peers(self.nodes[i].neighbours, self.rng):
                    self.sync(i, j)
        for node in self.nodes:
            node.settle()

    def totals(self) -> tuple[int, float]:
        return sum(n.sent for n in self.nodes), sum(n.cpu for n in self.nodes)


def random_mesh(n: int, degree: int, rng: random.Random) -> list[list[int]]:
    """A random graph where every node has about `degree` neighbours, connected (a ring is
    laid first, then random chords)."""
    adj: list[set[int]] = [set() for _ in range(n)]
    order = list(range(n))
    rng.shuffle(order)
    for a, b in zip(order, order[1:] + order[:1], strict=True):
        if a != b:
            adj[a].add(b)
            adj[b].add(a)
    for a in range(n):
        while len(adj[a]) < degree and n > degree:
            b = rng.randrange(n)
            if b != a:
                adj[a].add(b)
                adj[b].add(a)
    return [sorted(s) for s in adj]


def nodes_holding(store: MemoryStore, n: int, rng: random.Random) -> list[SimNode]:
    """n nodes that start from `store`'s holdings, sharing them (MemoryStore.fork)."""
    return [SimNode(rng.randbytes(32), store.fork()) for _ in range(n)]


def charters(n: int) -> list[Envelope]:
    """`n` documents cheaply: charters (one change each, whose hash is the id) of one member."""
    return [charter([new_key().public]) for _ in range(n)]


class Decisions:
    """New changes to one assembly's ledger, each a fresh run of its daemon."""

    def __init__(self) -> None:
        self.key: SigningKey = new_key()
        self.doc, (self.genesis,) = ledger_chain(self.key, 1)

    def next(self, title: str | None = None) -> Envelope:
        return ledger_chain(self.key, 1, self.doc, title)[1][0]


def seeded(envelopes: list[Envelope], follow: Sequence[bytes] | None = None) -> MemoryStore:
    store = MemoryStore(follow)
    report = store.ingest(envelopes)
    assert report.accepted == len(envelopes), report.rejected[:3]
    return store


def per_node_memory(store: MemoryStore, sample: int = 20) -> float:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    copies = [store.fork() for _ in range(sample)]
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del copies
    return used / sample


def spread(net: Network, origin: int, change: Envelope, limit: int,
           among: Sequence[int] | None = None) -> tuple[int, int, float]:
    """Give `change` to `origin`, run rounds until every online node (of `among`) holds it."""
    h = parse_change(change.change).hash
    sent, cpu = net.totals()
    assert net.receiver(origin)([change]).accepted == 1
    net.push_fresh()
    for rounds in range(limit + 1):
        if rounds:
            net.round()
        nodes = net.nodes if among is None else [net.nodes[i] for i in among]
        if all(n.store.holds(h) for n in nodes if n.online):
            s, c = net.totals()
            return rounds, s - sent, c - cpu
    raise RuntimeError(f"not spread after {limit} rounds")


def idle_round(net: Network) -> tuple[int, float]:
    sent, cpu = net.totals()
    net.round()
    s, c = net.totals()
    return s - sent, c - cpu


def scenario_spread(rng: random.Random) -> None:
    assemblies = [Decisions() for _ in range(3)]  # one per run: a decision follows its genesis
    others = [e for _ in range(7) for e in ledger_chain(new_key(), 2)[1]]
    base = seeded([d.genesis for d in assemblies] + others)
    memory = per_node_memory(base)
    target = math.ceil(math.log2(NODES)) + 2
    print(f"spread: {NODES:,} nodes on a {MESH_DEGREE}-regular random mesh, 10 documents each, "
          f"periodic pull-push only, fanout {POLICY.fanout}; goal: every node within ceil(log2 N) "
          f"+ 2 = {target} rounds; memory per node {memory / 1024:,.0f} KiB")
    mesh = random_mesh(NODES, MESH_DEGREE, rng)
    runs = (("asynchronous", False, POLICY), ("synchronous", True, POLICY),
            ("eager push, asynchronous", False, EAGER))
    for (label, synchronous, policy), assembly in zip(runs, assemblies, strict=True):
        t = time.perf_counter()
        nodes = nodes_holding(base, NODES, rng)
        for node, neighbours in zip(nodes, mesh, strict=True):
            node.neighbours = neighbours
            node.synchronous = synchronous
        net = Network(nodes, rng, policy=policy)
        idle_bytes, idle_cpu = idle_round(net)
        rounds, spread_bytes, spread_cpu = spread(net, rng.randrange(NODES), assembly.next(), 4 * target)
        print(f"spread, {label} rounds: every node held the decision after {rounds} rounds "
              f"({'met' if rounds <= target else 'MISSED'}); per node per round idle "
              f"{idle_bytes / NODES:,.0f} bytes sent, {idle_cpu / NODES * 1e6:,.0f} us CPU; per node "
              f"for the whole spread {spread_bytes / NODES:,.0f} bytes sent, "
              f"{spread_cpu / NODES * 1e6:,.0f} us ({time.perf_counter() - t:.0f} s simulated)")
        del nodes, net


def scenario_faults(rng: random.Random) -> None:
    n = min(NODES, 500)
    decisions = Decisions()
    base = seeded([decisions.genesis] + [e for _ in range(9) for e in ledger_chain(new_key(), 2)[1]])
    nodes = nodes_holding(base, n, rng)
    for node, neighbours in zip(nodes, random_mesh(n, MESH_DEGREE, rng), strict=True):
        node.neighbours = neighbours
    net = Network(nodes, rng, loss=0.1)
    rounds, _, _ = spread(net, rng.randrange(n), decisions.next(), 60)
    print(f"faults: {n} nodes, 10% of messages lost: a decision reached every node in {rounds} rounds")
    net.loss = 0.0
    net.side = [i % 2 for i in range(n)]
    other = Decisions()
    for node in nodes:
        node.store.ingest([other.genesis])
    a, b = decisions.next(), other.next()
    nodes[0].store.ingest([a])
    nodes[1].store.ingest([b])
    for _ in range(5):
        net.round()
    net.side = None
    hashes = [nodes[0].store.envelopes()[-1], nodes[1].store.envelopes()[-1]]
    healed = converge(net, hashes, 60)
    print(f"faults: partitioned in two for 5 rounds, a decision on each side; both everywhere "
          f"{healed} rounds after the partition healed")
    assemblies = [(Decisions(), rng.randrange(3, n)) for _ in range(20)]
    for d, _ in assemblies:
        for node in nodes:
            node.store.ingest([d.genesis])
    away = nodes[2]
    away.online = False
    made = []
    for _ in range(10):  # each assembly records at its own daemon, one decision a round
        for d, home in assemblies:
            change = d.next()
            nodes[home].store.ingest([change])
            made.append(change)
        net.round()
    before = away.received + away.sent
    away.online = True
    back = converge(net, made, 60)
    print(f"faults: a node offline while 20 assemblies recorded 200 decisions; back in step {back} "
          f"rounds after rejoining, {away.received + away.sent - before:,} bytes sent and received "
          "meanwhile")


def converge(net: Network, changes: list[Envelope], limit: int) -> int:
    hashes = [parse_change(e.change).hash for e in changes]
    for rounds in range(1, limit + 1):
        net.round()
        if all(n.store.holds(h) for n in net.nodes if n.online for h in hashes):
            return rounds
    raise RuntimeError(f"no convergence within {limit} rounds")


SIZE_NODES = 32
REPEATS = 3


def change_cost(net: Network, origin: int, change: Envelope, idle: int) -> tuple[float, int, int]:
    """Bytes each node sent and received for one change beyond what the same rounds cost idle,
    the rounds it took to reach every node, and the change's size."""
    rounds, spread_bytes, _ = spread(net, origin, change, 40)
    return 2 * (spread_bytes - idle * rounds) / len(net.nodes), rounds, len(change.encode())


def scenario_size(rng: random.Random) -> None:
    """One change among D documents, on SIZE_NODES nodes of a random mesh, periodic gossip only
    and eager push: a small decision and a large one, so the cost splits into a share of the
    change's size (slope) and a constant (the descent, the pull's wants)."""
    t = time.perf_counter()
    many = charters(DOCS)
    making = time.perf_counter() - t
    mesh = random_mesh(SIZE_NODES, MESH_DEGREE, rng)
    for docs in sorted({1000, DOCS}):
        t = time.perf_counter()
        assemblies = [Decisions() for _ in range(4 * REPEATS)]  # one per run: a decision follows its genesis
        base = seeded([*(d.genesis for d in assemblies), *many[:docs - len(assemblies)]])
        stored = time.perf_counter() - t
        runs = iter(assemblies)
        for policy in (POLICY, EAGER):
            costs = []
            for title in ("small", base64.b64encode(os.urandom(3000)).decode()):
                nodes = nodes_holding(base, SIZE_NODES, rng)
                for node, neighbours in zip(nodes, mesh, strict=True):
                    node.neighbours = neighbours
                net = Network(nodes, rng, policy=policy)
                idle, _ = idle_round(net)
                made = [change_cost(net, rng.randrange(SIZE_NODES), change, idle)
                        for change in (next(runs).next(title) for _ in range(REPEATS))]
                costs.append((sum(m[2] for m in made) / REPEATS, sum(m[0] for m in made) / REPEATS,
                              max(m[1] for m in made)))
            (small, c_small, r_small), (large, c_large, _) = costs
            slope = (c_large - c_small) / (large - small)
            how = "eager push" if policy.push else "periodic pull-push only"
            print(f"size: D = {docs:,} documents ({making + stored:.0f} s to make and verify), {how}, "
                  f"{SIZE_NODES} nodes: idle {idle / SIZE_NODES:,.0f} bytes sent per node per round; "
                  f"beyond idle, a change of {small:,.0f} bytes cost each node {c_small:,.0f} bytes sent + "
                  f"received ({c_small / small:.1f}x), one of {large:,.0f} bytes {c_large:,.0f} "
                  f"({c_large / large:.1f}x): {slope:.1f}x its size + {c_small - slope * small:,.0f} "
                  f"bytes (goal: 4x + a constant; mean of {REPEATS} changes each); spread in at most "
                  f"{r_small} rounds")
            del nodes, net
        making = 0.0


CONFED_SIZE = 100  # founding member assemblies of each confederation
FOLLOWED = 3  # confederations each daemon follows: its own and the next ones
PEERS_PER_SCOPE = 2


def charter_hash(envelope: Envelope) -> bytes:
    return bytes.fromhex(envelope.doc_id.removeprefix("charter/"))


@dataclass
class Federation:
    """NODES assemblies, one daemon each, in confederations of CONFED_SIZE founding members,
    grouped ten by ten into confederations of confederations under one top confederation.
    Each daemon follows FOLLOWED confederations (its own and the next ones: scopes), holds
    their documents only, and knows PEERS_PER_SCOPE peers among the daemons following each.
    One daemon per confederation is a relay that follows none in particular and holds the
    whole federation; relays know MESH_DEGREE other relays. Daemons that hold the same
    documents start from one shared store (MemoryStore.fork)."""

    assemblies: list[Decisions]
    home: list[int]  # each daemon's own confederation
    follows: list[list[int]]  # per confederation: the confederations its daemons follow
    followers: list[list[int]]  # per confederation: the daemons that follow it
    relays: set[int]
    nodes: list[SimNode]
    held: tuple[int, int]  # documents a daemon holds, a relay holds

    @classmethod
    def build(cls, rng: random.Random) -> Federation:
        assemblies = [Decisions() for _ in range(NODES)]
        groups = max(1, NODES // CONFED_SIZE)
        home = [min(i // CONFED_SIZE, groups - 1) for i in range(NODES)]
        members: list[list[int]] = [[] for _ in range(groups)]
        for i, g in enumerate(home):
            members[g].append(i)
        confeds = [charter([assemblies[i].key.public for i in m]) for m in members]
        uppers = [charter([], [charter_hash(c) for c in confeds[u:u + 10]]) for u in range(0, groups, 10)]
        top = charter([], [charter_hash(u) for u in uppers])
        follows = [[(g + k) % groups for k in range(min(FOLLOWED, groups))] for g in range(groups)]
        bases = [seeded([confeds[f] for f in follows[g]]
                        + [assemblies[i].genesis for f in follows[g] for i in members[f]],
                        [charter_hash(confeds[f]) for f in follows[g]]) for g in range(groups)]
        whole = seeded([*confeds, *uppers, top, *(a.genesis for a in assemblies)])
        relays = {m[0] for m in members}
        nodes = [SimNode(rng.randbytes(32), (whole if i in relays else bases[home[i]]).fork())
                 for i in range(NODES)]
        followers = [[i for f in range(groups) if g in follows[f] for i in members[f]] for g in range(groups)]
        for i, node in enumerate(nodes):
            for f in follows[home[i]]:
                met = [j for j in rng.sample(followers[f], min(PEERS_PER_SCOPE + 1, len(followers[f])))
                       if j != i][:PEERS_PER_SCOPE]
                for j in met:
                    if j not in node.neighbours:
                        node.neighbours.append(j)
                        nodes[j].neighbours.append(i)
        order = sorted(relays)
        for a, near in zip(order, random_mesh(len(order), MESH_DEGREE, rng), strict=True):
            nodes[a].neighbours.extend(order[j] for j in near if order[j] not in nodes[a].neighbours)
        return cls(assemblies, home, follows, followers, relays, nodes, (len(bases[0]), len(whole)))


def scenario_federation(rng: random.Random) -> None:
    t = time.perf_counter()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fed = Federation.build(rng)
    memory = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) * 1024 / NODES
    target = math.ceil(math.log2(NODES)) + 2
    print(f"federation: {NODES:,} daemons in {len(fed.follows)} confederations of {CONFED_SIZE}, "
          f"under confederations of confederations and a top one; each daemon follows "
          f"{len(fed.follows[0])} confederations and holds {fed.held[0]:,} documents, but "
          f"{len(fed.relays)} relays that follow none in particular and hold all {fed.held[1]:,}; "
          f"made in {time.perf_counter() - t:.0f} s; memory per daemon {memory / 1024:,.1f} KiB "
          f"(the growth of the process's peak resident memory / N: the federation's envelopes, "
          f"stores and trees, shared ones included; run first, so no other scenario set the peak)")
    net = Network(fed.nodes, rng)
    idle, _ = idle_round(net)
    origin = rng.randrange(NODES)
    reached = sorted({*fed.followers[fed.home[origin]], *fed.relays})
    change = fed.assemblies[origin].next()
    rounds, spread_bytes, _ = spread(net, origin, change, 4 * target, reached)
    h = parse_change(change.change).hash
    followers = set(reached)
    outside = sum(n.store.holds(h) for i, n in enumerate(fed.nodes) if i not in followers)
    print(f"federation: a decision reached all {len(reached)} daemons that follow its assembly's "
          f"confederation or relay all in {rounds} rounds of periodic pull-push (goal ceil(log2 N) "
          f"+ 2 = {target}), and {outside} others; idle {idle / NODES:,.0f} bytes sent per daemon "
          f"per round; beyond idle, the change ({len(change.encode())} bytes) cost each of them "
          f"{2 * (spread_bytes - idle * rounds) / len(reached):,.0f} bytes sent + received")


def run() -> None:
    rng = random.Random(18)
    scenario_federation(rng)
    scenario_size(rng)
    scenario_faults(rng)
    scenario_spread(rng)
