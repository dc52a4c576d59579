"""The egress guard: which addresses a delivery may connect to (SPEC 5.5).

Deliveries go to URLs that tenants choose, so without a guard a tenant could make hookline
call its own admin ports, the cloud metadata service or anything else on the private
network. Before every new connection the host is resolved and every address is judged by
`address_problem`; the connection then goes to one of the permitted addresses, never to a
second lookup's answer, so DNS rebinding cannot slip past the check.

`GuardedResolver` is that lookup as an aiohttp resolver: aiohttp connects to the address
it returns while keeping the URL's host name for SNI, certificate checks and the Host
header. aiohttp never asks a resolver about IP-literal hosts, so whoever sends a request
checks those with `GuardedResolver.literal_problem` first (`hookline.sender` does).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from aiohttp.abc import AbstractResolver, ResolveResult

from hookline.errors import HooklineError
from hookline.settings import Settings

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

# Ordered: the first range an address falls in names the problem.
_IPV4_REFUSED: tuple[tuple[IPv4Network, str], ...] = tuple(
    (IPv4Network(network), kind)
    for network, kind in (
        ("0.0.0.0/32", "the unspecified address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("0.0.0.0/8", "a 'this network' address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (CGNAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol assignment address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a deprecated 6to4 relay address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),
    )
)

_IPV6_REFUSED: tuple[tuple[IPv6Network, str], ...] = tuple(
    (IPv6Network(network), kind)
    for network, kind in (
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("::/96", "a deprecated IPv4-compatible address"),
        ("ff00::/8", "a multicast address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a deprecated site-local address"),
        ("fc00::/7", "a private (unique local) address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("2001:2::/48", "a benchmarking address"),
        ("2001::/23", "an IETF protocol assignment address"),
    )
)

_IPV4_LOOPBACK = IPv4Network("127.0.0.0/8")
_IPV6_LOOPBACK = IPv6Address("::1")
_GLOBAL_UNICAST = IPv6Network("2000::/3")  # everything else left in IPv6 is reserved

_MAPPED = "an IPv4-mapped"
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))


class EgressRefused(HooklineError):
    """No address of a delivery's host may be reached; ``reason`` says why, in words."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def address_problem(
    address: IPAddress, allowed: Sequence[IPNetwork], *, dev: bool = False
) -> str | None:
    """Why a delivery may not connect to ``address``, or None when it may.

    An address inside one of the ``allowed`` networks is always permitted; so is one that
    embeds an IPv4 address inside them. ``dev`` permits loopback addresses too.
    """
    if _inside(address, allowed):
        return None
    if isinstance(address, IPv4Address):
        kind = _ipv4_kind(address, dev=dev)
        return None if kind is None else f"{address} is {kind}"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        label, ipv4 = embedded
        if _inside(ipv4, allowed):
            return None
        # Only an IPv4-mapped address reaches this machine itself; the others go through
        # a tunnel or translator elsewhere, so the dev switch does not make them loopback.
        kind = _ipv4_kind(ipv4, dev=dev and label == _MAPPED)
        return None if kind is None else f"{address} is {label} address for {ipv4}, {kind}"
    kind = _ipv6_kind(address, dev=dev)
    return None if kind is None else f"{address} is {kind}"


def ip_literal(host: str) -> IPAddress | None:
    """The address a URL host names literally (``10.0.0.1``, ``::1``), or None for a name."""
    if ":" not in host and not host.replace(".", "").isdigit():
        return None  # cheap test first: most hosts are names
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        return None


def _inside(address: IPAddress, networks: Sequence[IPNetwork]) -> bool:
    return any(address in network for network in networks)


def _ipv4_kind(address: IPv4Address, *, dev: bool) -> str | None:
    if dev and address in _IPV4_LOOPBACK:
        return None
    return next((kind for network, kind in _IPV4_REFUSED if address in network), None)


def _ipv6_kind(address: IPv6Address, *, dev: bool) -> str | None:
    if dev and address == _IPV6_LOOPBACK:
        return None
    kind = next((kind for network, kind in _IPV6_REFUSED if address in network), None)
    if kind is None and address not in _GLOBAL_UNICAST:
        return "a reserved address"
    return kind


def _embedded_ipv4(address: IPv6Address) -> tuple[str, IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, with the kind of embedding."""
    if address.ipv4_mapped is not None:
        return _MAPPED, address.ipv4_mapped
    if any(address in prefix for prefix in _NAT64):
        # The local-use prefix may embed at other offsets too (RFC 6052); the /96 form,
        # IPv4 in the last 32 bits, is the one translators use in practice.
        return "a NAT64", IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return "a Teredo", address.teredo[1]
    if address.sixtofour is not None:
        return "a 6to4", address.sixtofour
    return None


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that returns only the addresses the guard permits.

    Host overrides from the settings come first (like curl's ``--resolve``), then the
    system resolver. Every address is judged; the permitted ones are returned and the
    others dropped; when none is left, `EgressRefused` carries the first one's problem.
    It keeps no cache, so every new connection is checked afresh.
    """

    def __init__(self, settings: Settings) -> None:
        self._allowed = settings.allow_networks
        self._dev = settings.dev
        self._overrides = {_host_key(host): address for host, address in settings.resolve.items()}

    def problem(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached under these settings, or None."""
        return address_problem(address, self._allowed, dev=self._dev)

    def literal_problem(self, host: str) -> str | None:
        """Why an IP-literal URL host may not be reached, or None (also for names)."""
        literal = ip_literal(host)
        return None if literal is None else self.problem(literal)

    async def addresses(
        self, host: str, port: int = 0, family: int = socket.AF_UNSPEC
    ) -> list[IPAddress]:
        """The permitted addresses of ``host``; raises EgressRefused when there are none."""
        permitted: list[IPAddress] = []
        problems: list[str] = []
        for address in await self._lookup(host, port, family):
            problem = self.problem(address)
            if problem is None:
                permitted.append(address)
            else:
                problems.append(problem)
        if not permitted:
            raise EgressRefused(problems[0] if problems else f"{host} has no address")
        return permitted

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            _result(host, address, port) for address in await self.addresses(host, port, family)
        ]

    async def close(self) -> None:
        """Nothing to release: lookups go through the event loop's executor."""

    async def _lookup(self, host: str, port: int, family: int) -> list[IPAddress]:
        literal = ip_literal(host)
        if literal is not None:
            return [literal]
        override = self._overrides.get(_host_key(host))
        if override is not None:
            return [override]
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG
        )
        found = (ip_address(info[4][0]) for info in infos)
        return list(dict.fromkeys(found))  # one per address, in the resolver's order


def _host_key(host: str) -> str:
    return host.lower().rstrip(".")


def _result(host: str, address: IPAddress, port: int) -> ResolveResult:
    return ResolveResult(
        hostname=host,
        host=str(address),
        port=port,
        family=socket.AF_INET6 if address.version == 6 else socket.AF_INET,
        proto=0,
        flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
    )
