"""The form rules for a webhook URL (SPEC 2). Pure: a URL's host is never resolved here.

The address a host resolves to is checked at every delivery attempt (the egress guard),
never at save time, so saving a webhook tells a tenant nothing about internal names.

The host rules judge the host exactly as deliveries send it: `parse_url` is the one
parser of both sides, so a URL accepted here is never read differently when it is sent.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, urlsplit

import idna
from yarl import URL

MAX_URL_LENGTH = 2048
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(\d+|0x[0-9a-f]*)$")
_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")


def parse_url(url: str) -> URL:
    """``url`` as a delivery sends it, read by yarl, the parser aiohttp uses: the host in
    lower case and in A-labels (UTS 46 mapped: ``Bücher.example`` is sent to
    ``xn--bcher-kva.example``). Raises ValueError for what it cannot send, such as a host
    holding a soft hyphen or a zero-width character."""
    return URL(url)


def url_problem(url: str, *, dev: bool = False) -> str | None:
    """Why ``url`` cannot be a webhook URL, or None when it can.

    ``dev`` (HOOKLINE_DEV) also permits ``http://`` and ``localhost``.
    """
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    if _FORBIDDEN_CHARACTERS.search(url):
        return "must not contain spaces, control characters or backslashes"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if "#" in url:
        return "must not contain a fragment (#...)"
    allowed_schemes = ("https", "http") if dev else ("https",)
    if parts.scheme.lower() not in allowed_schemes:
        return "must use https" + (_DEV_HINT if _local(parts) and not dev else "")
    problem = _authority_problem(parts) or _sent_host_problem(url, dev=dev)
    if problem == _NOT_FQDN and _local(parts):
        return problem + _DEV_HINT
    return problem


# For a URL naming this machine (outside dev mode): a developer's receiver is what it means.
_DEV_HINT = "; for a receiver on this machine, serve with HOOKLINE_DEV=1 and use localhost"
_NOT_FQDN = "must have a fully qualified domain name as its host (e.g. hooks.example.com)"
_LOCAL_HOSTS = frozenset({"localhost", "localhost.", "127.0.0.1", "::1"})


def _local(parts: SplitResult) -> bool:
    try:
        return (parts.hostname or "") in _LOCAL_HOSTS
    except ValueError:
        return False


def _authority_problem(parts: SplitResult) -> str | None:
    if not parts.netloc:
        return "must have a host"
    if "@" in parts.netloc:
        return "must not contain a user name or password"
    if parts.netloc.startswith("[") or ":" in (parts.hostname or ""):
        return "must use a domain name, not an IP address"
    if parts.port == 0:
        return "must not use port 0"
    return None


def _sent_host_problem(url: str, *, dev: bool) -> str | None:
    try:
        host = parse_url(url).raw_host or ""
    except ValueError as error:
        return f"is not a valid URL ({error})"
    if dev and host in ("localhost", "localhost."):
        return None
    labels = host.removesuffix(".").split(".")
    if _NUMERIC_LABEL.match(labels[-1]):
        return "must use a domain name, not an IP address"
    if len(labels) < 2:
        return _NOT_FQDN
    if not all(_valid_label(label) for label in labels) or len(".".join(labels)) > 253:
        return "must have a valid domain name as its host"
    return None


def _valid_label(label: str) -> bool:
    """An LDH label; an ``xn--`` one must also be a valid IDNA A-label.

    Other LDH labels need not be: IDNA's rule against hyphens in the 3rd and 4th position
    concerns IDN labels only, and hosts like ``r3---sn-abc.example.com`` exist.
    """
    if not _LABEL.match(label):
        return False
    if label.startswith("xn--"):
        try:
            idna.alabel(label)
        except (idna.IDNAError, UnicodeError):
            return False
    return True
