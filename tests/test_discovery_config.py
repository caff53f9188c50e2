"""Which interfaces discovery uses, which announced address is dialled, how confederations are named."""

from __future__ import annotations

import ipaddress

import pytest
from pnyx.daemon.net.discovery import choose_address, discovery_interfaces, parse_charter, resolve_interfaces


def test_discovery_follows_the_listen_address_unless_told() -> None:
    assert discovery_interfaces("127.0.0.1", []) == ["127.0.0.1"]  # the default stays on this machine
    assert discovery_interfaces("0.0.0.0", []) is None  # every interface
    assert discovery_interfaces("0.0.0.0", ["lo", "127.0.0.1"]) == ["127.0.0.1"]
    with pytest.raises(ValueError, match="IPv4 listen address"):
        discovery_interfaces("::1", [])


def test_an_unknown_interface_is_a_clear_error() -> None:
    assert resolve_interfaces(["lo"]) == ["127.0.0.1"]
    with pytest.raises(ValueError, match="neither an IPv4 address nor an interface"):
        resolve_interfaces(["no-such-if0"])


def test_an_address_on_a_shared_network_is_preferred() -> None:
    ours = [ipaddress.IPv4Interface("10.213.0.1/24")]
    assert choose_address(["192.168.9.9", "10.213.0.7"], ours) == "10.213.0.7"
    assert choose_address(["192.168.9.9", "172.16.0.1"], ours) == "192.168.9.9"
    assert choose_address([], ours) is None


def test_confederations_are_named_by_charter_hash() -> None:
    assert parse_charter("ab" * 32) == parse_charter(f"charter/{'ab' * 32}") == bytes.fromhex("ab" * 32)
    for bad in ("AB" * 32, "ab" * 31, "ledger/x", ""):
        with pytest.raises(ValueError, match="charter hash"):
            parse_charter(bad)
