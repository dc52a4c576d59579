"""Sending one delivery attempt: an HTTPS POST whose every outcome is an `Outcome`.

One `Sender` holds one aiohttp session for the life of the process: its connection pool,
its TLS context (always verifying: the system CAs plus ``ca_bundle``) and the egress
guard's resolver are built once in `Sender.start`, so `Sender.send`, the hot path, only
builds the request. `send` never raises for anything the network or the receiver does:
timeouts, refused connections, TLS failures and egress refusals become an Outcome's
``error``; a response, whatever its status, becomes its ``status_code``, headers (up to
2048 bytes) and body (up to 64 KiB; a longer body is cut off and its connection closed
rather than drained). Redirects are not followed, and the session keeps no cookies.

An ``error`` is shown to the tenant (SPEC 5.5), so it never names an address or port of
the network hookline sends from, which would make the delivery history a scanner of that
network: an egress refusal says only that, a connection failure only what went wrong
("connection refused"). What it leaves out goes to the operator's log, as a warning.

A delivery sent with ``check_revocation`` (the webhook's ``checkCertificateRevocation``)
goes through a second pool, built on first use, whose connections are handed out only
once the receiver's certificate is known not revoked (`hookline.revocation`); the
others never touch it.
"""

from __future__ import annotations

import math
import os
import socket
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Self

import aiohttp
import structlog
from multidict import CIMultiDict
from yarl import URL

from hookline.clock import now
from hookline.egress import EgressRefused, GuardedResolver
from hookline.revocation import CheckingConnector, RevocationChecker, RevocationFailed
from hookline.settings import Settings
from hookline.urls import parse_url

log = structlog.get_logger()

MAX_BODY_BYTES = 64 * 1024
MAX_HEADER_BYTES = 2048
DEFAULT_CONNECTION_LIMIT = 256

# What the network, the receiver or a webhook's own settings (a header value aiohttp
# refuses to send, say) can make an attempt fail with; anything else is a bug and raises.
_FAILURES = (aiohttp.ClientError, OSError, TimeoutError, EgressRefused, ValueError)
REFUSED = "refused by the egress guard"


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: a response (``status_code``) or an ``error``, in words."""

    status_code: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    error: str | None = None
    duration_ms: float = 0.0
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """Sends delivery attempts over one long-lived, guarded connection pool."""

    def __init__(
        self,
        settings: Settings,
        *,
        limit: int = DEFAULT_CONNECTION_LIMIT,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._settings = settings
        self._limit = limit
        self._clock = clock  # judges OCSP responses' dates, and how long they are cached
        self._schemes = frozenset({"https", "http"} if settings.dev else {"https"})
        self._resolver = GuardedResolver(settings)
        connect = min(settings.connect_timeout, settings.request_timeout)
        self._timeout = aiohttp.ClientTimeout(total=settings.request_timeout, connect=connect)
        self._connect_timeout_message = f"connect timeout after {connect:g} s"
        self._timeout_message = f"request timeout after {settings.request_timeout:g} s"
        self._session: aiohttp.ClientSession | None = None
        self._tls: ssl.SSLContext | None = None
        self._revocation: RevocationChecker | None = None
        self._checking_session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Build the session; call once, inside the event loop that will send."""
        if self._session is not None:
            return
        self._tls = _tls_context(self._settings)
        connector = aiohttp.TCPConnector(
            limit=self._limit,
            limit_per_host=0,  # hookline bounds concurrency per endpoint itself
            resolver=self._resolver,
            use_dns_cache=False,  # every new connection is resolved and checked again
            ssl=self._tls,
        )
        self._session = self._new_session(connector)

    def _new_session(self, connector: aiohttp.TCPConnector) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            cookie_jar=aiohttp.DummyCookieJar(),  # one receiver's cookies are no one else's
            trust_env=False,  # a proxy from the environment would bypass the egress guard
        )

    def _checking(self) -> aiohttp.ClientSession:
        """The pool for deliveries that check revocation, built on first use."""
        if self._checking_session is None:
            assert self._tls is not None
            self._revocation = RevocationChecker(
                resolver=self._resolver,
                tls=self._tls,
                describe=self._describe,
                user_agent=self._settings.user_agent,
                timeout=min(self._settings.connect_timeout, self._settings.request_timeout),
                clock=self._clock,
            )
            connector = CheckingConnector(
                self._revocation,
                limit=self._limit,
                limit_per_host=0,
                resolver=self._resolver,
                use_dns_cache=False,
                ssl=self._tls,
            )
            self._checking_session = self._new_session(connector)
        return self._checking_session

    async def close(self) -> None:
        if self._checking_session is not None:
            await self._checking_session.close()
            self._checking_session = None
        if self._revocation is not None:
            await self._revocation.close()
            self._revocation = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def send(
        self,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        context: Mapping[str, str] | None = None,
        check_revocation: bool = False,
    ) -> Outcome:
        """POST ``body`` to ``url``; every failure is an Outcome, never an exception.

        ``context`` (tenant, webhook and delivery ids) goes into the operator's log line
        of a failure. With ``check_revocation`` nothing is sent unless the receiver's
        certificate is known not revoked (OCSP, `hookline.revocation`).
        """
        if self._session is None:
            raise RuntimeError("Sender.send before Sender.start")
        session = self._checking() if check_revocation else self._session
        started = time.perf_counter()
        target, refusal = self._check_url(url)
        if target is None:
            return Outcome(None, error=refusal, duration_ms=_since(started))
        request_headers = CIMultiDict(headers)
        request_headers["User-Agent"] = self._settings.user_agent
        try:
            # aiohttp does not ask the resolver about an IP-literal host, so check it here.
            problem = self._resolver.literal_problem(target.raw_host or "")
            if problem is not None:
                raise EgressRefused(problem)
            async with session.post(
                target, data=body, headers=request_headers, allow_redirects=False
            ) as response:
                return await self._outcome(response, started)
        except RevocationFailed as error:
            return Outcome(None, error=str(error), duration_ms=_since(started))
        except _FAILURES as error:
            if isinstance(error, EgressRefused | aiohttp.ClientConnectorError):
                log.warning(
                    "delivery attempt failed",
                    **(context or {}),
                    host=target.raw_host,
                    detail=_withheld(error),
                )
            return Outcome(None, error=self._describe(error), duration_ms=_since(started))

    def _check_url(self, url: str) -> tuple[URL | None, str]:
        """The URL to request, or None and why it is not sent."""
        try:
            target = parse_url(url)  # as the webhook rules read it when it was saved
        except ValueError as error:
            return None, f"invalid URL: {error}"
        if target.scheme not in self._schemes:
            allowed = " or ".join(f"{scheme}://" for scheme in sorted(self._schemes))
            return None, f"only {allowed} URLs are delivered"
        if not target.raw_host:
            return None, "invalid URL: no host"
        return target, ""

    async def _outcome(self, response: aiohttp.ClientResponse, started: float) -> Outcome:
        body = bytearray()
        error: str | None = None
        try:
            await _read_capped(response.content, body)
        except _FAILURES as failure:  # the status arrived; keep it, and say what broke
            error = f"reading the response body failed: {self._describe(failure)}"
        if not response.content.at_eof():
            response.close()  # drop the connection rather than drain the rest
        return Outcome(
            status_code=response.status,
            headers=capture_headers(response.raw_headers),
            body=body.decode("utf-8", errors="replace"),
            error=error,
            duration_ms=_since(started),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _describe(self, error: BaseException) -> str:
        """A short message for a failed attempt, naming no address or port."""
        if isinstance(error, EgressRefused):
            return REFUSED
        if isinstance(error, aiohttp.ConnectionTimeoutError):
            return self._connect_timeout_message
        if isinstance(error, TimeoutError):
            return self._timeout_message
        if isinstance(error, aiohttp.ClientConnectorCertificateError):
            certificate_error = error.certificate_error
            reason = getattr(certificate_error, "verify_message", None) or certificate_error
            return f"TLS certificate verify failed: {reason}"
        if isinstance(error, aiohttp.ClientConnectorSSLError | ssl.SSLError):
            return f"TLS handshake failed: {_tls_reason(error)}"
        if isinstance(error, aiohttp.ClientConnectorDNSError):
            return f"cannot resolve {error.host}: {_os_reason(error.os_error)}"
        if isinstance(error, aiohttp.ClientConnectorError):
            return f"cannot connect: {_os_reason(error.os_error)}"
        if isinstance(error, OSError):
            return f"the connection failed: {_os_reason(error)}"  # reset mid-request, say
        if isinstance(error, aiohttp.ServerDisconnectedError):
            return "the server closed the connection without a complete response"
        if isinstance(error, aiohttp.ClientPayloadError):
            return "the response body was cut short"
        if isinstance(error, aiohttp.ClientResponseError):
            return f"invalid response: {error.message}"
        if isinstance(error, aiohttp.InvalidURL):
            return f"invalid URL: {error}"
        if isinstance(error, ValueError):
            return f"invalid request: {error}"
        return str(error) or type(error).__name__


def capture_headers(raw_headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Response headers in arrival order while name + value bytes total at most 2048.

    A repeated name is joined with ", ". Capture stops at the first header that would
    not fit, so what is kept is always a prefix of what was sent.
    """
    captured: dict[str, str] = {}
    used = 0
    for raw_name, raw_value in raw_headers:
        used += len(raw_name) + len(raw_value)
        if used > MAX_HEADER_BYTES:
            break
        name = raw_name.decode("utf-8", errors="replace")
        value = raw_value.decode("utf-8", errors="replace")
        captured[name] = f"{captured[name]}, {value}" if name in captured else value
    return captured


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date.

    A date is taken relative to ``now`` (a POSIX timestamp, default the current time) and
    a date in the past is 0. None when the value is absent or invalid.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        seconds = float(value)
        return seconds if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000": UTC, without a stated zone
        moment = moment.replace(tzinfo=UTC)
    reference = time.time() if now is None else now
    return max(0.0, moment.timestamp() - reference)


async def _read_capped(content: aiohttp.StreamReader, into: bytearray) -> None:
    while len(into) < MAX_BODY_BYTES:
        chunk = await content.read(MAX_BODY_BYTES - len(into))
        if not chunk:
            return
        into += chunk


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """Verifying TLS: the system's CAs, plus the operator's extra bundle when set."""
    context = ssl.create_default_context()
    if settings.ca_bundle is not None:
        context.load_verify_locations(cafile=settings.ca_bundle)
    return context


def _withheld(error: EgressRefused | aiohttp.ClientConnectorError) -> str:
    """What the tenant is not told, for the operator: the refused address and why, or the
    socket's error, which names the addresses tried (aiohttp's message may not)."""
    if isinstance(error, EgressRefused):
        return error.reason
    return str(error.os_error) or type(error.os_error).__name__


def _os_reason(error: OSError) -> str:
    """``connection refused`` rather than ``[Errno 111] Connect call failed ('10.0.0.5',
    443)``: the words of the error number, never the message, which may name addresses."""
    if isinstance(error, socket.gaierror):
        return error.strerror or "the name does not resolve"
    if error.errno is not None:
        return os.strerror(error.errno).lower()
    return "network error"  # e.g. several addresses, each failing in its own way


def _tls_reason(error: BaseException) -> str:
    """``wrong version number`` rather than ``[SSL: WRONG_VERSION_NUMBER] ... (_ssl.c:1006)``."""
    if isinstance(error, aiohttp.ClientConnectorError):
        error = error.os_error
    reason = getattr(error, "reason", None)
    return reason.lower().replace("_", " ") if isinstance(reason, str) else str(error)


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
