"""Who the local API, the event stream and the web page answer.

Two checks, both before any handler runs:
- the client: this machine only, unless `pnyx run --api-remote`;
- the name the request was addressed to (its Host header): an IP address,
  `localhost`, this machine's own names, the `--listen` and `--advertise`
  hosts, or a name given with `--api-remote NAME`. A web page that re-points
  its own DNS name at 127.0.0.1 (DNS rebinding) reaches the daemon under that
  name, and is refused with 403, as Syncthing's GUI does; `--api-remote '*'`
  turns the name check off.
The peer protocol under /pnyx/v1/ is not checked here: peers may reach the
daemon under any name, and it holds nothing a peer may not read.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

ANY_NAME = "*"


def is_local(remote: str | None) -> bool:
    if remote is None:
        return True  # a unix socket
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def host_name(host: str) -> str:
    """The name or address in a Host header, without port, brackets or a trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    name, sep, port = host.rpartition(":")
    if sep and port.isdigit() and ":" not in name:
        host = name
    return host.rstrip(".")


def is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def own_names() -> set[str]:
    """This machine's names: a rebinding page cannot make a browser send these."""
    names = {socket.gethostname(), socket.getfqdn()}
    return {n.lower().rstrip(".") for n in names | {f"{n}.local" for n in names} if n}


@dataclass(frozen=True)
class Access:
    allow_remote: bool = False
    names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, remote_names: Iterable[str] | None, hosts: Iterable[str | None] = ()) -> Access:
        """`remote_names` is None without --api-remote, else the names given with it;
        `hosts` are the daemon's own --listen and --advertise hosts."""
        given = set() if remote_names is None else {host_name(n) for n in remote_names if n}
        names = given | {host_name(h) for h in hosts if h} | own_names()
        return cls(remote_names is not None, frozenset(names))

    def name_allowed(self, host: str | None) -> bool:
        if ANY_NAME in self.names or host is None:
            return True
        name = host_name(host)
        return (is_address(name) or name == "localhost" or name.endswith(".localhost")
                or name in self.names)

    def refuse(self, request: web.Request) -> web.Response | None:
        """A 403 JSON answer for a request this daemon must not answer, else None."""
        host = request.headers.get("Host")
        if not self.name_allowed(host):
            return refusal(f"this daemon does not answer requests addressed to {host!r} "
                           "(a page re-pointing its name at this machine?); allow a name with "
                           "pnyx run --api-remote NAME")
        if self.allow_remote or is_local(request.remote):
            return None
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        if sockname and request.remote == sockname[0]:
            return None  # this machine, reaching the daemon on the address it listens on
        return refusal("this daemon serves its local API to this machine only (pnyx run --api-remote)")


def refusal(message: str) -> web.Response:
    return web.json_response({"error": {"status": 403, "message": message}}, status=403)
