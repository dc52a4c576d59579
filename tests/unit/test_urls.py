"""Tests for hookline.urls: the form rules of a webhook URL (SPEC 2, 5.5)."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from hookline.egress import ip_literal
from hookline.urls import MAX_URL_LENGTH, parse_url, url_problem

IP_PROBLEM = "must use a domain name, not an IP address"
INVALID_HOST = "must have a valid domain name as its host"
NOT_FQDN = "must have a fully qualified domain name as its host (e.g. hooks.example.com)"


def url_of_length(length: int) -> str:
    """An otherwise valid URL exactly ``length`` characters long."""
    prefix = "https://hooks.example.com/"
    return prefix + "a" * (length - len(prefix))


# -- accepted ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/",
        "https://hooks.example.com",
        "https://example.com/path/to/hook?x=1&y=%23",
        "https://hooks.example.com:8443/hook",
        "https://hooks.example.com:/hook",
        "HTTPS://Hooks.Example.COM/",
        "https://a.b/",
        "https://1-2.example.com/",
        "https://123.example.com/",
        "https://1.2.3.4.example.com/",
        "https://example.c0m/",
        "https://" + "a" * 63 + ".example.com/",
    ],
)
def test_well_formed_https_url_is_accepted(url: str) -> None:
    assert url_problem(url) is None


def test_host_with_trailing_dot_is_accepted() -> None:
    assert url_problem("https://hooks.example.com./") is None


def test_host_with_two_trailing_dots_is_refused() -> None:
    assert url_problem("https://hooks.example.com../") == INVALID_HOST


@pytest.mark.parametrize(
    "url",
    [
        "https://bücher.example/",
        "https://xn--bcher-kva.example/",
        "https://XN--BCHER-KVA.example/",
        "https://münchen.de./",
        "https://straße.de/",
        "https://bücher。example/",
        "https://ｅｘａｍｐｌｅ.com/",
    ],
)
def test_internationalised_host_is_accepted(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    [
        "https://xn--a.example/",
        "https://xn--.example/",
        "https://xn--abc-.example/",
        "https://xn--55555555.example/",
        "https://hooks.xn--a/",
    ],
)
def test_host_with_invalid_punycode_is_refused(url: str) -> None:
    assert url_problem(url) == INVALID_HOST


def test_host_with_a_disallowed_code_point_is_refused() -> None:
    assert url_problem("https://💩.example/") == INVALID_HOST


@pytest.mark.parametrize(
    "url",
    [
        "https://ab--c.example.com/",
        "https://r3---sn-4g5e6nsz.googlevideo.com/",
    ],
)
def test_ascii_label_with_hyphens_in_third_and_fourth_position_is_accepted(url: str) -> None:
    # Valid DNS (LDH) labels; IDNA's hyphen rule applies to IDN labels only.
    assert url_problem(url) is None


# -- length --------------------------------------------------------------------------------


def test_url_of_exactly_2048_characters_is_accepted() -> None:
    url = url_of_length(MAX_URL_LENGTH)
    assert len(url) == 2048
    assert url_problem(url) is None


def test_url_of_2049_characters_is_refused() -> None:
    url = url_of_length(MAX_URL_LENGTH + 1)
    assert len(url) == 2049
    assert url_problem(url) == "must be at most 2048 characters"


def test_host_of_253_characters_is_accepted_with_or_without_trailing_dot() -> None:
    host = "a." * 125 + "abc"
    assert len(host) == 253
    assert url_problem(f"https://{host}/") is None
    assert url_problem(f"https://{host}./") is None


def test_host_of_254_characters_is_refused() -> None:
    host = "a." * 125 + "abcd"
    assert url_problem(f"https://{host}/") == INVALID_HOST


def test_label_of_64_characters_is_refused() -> None:
    assert url_problem("https://" + "a" * 64 + ".example.com/") == INVALID_HOST


# -- scheme, userinfo, fragment, port ------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/",
        "ftp://hooks.example.com/",
        "wss://hooks.example.com/",
        "hooks.example.com/path",
        "//hooks.example.com/",
    ],
)
def test_url_without_https_scheme_is_refused(url: str) -> None:
    assert url_problem(url) == "must use https"


@pytest.mark.parametrize(
    "url",
    [
        "https://user@hooks.example.com/",
        "https://user:password@hooks.example.com/",
        "https://:@hooks.example.com/",
        "https://hooks.example.com@/",
        "https://hooks.example.com%2F@evil.example/",
        "https://user@127.0.0.1/",
    ],
)
def test_url_with_userinfo_is_refused(url: str) -> None:
    assert url_problem(url) == "must not contain a user name or password"


@pytest.mark.parametrize(
    "url",
    ["https://hooks.example.com/#frag", "https://hooks.example.com/#", "https://a.b/?#"],
)
def test_url_with_fragment_is_refused(url: str) -> None:
    assert url_problem(url) == "must not contain a fragment (#...)"


def test_url_with_encoded_hash_in_path_is_accepted() -> None:
    assert url_problem("https://hooks.example.com/%23") is None


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/a b",
        "https://hooks.example.com/\t",
        "https://hooks.example.com/\n",
        "https://hooks.example.com\r\n/",
        "https://hooks.example.com\\@evil.example/",
        "https://hooks.example.com/\x00",
        "https://hooks.example.com/\x7f",
    ],
)
def test_url_with_space_control_character_or_backslash_is_refused(url: str) -> None:
    assert url_problem(url) == "must not contain spaces, control characters or backslashes"


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com:65536/",
        "https://hooks.example.com:abc/",
        "https://hooks.example.com:99999999999999999999/",
        "https://::1/",
    ],
)
def test_url_with_invalid_port_is_refused(url: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert problem.startswith("is not a valid URL")


def test_url_with_port_zero_is_refused() -> None:
    assert url_problem("https://hooks.example.com:0/") == "must not use port 0"


@pytest.mark.parametrize("url", ["https:///path", "https:hooks.example.com", "https://"])
def test_url_without_host_is_refused(url: str) -> None:
    assert url_problem(url) == "must have a host"


# -- host form -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://example/", "https://com./"])
def test_single_label_host_is_refused(url: str) -> None:
    assert url_problem(url) == NOT_FQDN


DEV_HINT = "; for a receiver on this machine, serve with HOOKLINE_DEV=1 and use localhost"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://localhost/", NOT_FQDN + DEV_HINT),
        ("https://localhost.:9000/", NOT_FQDN + DEV_HINT),
        ("http://localhost:9000/in", "must use https" + DEV_HINT),
        ("http://LocalHost/", "must use https" + DEV_HINT),
        ("http://127.0.0.1:9000/", "must use https" + DEV_HINT),
        ("http://[::1]/", "must use https" + DEV_HINT),
    ],
)
def test_a_url_naming_this_machine_hints_at_dev_mode(url: str, problem: str) -> None:
    assert url_problem(url) == problem


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks..example.com/",
        "https://.example.com/",
        "https://-hooks.example.com/",
        "https://hooks-.example.com/",
        "https://hooks_1.example.com/",
        "https://hooks.example.com%2e/",
        "https://%68ooks.example.com/",
    ],
)
def test_host_that_is_not_a_valid_domain_name_is_refused(url: str) -> None:
    assert url_problem(url) == INVALID_HOST


# -- IP literals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/",
        "https://8.8.8.8/",
        "https://1.2.3.4./",
        "https://127.0.0.1:8443/",
        "https://0/",
        "https://1.2.3.4.5/",
        "https://a.b.c.123/",
    ],
)
def test_url_with_ipv4_literal_in_dotted_decimal_is_refused(url: str) -> None:
    assert url_problem(url) == IP_PROBLEM


def test_url_with_ipv4_literal_in_decimal_is_refused() -> None:
    assert url_problem("https://2130706433/") == IP_PROBLEM


@pytest.mark.parametrize("url", ["https://0177.0.0.1/", "https://017700000001/"])
def test_url_with_ipv4_literal_in_octal_is_refused(url: str) -> None:
    assert url_problem(url) == IP_PROBLEM


@pytest.mark.parametrize(
    "url",
    [
        "https://0x7f.0.0.1/",
        "https://0x7f000001/",
        "https://0X7F000001/",
        "https://0x7f.0x0.0x0.0x1/",
        "https://1.2.3.0x/",
        "https://0x.0/",
    ],
)
def test_url_with_ipv4_literal_in_hex_is_refused(url: str) -> None:
    assert url_problem(url) == IP_PROBLEM


@pytest.mark.parametrize(
    "url", ["https://127.1/", "https://127.0.1/", "https://0x7f.1/", "https://10.1/"]
)
def test_url_with_ipv4_literal_in_short_form_is_refused(url: str) -> None:
    assert url_problem(url) == IP_PROBLEM


def test_url_with_percent_encoded_ipv4_literal_is_refused() -> None:
    assert url_problem("https://%31%32%37.0.0.1/") is not None


@pytest.mark.parametrize("url", ["https://１２７.0.0.1/", "https://127。0。0。1/"])
def test_url_with_ipv4_literal_in_fullwidth_characters_is_refused(url: str) -> None:
    assert url_problem(url) == IP_PROBLEM


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1]/",
        "https://[::1]:443/",
        "https://[2001:db8::1]/",
        "https://[fe80::1%25eth0]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:7f00:1]/",
        "https://[v1.x]/",
    ],
)
def test_url_with_ipv6_literal_is_refused(url: str) -> None:
    assert url_problem(url) == IP_PROBLEM


# -- dev mode ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://localhost:8080/hook",
        "http://LOCALHOST/",
        "http://localhost./",
        "https://localhost/",
        "http://hooks.example.com/",
    ],
)
def test_dev_mode_permits_http_and_localhost(url: str) -> None:
    assert url_problem(url, dev=True) is None


@pytest.mark.parametrize(
    "url", ["http://localhost/", "http://localhost:8080/hook", "http://hooks.example.com/"]
)
def test_http_and_localhost_are_refused_outside_dev_mode(url: str) -> None:
    assert url_problem(url) is not None


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1/", IP_PROBLEM),
        ("http://[::1]/", IP_PROBLEM),
        ("http://2130706433/", IP_PROBLEM),
        ("ftp://localhost/", "must use https"),
        ("http://user@localhost/", "must not contain a user name or password"),
        ("http://localhost/#x", "must not contain a fragment (#...)"),
    ],
)
def test_dev_mode_still_refuses_ip_literals_userinfo_and_other_schemes(
    url: str, problem: str
) -> None:
    assert url_problem(url, dev=True) == problem


# -- properties ----------------------------------------------------------------------------

_LDH = "abcdefghijklmnopqrstuvwxyz0123456789-"
labels = st.text(_LDH, min_size=1, max_size=63).filter(
    lambda label: not label.startswith(("-", "xn--")) and not label.endswith("-")
)
top_level_labels = st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=20)
fqdns = (
    st.tuples(st.lists(labels, min_size=1, max_size=4), top_level_labels)
    .map(lambda parts: ".".join([*parts[0], parts[1]]))
    .filter(lambda host: len(host) <= 253)
)
paths = st.text("abcdefghijklmnopqrstuvwxyz0123456789-._~/?=&%", max_size=100)


@settings(deadline=None)
@given(host=fqdns, path=paths, trailing_dot=st.booleans())
def test_any_url_with_a_valid_fqdn_host_is_accepted(
    host: str, path: str, trailing_dot: bool
) -> None:
    assert url_problem(f"https://{host}{'.' if trailing_dot else ''}/{path}") is None


def ipv4_renderings(address: int) -> list[str]:
    """``address`` in the notations a WHATWG URL parser reads as IPv4."""
    octets = list(ipaddress.IPv4Address(address).packed)
    a, b, c, d = octets
    return [
        ".".join(str(octet) for octet in octets),
        ".".join(f"0{octet:o}" for octet in octets),
        ".".join(hex(octet) for octet in octets),
        ".".join(hex(octet).upper().replace("0X", "0x") for octet in octets),
        str(address),
        hex(address),
        f"0{address:o}",
        f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}",
        f"{hex(a)}.{b}.0{c:o}.{d}",
    ]


@settings(deadline=None)
@given(address=st.integers(min_value=0, max_value=2**32 - 1), trailing_dot=st.booleans())
def test_any_ipv4_address_in_any_notation_is_refused(address: int, trailing_dot: bool) -> None:
    for rendering in ipv4_renderings(address):
        host = rendering + ("." if trailing_dot else "")
        assert url_problem(f"https://{host}/") == IP_PROBLEM, host
        assert url_problem(f"http://{host}/", dev=True) == IP_PROBLEM, host


@settings(deadline=None)
@given(address=st.ip_addresses(v=6))
def test_any_ipv6_literal_is_refused(address: ipaddress.IPv6Address) -> None:
    assert url_problem(f"https://[{address}]/") == IP_PROBLEM
    assert url_problem(f"https://[{address.exploded}]:8443/hook") == IP_PROBLEM


@settings(deadline=None)
@given(address=st.ip_addresses(v=4))
def test_any_ipv4_mapped_ipv6_literal_is_refused(address: ipaddress.IPv4Address) -> None:
    assert url_problem(f"https://[::ffff:{address}]/") == IP_PROBLEM


@settings(deadline=None)
@given(url=st.text(max_size=300))
def test_url_problem_never_raises(url: str) -> None:
    problem = url_problem(url)
    assert problem is None or isinstance(problem, str)


# Text shaped like an https URL, with hostile characters mixed into some of it, so that
# much is accepted and the rest is refused for many different reasons.
good_labels = st.from_regex(r"[a-z0-9üｘ]([a-z0-9üｘ-]{0,6}[a-z0-9üｘ])?", fullmatch=True)
hostile_labels = st.text(st.sampled_from("a0x.%_[]:@。-"), min_size=1, max_size=6)
url_like = st.builds(
    lambda scheme, labels, dot, port, rest: f"{scheme}://{'.'.join(labels)}{dot}{port}/{rest}",
    st.sampled_from(["https", "https", "HTTPS", "http"]),
    st.lists(st.one_of(good_labels, good_labels, hostile_labels), min_size=1, max_size=3).map(
        lambda labels: [*labels, "example"]
    ),
    st.sampled_from(["", "."]),
    st.sampled_from(["", ":443", ":0", ":8443", ":", ":99999"]),
    st.text(st.sampled_from("abc/?=&%~-._"), max_size=20)
    | st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20),
)


@settings(deadline=None, max_examples=300)
@given(url=url_like)
def test_an_accepted_url_is_read_as_a_domain_name_by_the_sender(url: str) -> None:
    """What the rules accept, yarl (aiohttp's URL parser, used to deliver) reads as https
    to a host name, never an IP literal, with no user info, and its normal form is
    accepted again."""
    if url_problem(url) is not None:
        return
    parsed = URL(url)
    assert parsed.scheme == "https"
    assert parsed.raw_host is not None
    assert ip_literal(parsed.raw_host.rstrip(".")) is None
    assert parsed.user is None
    assert parsed.password is None
    assert url_problem(str(parsed)) is None


# -- saved as it is sent -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "sent"),
    [
        ("Bücher.Example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("HOOKS.Example.COM.", "hooks.example.com."),
        ("ｅｘａｍｐｌｅ．com", "example.com"),
        ("straße.de", "xn--strae-oqa.de"),
    ],
)
def test_an_accepted_host_is_sent_in_lower_case_a_labels(host: str, sent: str) -> None:
    url = f"https://{host}/hook"
    assert url_problem(url) is None
    assert parse_url(url).raw_host == sent


@pytest.mark.parametrize(
    "host",
    ["exam\u00adple.com", "exa\u200bmple.com", "exa\u200dmple.com", "\ufeffexample.com"],
)
def test_a_host_with_an_invisible_character_is_refused(host: str) -> None:
    # UTS 46 would silently drop it, so the host sent would not be the one shown; the
    # sender's parser refuses it, and so do the rules.
    problem = url_problem(f"https://{host}/hook")
    assert problem is not None
    assert problem.startswith("is not a valid URL (Host ")
    with pytest.raises(ValueError, match="cannot contain"):
        parse_url(f"https://{host}/hook")


_SENT_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# Pieces of hosts that parsers are known to read differently: IDNA (U-labels, A-labels,
# deviation characters), default-ignorable code points (soft hyphen, zero-width, BOM),
# full-width forms and dots, combining marks, case, percent-encoding, digits.
tricky_pieces = st.sampled_from(
    [
        *["a", "Hooks", "EXAMPLE", "com", "1", "0x7f", "-", "_", "xn--", "xn--bcher-kva"],
        *["bücher", "straße", "ς", "İ", "ı", "\u0301", "١", "ｅｘａｍｐｌｅ", "Ａ"],
        *["\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u034f"],
        *[".", "..", "。", "．", "%41", "%2e", "%"],
    ]
)
tricky_hosts = st.lists(tricky_pieces, min_size=1, max_size=8).map("".join)


@settings(deadline=None, max_examples=1000)
@given(host=tricky_hosts, trailing_dot=st.booleans())
def test_the_rules_judge_the_host_the_sender_sends(host: str, trailing_dot: bool) -> None:
    """Whatever the rules accept, the sender's parser reads, and the host it sends (to the
    egress guard's lookup, in SNI and in Host) is one the rules allow: a domain name of
    lower-case ASCII letters, digits and hyphens. The sender's parser is checked against
    yarl itself, the parser aiohttp applies to a URL given as text."""
    url = f"https://{host}{'.' if trailing_dot else ''}/hook"
    if url_problem(url) is not None:
        return
    sent = parse_url(url)
    assert sent == URL(url)
    assert sent.raw_host is not None
    labels = sent.raw_host.removesuffix(".").split(".")
    assert len(labels) >= 2
    assert all(_SENT_LABEL.fullmatch(label) for label in labels), sent.raw_host
    assert not labels[-1].isdigit()
    assert url_problem(str(sent)) is None
