"""Tests for hookline.egress: which addresses deliveries may reach (SPEC 5.5).

Nothing here touches the network: lookups go to a fake ``getaddrinfo``.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Sequence
from ipaddress import ip_address, ip_network
from typing import Any

import pytest
from yarl import URL

from hookline.egress import (
    EgressRefused,
    GuardedResolver,
    IPAddress,
    IPNetwork,
    address_problem,
    ip_literal,
)
from hookline.errors import HooklineError
from hookline.settings import Settings


def problem(address: str, allowed: Sequence[str] = (), *, dev: bool = False) -> str | None:
    networks = [ip_network(network) for network in allowed]
    return address_problem(ip_address(address), networks, dev=dev)


# Each address with the words its refusal must contain, or None when it is permitted.
VERDICTS: list[tuple[str, str | None]] = [
    # IPv4, public
    ("8.8.8.8", None),
    ("1.1.1.1", None),
    ("9.9.9.9", None),
    ("93.184.216.34", None),
    ("100.63.255.255", None),  # just below CGNAT
    ("100.128.0.0", None),  # just above CGNAT
    ("172.15.255.255", None),  # just below 172.16/12
    ("172.32.0.0", None),  # just above 172.16/12
    ("192.169.0.1", None),
    ("223.255.255.255", None),  # last unicast before multicast
    # IPv4, refused
    ("0.0.0.0", "unspecified"),  # noqa: S104 - an address to judge, not to bind
    ("0.1.2.3", "this network"),
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("100.64.0.1", "CGNAT"),
    ("100.127.255.254", "CGNAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local"),  # cloud metadata services
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.0.0.8", "IETF protocol assignment"),
    ("192.0.2.1", "documentation"),
    ("192.88.99.1", "6to4 relay"),
    ("192.168.1.1", "private"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.254", "reserved"),
    ("255.255.255.255", "broadcast"),
    # IPv6, public
    ("2606:4700:4700::1111", None),
    ("2001:4860:4860::8888", None),
    ("2a00:1450:4001:80b::200e", None),
    ("::ffff:8.8.8.8", None),  # IPv4-mapped public
    ("2002:808:808::1", None),  # 6to4 of 8.8.8.8
    ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
    ("64:ff9b:1::101:101", None),  # local-use NAT64 of 1.1.1.1
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", None),  # Teredo, client 8.8.8.8
    # IPv6, refused
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fe80::1", "link-local"),
    ("febf:ffff::1", "link-local"),
    ("fec0::1", "site-local"),
    ("fc00::1", "unique local"),
    ("fd12:3456:789a::1", "unique local"),
    ("ff02::1", "multicast"),
    ("ff05::1:3", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("2001:2::1", "benchmarking"),
    ("2001:10::1", "IETF protocol assignment"),
    ("100::1", "reserved"),  # discard-only
    ("5f00::1", "reserved"),  # SRv6 SIDs
    ("4000::1", "reserved"),  # unassigned, outside 2000::/3
    ("::10.0.0.1", "IPv4-compatible"),
    ("::8.8.8.8", "IPv4-compatible"),  # deprecated whatever it embeds
    ("::ffff:10.0.0.1", "IPv4-mapped address for 10.0.0.1, a private address"),
    ("::ffff:127.0.0.1", "IPv4-mapped address for 127.0.0.1, a loopback address"),
    ("::ffff:169.254.169.254", "link-local"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("2002:a00:1::1", "6to4 address for 10.0.0.1, a private address"),
    ("2002:7f00:1::", "6to4 address for 127.0.0.1"),
    ("2002:c0a8:101::", "6to4 address for 192.168.1.1"),
    ("64:ff9b::a00:1", "NAT64 address for 10.0.0.1, a private address"),
    ("64:ff9b::7f00:1", "NAT64 address for 127.0.0.1, a loopback address"),
    ("64:ff9b:1::a9fe:a9fe", "NAT64 address for 169.254.169.254"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "Teredo address for 10.0.0.1"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo address for 127.0.0.1"),
    # IPv6, the same addresses written otherwise
    ("0:0:0:0:0:0:0:1", "loopback"),
    ("0000:0000:0000:0000:0000:0000:0000:0001", "loopback"),
    ("::ffff:7f00:1", "IPv4-mapped address for 127.0.0.1"),
    ("0:0:0:0:0:ffff:a00:1", "IPv4-mapped address for 10.0.0.1"),
    ("::FFFF:A9FE:A9FE", "IPv4-mapped address for 169.254.169.254"),
    ("fe80::1%eth0", "link-local"),  # with a zone
    ("FE80:0:0:0:0:0:0:1", "link-local"),
    ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "unique local"),
    ("64:ff9b::127.0.0.1", "NAT64 address for 127.0.0.1"),
    ("64:ff9b::c0a8:1", "NAT64 address for 192.168.0.1"),
    ("2002:a9fe:a9fe::1", "6to4 address for 169.254.169.254"),
    ("2002:6440:1::", "6to4 address for 100.64.0.1, a shared (CGNAT) address"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo address for 192.0.2.45"),
    ("::ffff:0:a00:1", "reserved"),  # IPv4-translated (SIIT), not mapped
    ("ff0e::1", "multicast"),
    ("::ffff:255.255.255.255", "broadcast"),
    ("::ffff:224.0.0.251", "multicast"),
    ("::ffff:100.64.0.1", "CGNAT"),
    ("2002:0808:0404::", None),  # 6to4 of 8.8.4.4
    ("::ffff:1.1.1.1", None),
]


def test_the_table_covers_enough_addresses() -> None:
    assert len(VERDICTS) >= 50
    assert len({address for address, _ in VERDICTS}) == len(VERDICTS)


@pytest.mark.parametrize(("address", "expected"), VERDICTS)
def test_verdict(address: str, expected: str | None) -> None:
    verdict = problem(address)
    if expected is None:
        assert verdict is None
    else:
        assert verdict is not None
        assert expected in verdict
        assert verdict.startswith(f"{ip_address(address)} is ")


def test_messages_are_short_and_human() -> None:
    assert problem("127.0.0.1") == "127.0.0.1 is a loopback address"
    assert problem("10.0.0.1") == "10.0.0.1 is a private address"
    assert problem("169.254.169.254") == "169.254.169.254 is a link-local address"
    assert problem("fd00::1") == "fd00::1 is a private (unique local) address"


# -- allowed networks ----------------------------------------------------------------------


def test_an_allowed_network_permits_its_addresses() -> None:
    allowed = ["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"]
    assert problem("10.1.2.3", allowed) is None
    assert problem("127.0.0.1", allowed) is None
    assert problem("fd00::5", allowed) is None


def test_an_allowed_network_permits_only_its_addresses() -> None:
    allowed = ["10.0.0.0/8", "127.0.0.1/32"]
    assert problem("127.0.0.2", allowed) == "127.0.0.2 is a loopback address"
    assert problem("192.168.0.1", allowed) == "192.168.0.1 is a private address"
    assert problem("fd00::1", allowed) is not None


def test_an_allowed_network_permits_what_embeds_its_addresses() -> None:
    allowed = ["10.0.0.0/8"]
    assert problem("::ffff:10.0.0.1", allowed) is None
    assert problem("2002:a00:1::1", allowed) is None
    assert problem("64:ff9b::a00:1", allowed) is None
    assert problem("::ffff:192.168.0.1", allowed) is not None


def test_an_allowed_ipv6_network_is_matched_as_given() -> None:
    assert problem("::ffff:10.0.0.1", ["::ffff:10.0.0.0/104"]) is None
    assert problem("fe80::1", ["fe80::/10"]) is None


def test_allowed_networks_of_the_other_family_do_not_match() -> None:
    assert problem("::1", ["127.0.0.0/8"]) is not None
    assert problem("127.0.0.1", ["::/0"]) is not None


# -- dev mode ------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"])
def test_dev_mode_permits_loopback(address: str) -> None:
    assert problem(address) is not None
    assert problem(address, dev=True) is None


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",  # noqa: S104 - an address to judge, not to bind
        "::",
        "fe80::1",
        "fd00::1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1 goes through a relay, not to this machine
        "64:ff9b::7f00:1",
    ],
)
def test_dev_mode_permits_nothing_but_loopback(address: str) -> None:
    assert problem(address, dev=True) is not None


# -- IP literals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("::ffff:10.0.0.1", "::ffff:10.0.0.1"),
        ("hooks.example.test", None),
        ("localhost", None),
        ("127.1", None),  # not canonical: aiohttp refuses it before any lookup
        ("1234", None),
    ],
)
def test_ip_literal(host: str, expected: str | None) -> None:
    literal = ip_literal(host)
    assert literal == (None if expected is None else ip_address(expected))


# -- the resolver --------------------------------------------------------------------------


class FakeLookup:
    """A stand-in for ``loop.getaddrinfo`` answering from a table, counting calls."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int, **kwargs: Any) -> list[Any]:
        self.calls.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in self.answers[host]
        ]


@pytest.fixture
async def lookup(monkeypatch: pytest.MonkeyPatch) -> FakeLookup:
    """Replaces the running loop's ``getaddrinfo``: async, so it runs in the test's loop."""
    fake = FakeLookup({})
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake)
    return fake


def resolver(**settings: Any) -> GuardedResolver:
    return GuardedResolver(Settings(**settings))


def addresses(*texts: str) -> list[IPAddress]:
    return [ip_address(text) for text in texts]


def networks(*texts: str) -> tuple[IPNetwork, ...]:
    return tuple(ip_network(text) for text in texts)


async def test_resolver_returns_public_addresses(lookup: FakeLookup) -> None:
    lookup.answers["hooks.example.test"] = ["93.184.216.34", "2606:4700:4700::1111"]
    found = await resolver().addresses("hooks.example.test", 443)
    assert found == addresses("93.184.216.34", "2606:4700:4700::1111")


async def test_resolver_keeps_only_the_permitted_addresses(lookup: FakeLookup) -> None:
    lookup.answers["mixed.example.test"] = ["10.0.0.1", "93.184.216.34", "::1"]
    found = await resolver().addresses("mixed.example.test", 443)
    assert found == addresses("93.184.216.34")


async def test_resolver_refuses_a_host_without_a_permitted_address(lookup: FakeLookup) -> None:
    lookup.answers["internal.example.test"] = ["10.0.0.1", "127.0.0.1"]
    with pytest.raises(EgressRefused) as refused:
        await resolver().addresses("internal.example.test", 443)
    assert refused.value.reason == "10.0.0.1 is a private address"
    assert str(refused.value) == "10.0.0.1 is a private address"
    assert isinstance(refused.value, HooklineError)


async def test_resolver_answers_aiohttp_with_the_checked_addresses(lookup: FakeLookup) -> None:
    lookup.answers["hooks.example.test"] = ["10.0.0.1", "93.184.216.34"]
    results = await resolver().resolve("hooks.example.test", 443, socket.AF_UNSPEC)
    assert len(results) == 1
    assert results[0]["hostname"] == "hooks.example.test"
    assert results[0]["host"] == "93.184.216.34"
    assert results[0]["port"] == 443
    assert results[0]["family"] == socket.AF_INET


async def test_resolver_uses_overrides_before_the_system(lookup: FakeLookup) -> None:
    lookup.answers["hooks.example.test"] = ["93.184.216.34"]
    guard = resolver(resolve={"hooks.example.test": "127.0.0.1"}, allow_networks=("127.0.0.1/32",))
    for host in ("hooks.example.test", "HOOKS.Example.Test", "hooks.example.test."):
        assert await guard.addresses(host, 443) == addresses("127.0.0.1")
    assert lookup.calls == []


async def test_override_addresses_are_checked_too(lookup: FakeLookup) -> None:
    guard = resolver(resolve={"hooks.example.test": "127.0.0.1"})
    with pytest.raises(EgressRefused, match=r"^127\.0\.0\.1 is a loopback address$"):
        await guard.addresses("hooks.example.test", 443)


async def test_override_keys_from_the_environment_are_normalised(
    lookup: FakeLookup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOKLINE_RESOLVE", "Hooks.Example.Test.:127.0.0.1")
    guard = GuardedResolver(Settings(allow_networks=networks("127.0.0.0/8")))
    assert await guard.addresses("hooks.example.test", 443) == addresses("127.0.0.1")


async def test_resolver_checks_ip_literals_without_a_lookup(lookup: FakeLookup) -> None:
    guard = resolver()
    assert await guard.addresses("93.184.216.34", 443) == addresses("93.184.216.34")
    with pytest.raises(EgressRefused, match=r"IPv4-mapped address for 10\.0\.0\.1"):
        await guard.addresses("::ffff:10.0.0.1", 443)
    assert lookup.calls == []
    assert guard.literal_problem("10.0.0.1") == "10.0.0.1 is a private address"
    assert guard.literal_problem("93.184.216.34") is None
    assert guard.literal_problem("hooks.example.test") is None


async def test_every_call_looks_the_host_up_again(lookup: FakeLookup) -> None:
    lookup.answers["hooks.example.test"] = ["93.184.216.34"]
    guard = resolver()
    await guard.addresses("hooks.example.test", 443)
    lookup.answers["hooks.example.test"] = ["10.0.0.1"]  # the name is rebound
    with pytest.raises(EgressRefused, match="private"):
        await guard.addresses("hooks.example.test", 443)
    assert lookup.calls == ["hooks.example.test", "hooks.example.test"]


async def test_lookup_failures_are_not_hidden(lookup: FakeLookup) -> None:
    with pytest.raises(socket.gaierror):
        await resolver().addresses("unknown.example.test", 443)


# Every notation a C resolver reads as an IPv4 address (inet_aton: octal, hex, fewer parts).
# URL rules refuse them all at save time; should one reach a delivery anyway (an override,
# a future rule), the real getaddrinfo reads it, here with no network, and the guard judges
# the address it stands for.
NOTATIONS = [
    ("2130706433", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("10.1", "10.0.0.1"),
    ("0xa9.254.0251.0376", "169.254.169.254"),
    ("0xA9FEA9FE", "169.254.169.254"),
    ("0", "0.0.0.0"),  # noqa: S104 - an address to judge, not to bind
    ("0300.0250.1.1", "192.168.1.1"),
]


@pytest.mark.parametrize(("host", "address"), NOTATIONS)
async def test_every_ipv4_notation_is_judged_as_its_address(host: str, address: str) -> None:
    with pytest.raises(EgressRefused) as refused:
        await resolver().addresses(host, 443)
    assert refused.value.reason.startswith(f"{address} is ")


# What a name resolves to -> the addresses the connection may use, or the refusal's words.
ANSWERS: list[tuple[list[str], list[str] | str]] = [
    (["93.184.216.34", "127.0.0.1"], ["93.184.216.34"]),
    (["127.0.0.1", "93.184.216.34"], ["93.184.216.34"]),
    (["::1", "2606:4700:4700::1111"], ["2606:4700:4700::1111"]),
    (["::ffff:10.0.0.1", "8.8.8.8"], ["8.8.8.8"]),
    (["169.254.169.254", "fd00::1", "1.1.1.1", "::1"], ["1.1.1.1"]),
    (["8.8.8.8", "8.8.8.8", "2001:4860:4860::8888"], ["8.8.8.8", "2001:4860:4860::8888"]),
    (["169.254.169.254"], "169.254.169.254 is a link-local address"),
    (["10.0.0.1", "fd00::1", "::1"], "10.0.0.1 is a private address"),
    (["::ffff:127.0.0.1", "64:ff9b::a00:1"], "IPv4-mapped address for 127.0.0.1"),
    (["0.0.0.0"], "the unspecified address"),  # noqa: S104 - an address to judge
]


@pytest.mark.parametrize(("answer", "verdict"), ANSWERS)
async def test_mixed_answers_keep_only_permitted_addresses(
    lookup: FakeLookup, answer: list[str], verdict: list[str] | str
) -> None:
    lookup.answers["mixed.example.test"] = answer
    if isinstance(verdict, str):
        with pytest.raises(EgressRefused, match=re.escape(verdict)):
            await resolver().addresses("mixed.example.test", 443)
    else:
        assert await resolver().addresses("mixed.example.test", 443) == addresses(*verdict)


async def test_a_name_that_answers_differently_each_time_is_judged_each_time(
    lookup: FakeLookup,
) -> None:
    """DNS rebinding: every lookup is judged afresh, and only what it judged is returned."""
    guard = resolver()
    sequence = [["93.184.216.34"], ["127.0.0.1"], ["10.0.0.1", "1.1.1.1"], ["::1"]]
    verdicts: list[list[IPAddress] | str] = []
    for answer in sequence:
        lookup.answers["rebind.example.test"] = answer
        try:
            verdicts.append(await guard.addresses("rebind.example.test", 443))
        except EgressRefused as refused:
            verdicts.append(refused.reason)

    assert verdicts == [
        addresses("93.184.216.34"),
        "127.0.0.1 is a loopback address",
        addresses("1.1.1.1"),
        "::1 is a loopback address",
    ]
    assert lookup.calls == ["rebind.example.test"] * 4


@pytest.mark.parametrize(
    ("url", "a_label"),
    [
        ("https://bücher.example/hook", "xn--bcher-kva.example"),
        ("https://BÜCHER.example/hook", "xn--bcher-kva.example"),
        ("https://ｂｕｃｈ.example/", "buch.example"),  # full-width letters
        ("https://münchen.de./", "xn--mnchen-3ya.de."),
    ],
)
async def test_idn_hosts_are_looked_up_and_judged_as_their_a_label(
    lookup: FakeLookup, url: str, a_label: str
) -> None:
    host = URL(url).raw_host  # the name aiohttp hands the resolver
    assert host == a_label
    lookup.answers[a_label] = ["127.0.0.1"]
    with pytest.raises(EgressRefused, match="loopback"):
        await resolver().addresses(host, 443)
    assert lookup.calls == [a_label]


async def test_dev_resolver_permits_localhost(lookup: FakeLookup) -> None:
    lookup.answers["localhost"] = ["::1", "127.0.0.1"]
    assert await resolver(dev=True).addresses("localhost", 80) == addresses("::1", "127.0.0.1")
    with pytest.raises(EgressRefused, match="loopback"):
        await resolver().addresses("localhost", 80)


async def test_allowed_networks_reach_the_resolver(lookup: FakeLookup) -> None:
    lookup.answers["intranet.example.test"] = ["10.1.2.3", "192.168.0.1"]
    guard = resolver(allow_networks=networks("10.0.0.0/8"))
    assert await guard.addresses("intranet.example.test", 443) == addresses("10.1.2.3")
