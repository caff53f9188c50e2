"""Finding neighbours on the local network with mDNS/DNS-SD (`_pnyx._tcp.local.`).

The daemon announces itself with the TXT data of protocol-spec/discovery.md
and browses for other daemons. Discovery only proposes addresses: a found
neighbour is handed to `on_found(url, device_key, announcement)` and whoever
syncs with it lets signatures decide. A neighbour that says goodbye (or whose
records expire) is handed to `on_lost(url, device_key)`; a neighbour killed
without goodbye stays cached for a long time, so failed syncs, not mDNS, must
notice dead peers.

python-zeroconf's asyncio API only, as its pitfalls demand: register, update
and unregister are awaited twice (the second await waits for the packets), a
clean shutdown sends goodbyes, and the service is re-announced periodically:
a browser sends few queries after its first seconds, so without this a
neighbour that appears during a partition would be missed for many minutes.
Questions ask for multicast answers (QM): several processes on one host share
port 5353 and a unicast answer reaches only one of them, which cost a second.
Every announcement heard from a neighbour (not only the first) calls
`on_found` again, at most once per REFIRE_SECONDS, so a peer set that dropped
a neighbour after failed syncs gets it back when it is heard again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import ifaddr
from pnyx.federation.discovery_txt import (
    DEFAULT_REANNOUNCE_SECONDS,
    MAX_CONFEDERATIONS,
    SERVICE_TYPE,
    Announcement,
    decode_txt,
    encode_txt,
)
from pnyx.federation.docids import DocKind, parse_doc_id
from pnyx.federation.errors import Rejected
from pnyx.federation.keys import key_text
from zeroconf import (
    DNSQuestionType,
    InterfaceChoice,
    IPVersion,
    NonUniqueNameException,
    RecordUpdateListener,
    ServiceStateChange,
    Zeroconf,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from ..store.sqlite import Store

log = logging.getLogger("pnyx.discovery")

RESOLVE_TIMEOUT_MS = 3000
REFIRE_SECONDS = 1.0  # one announcement is several packets: report it once
MAX_NEIGHBOURS = 256  # services tracked at most, so a flood of names cannot grow memory without end
_TYPE_SRV = 33
_TYPE_TXT = 16

FoundCallback = Callable[[str, bytes, Announcement], None]
LostCallback = Callable[[str, bytes], None]


@dataclass(frozen=True)
class Neighbour:
    """A daemon seen on the local network, as it announced itself."""

    name: str  # DNS-SD service instance name
    url: str
    addresses: tuple[str, ...]
    announcement: Announcement

    def describe(self) -> dict[str, Any]:
        ann = self.announcement
        return {"name": self.name, "url": self.url, "addresses": list(self.addresses),
                "device": key_text(ann.device), "assembly": key_text(ann.assembly),
                "port": ann.port, "version": ann.version,
                "confederations": [c.hex() for c in ann.confederations]}


def instance_name(device: bytes) -> str:
    return f"pnyx-{key_text(device)[:16]}.{SERVICE_TYPE}"


def resolve_interfaces(specs: Sequence[str]) -> list[str]:
    """IPv4 addresses for `--mdns-interface` values: each an IPv4 address or an interface name."""
    adapters = {a.name: a for a in ifaddr.get_adapters()}
    addresses: list[str] = []
    for spec in specs:
        with contextlib.suppress(ValueError):
            addresses.append(str(ipaddress.IPv4Address(spec)))
            continue
        adapter = adapters.get(spec)
        if adapter is None:
            raise ValueError(f"--mdns-interface {spec!r} is neither an IPv4 address nor an interface "
                             f"(interfaces: {', '.join(sorted(adapters))})")
        found = [str(ip.ip) for ip in adapter.ips if ip.is_IPv4]
        if not found:
            raise ValueError(f"interface {spec!r} has no IPv4 address")
        addresses += found
    return list(dict.fromkeys(addresses))


def discovery_interfaces(listen_host: str, specs: Sequence[str]) -> list[str] | None:
    """The IPv4 addresses to run mDNS on; None means every interface.

    Without `--mdns-interface`, a daemon listening on one address announces and
    browses on that address only (so the default 127.0.0.1 stays on this
    machine), and one listening on all addresses uses every interface.
    """
    if specs:
        return resolve_interfaces(specs)
    if listen_host in ("", "0.0.0.0", "::"):
        return None
    try:
        return [str(ipaddress.IPv4Address(listen_host))]
    except ValueError:
        raise ValueError(f"discovery needs an IPv4 listen address or --mdns-interface, "
                         f"got {listen_host!r}") from None


def local_networks(interfaces: list[str] | None) -> list[ipaddress.IPv4Interface]:
    """This machine's IPv4 networks on the given interface addresses (all when None)."""
    nets = [ipaddress.IPv4Interface(f"{ip.ip}/{ip.network_prefix}")
            for adapter in ifaddr.get_adapters() for ip in adapter.ips if ip.is_IPv4]
    if interfaces is None:
        return nets
    return [n for n in nets if str(n.ip) in interfaces]


def announced_addresses(interfaces: list[str] | None) -> list[str]:
    """The addresses to put in our A records: the chosen ones, or every non-loopback one."""
    if interfaces is not None:
        return interfaces
    own = [str(n.ip) for n in local_networks(None)]
    return [a for a in own if not ipaddress.IPv4Address(a).is_loopback] or own


def choose_address(addresses: Iterable[str], networks: Sequence[ipaddress.IPv4Interface]) -> str | None:
    """The announced address to connect to: one on a network we share, else the first."""
    candidates = [ipaddress.IPv4Address(a) for a in addresses]
    for candidate in candidates:
        if any(candidate in n.network for n in networks):
            return str(candidate)
    return str(candidates[0]) if candidates else None


class _Heard(RecordUpdateListener):
    """Hands every fresh SRV/TXT record of a pnyx service to the discovery, also re-announcements."""

    def __init__(self, heard: Callable[[str], None]) -> None:
        super().__init__()
        self._heard = heard

    def async_update_records(self, zc: Zeroconf, now: float, records: list[Any]) -> None:
        for update in records:
            record = update.new
            if (record.type in (_TYPE_SRV, _TYPE_TXT) and record.key.endswith("." + SERVICE_TYPE)
                    and not record.is_expired(now)):
                self._heard(record.name)


class Discovery:
    """Announces this daemon (unless `announcement` is None) and reports neighbours.

    `announcement` is called at start and at every re-announcement, so a
    change in what the daemon serves is announced at the next one.
    """

    def __init__(self, interfaces: list[str] | None, on_found: FoundCallback, on_lost: LostCallback,
                 announcement: Callable[[], Announcement] | None = None,
                 reannounce_seconds: float = DEFAULT_REANNOUNCE_SECONDS) -> None:
        self.interfaces = interfaces
        self._on_found = on_found
        self._on_lost = on_lost
        self._announcement = announcement
        self._reannounce = reannounce_seconds
        self._networks = local_networks(interfaces)
        self._neighbours: dict[str, Neighbour] = {}
        self._fired: dict[str, float] = {}
        self._heard_at: dict[str, float] = {}
        self._resolving: dict[str, asyncio.Task[None]] = {}
        self._refused: dict[str, bytes] = {}
        self._azc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._listener = _Heard(self._heard)
        self._info: AsyncServiceInfo | None = None
        self._own: Announcement | None = None
        self._own_name: str | None = None
        self._ticker: asyncio.Task[None] | None = None

    @property
    def announced_as(self) -> str | None:
        return self._info.name if self._info is not None else None

    def neighbours(self) -> list[Neighbour]:
        return sorted(self._neighbours.values(), key=lambda n: n.name)

    def describe(self) -> dict[str, Any]:
        now = time.monotonic()
        return {"announced_as": self.announced_as,
                "interfaces": self.interfaces if self.interfaces is not None else "all",
                "neighbours": [{**n.describe(), "heard_seconds_ago": round(now - self._heard_at[n.name], 1)}
                               for n in self.neighbours()]}

    async def start(self) -> None:
        choice: list[str] | InterfaceChoice = (InterfaceChoice.All if self.interfaces is None
                                               else list(self.interfaces))
        self._azc = AsyncZeroconf(interfaces=choice, ip_version=IPVersion.V4Only)
        zc = self._azc.zeroconf
        zc.async_add_listener(self._listener, None)
        self._browser = AsyncServiceBrowser(zc, SERVICE_TYPE, handlers=[self._state_changed],
                                            question_type=DNSQuestionType.QM)
        if self._announcement is not None:
            self._own = self._announcement()
            self._own_name = instance_name(self._own.device)
            await self._register(self._own)
            self._ticker = asyncio.create_task(self._reannounce_forever())

    async def close(self) -> None:
        """Say goodbye (if announced) and stop; safe to call once start() was called."""
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        for task in list(self._resolving.values()):
            task.cancel()
        if self._azc is None:
            return
        if self._info is not None:
            await (await self._azc.async_unregister_service(self._info))
            self._info = None
        if self._browser is not None:
            await self._browser.async_cancel()
        self._azc.zeroconf.async_remove_listener(self._listener)
        await self._azc.async_close()
        self._azc = None

    def _service_info(self, ann: Announcement) -> AsyncServiceInfo:
        name = instance_name(ann.device)
        return AsyncServiceInfo(SERVICE_TYPE, name, port=ann.port, properties=encode_txt(ann),
                                server=name.removesuffix(SERVICE_TYPE) + "local.",
                                parsed_addresses=announced_addresses(self.interfaces))

    async def _register(self, ann: Announcement) -> None:
        assert self._azc is not None
        info = self._service_info(ann)
        try:
            announcing = await self._azc.async_register_service(info)  # probed: the name is ours
        except NonUniqueNameException:
            log.error("another daemon on this network already announces %s (same device key?); "
                      "not announcing, still browsing", info.name)
            return
        self._info = info
        await announcing
        log.info("discovery: announcing %s on %s", info.name,
                 ", ".join(self.interfaces) if self.interfaces is not None else "all interfaces")

    async def _reannounce_forever(self) -> None:
        assert self._azc is not None and self._announcement is not None
        while True:
            await asyncio.sleep(self._reannounce * random.uniform(0.9, 1.1))
            if self._info is None:
                continue
            try:
                ann = self._announcement()
                if ann != self._own:
                    log.info("discovery: announcement changed, updating")
                    self._info, self._own = self._service_info(ann), ann
                await (await self._azc.async_update_service(self._info))
            except Exception:  # one failed round must not end the re-announcements
                log.exception("discovery: re-announcement failed; trying again next round")

    def _state_changed(self, zeroconf: Zeroconf, service_type: str, name: str,
                       state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            self._forget(name)
        else:
            self._heard(name)

    def _heard(self, name: str) -> None:
        if name in self._resolving or name == self._own_name or self._azc is None:
            return
        if name not in self._neighbours and len(self._neighbours) + len(self._resolving) >= MAX_NEIGHBOURS:
            log.warning("discovery: already tracking %d neighbours, ignoring %r", MAX_NEIGHBOURS, name)
            return
        task = asyncio.get_running_loop().create_task(self._resolve(name))
        self._resolving[name] = task
        task.add_done_callback(lambda _: self._resolving.pop(name, None))

    async def _resolve(self, name: str) -> None:
        assert self._azc is not None
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(self._azc.zeroconf, RESOLVE_TIMEOUT_MS,
                                        question_type=DNSQuestionType.QM):
            log.debug("discovery: %s did not resolve", name)
            return
        text = info.text or b""
        try:
            ann = decode_txt(text)
            if ann.port != info.port:
                raise ValueError(f"TXT port {ann.port} differs from SRV port {info.port}")
        except (Rejected, ValueError) as exc:
            if self._refused.get(name) != text:
                log.warning("discovery: ignoring announcement of %r: %s", name, exc)
                if len(self._refused) >= MAX_NEIGHBOURS:
                    self._refused.clear()
                self._refused[name] = text
            return
        self._refused.pop(name, None)
        if self._own is not None and ann.device == self._own.device:
            return
        addresses = tuple(info.parsed_addresses(IPVersion.V4Only))
        address = choose_address(addresses, self._networks)
        if address is None:
            return
        neighbour = Neighbour(name, f"http://{address}:{ann.port}", addresses, ann)
        previous = self._neighbours.get(name)
        now = time.monotonic()
        self._heard_at[name] = now
        if previous == neighbour and now - self._fired.get(name, 0.0) < REFIRE_SECONDS:
            return
        if previous is not None and previous.url != neighbour.url:
            self._on_lost(previous.url, previous.announcement.device)
        self._neighbours[name] = neighbour
        self._fired[name] = now
        if previous is None:
            log.info("discovery: found %s at %s", name, neighbour.url)
        self._on_found(neighbour.url, ann.device, ann)

    def _forget(self, name: str) -> None:
        neighbour = self._neighbours.pop(name, None)
        self._fired.pop(name, None)
        self._heard_at.pop(name, None)
        if neighbour is not None:
            log.info("discovery: %s said goodbye or expired", name)
            self._on_lost(neighbour.url, neighbour.announcement.device)


async def browse(interfaces: list[str] | None, seconds: float) -> list[Neighbour]:
    """Listen for `seconds` without announcing; the daemons visible now."""
    discovery = Discovery(interfaces, lambda *_: None, lambda *_: None)
    await discovery.start()
    try:
        await asyncio.sleep(seconds)
    finally:
        await discovery.close()
    return discovery.neighbours()


@dataclass(frozen=True)
class DiscoverySettings:
    """How `pnyx run` announces and browses (its --mdns-* and --announce-confed flags)."""

    interfaces: list[str] | None
    confederations: tuple[bytes, ...] | None  # None: every confederation whose charter we hold
    reannounce_seconds: float = DEFAULT_REANNOUNCE_SECONDS


def parse_charter(text: str, flag: str = "--announce-confed") -> bytes:
    """A confederation named on the command line: its charter hash hex, or `charter/<hex>`."""
    try:
        doc = parse_doc_id(text if text.startswith("charter/") else f"charter/{text}")
    except Rejected:
        raise ValueError(f"{flag} takes a charter hash (64 hex digits), got {text!r}") from None
    return bytes.fromhex(doc.record)


def served_confederations(store: Store) -> tuple[bytes, ...]:
    """The confederations this daemon serves: those whose charter it holds."""
    charters = []
    for doc_id in store.documents():
        with contextlib.suppress(Rejected):
            doc = parse_doc_id(doc_id)
            if doc.kind is DocKind.CHARTER:
                charters.append(bytes.fromhex(doc.record))
    if len(charters) > MAX_CONFEDERATIONS:
        log.warning("discovery: serving %d confederations, announcing the first %d; choose with "
                    "--announce-confed", len(charters), MAX_CONFEDERATIONS)
    return tuple(sorted(charters)[:MAX_CONFEDERATIONS])


def announcer(device: bytes, assembly: bytes, port: int, store: Store,
              only: tuple[bytes, ...] | None) -> Callable[[], Announcement]:
    """What this daemon announces, recomputed at each re-announcement."""
    def current() -> Announcement:
        confederations = only if only is not None else served_confederations(store)
        return Announcement(device, assembly, port, confederations)
    return current
