"""Tests for hookline.sender against real receivers on 127.0.0.1 (SPEC 5.2, 5.5).

Every receiver listens on 127.0.0.1 and every name resolves there, through the settings'
overrides or a fake lookup. The ``connects`` fixture records each TCP connection the
sender attempts and refuses any to another address, so a broken guard cannot reach one.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web

from hookline.sender import (
    MAX_BODY_BYTES,
    MAX_HEADER_BYTES,
    Outcome,
    Sender,
    capture_headers,
    parse_retry_after,
)
from hookline.settings import Settings
from hookline.urls import url_problem
from tests.integration.conftest import LOCAL
from tests.logcapture import capture_own_logs

HOST = "hooks.example.test"
IDS = {"tenant": "t1", "webhook": "w1", "delivery": "d1"}
BOUND = 30  # seconds: "did not hang", never a performance claim

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def local_settings(ca_file: Path, **overrides: Any) -> Settings:
    """Settings under which HOST is 127.0.0.1, reachable, with a trusted certificate."""
    given: dict[str, Any] = {
        "resolve": {HOST: LOCAL},
        "allow_networks": (f"{LOCAL}/32",),
        "ca_bundle": ca_file,
    }
    return Settings(**(given | overrides))


@pytest.fixture
async def make_sender(
    connects: list[tuple[str, int]],
) -> AsyncIterator[Callable[[Settings], Awaitable[Sender]]]:
    started: list[Sender] = []

    async def make(settings: Settings) -> Sender:
        sender = Sender(settings)
        await sender.start()
        started.append(sender)
        return sender

    yield make
    for sender in started:
        await sender.close()


@pytest.fixture
async def sender(make_sender: Callable[[Settings], Awaitable[Sender]], ca_file: Path) -> Sender:
    return await make_sender(local_settings(ca_file))


# -- receivers -----------------------------------------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A running receiver: what it was sent, and the TLS server names clients asked for."""

    port: int = 0
    requests: list[Seen] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)

    def url(self, path: str = "/", host: str = HOST, scheme: str = "https") -> str:
        return f"{scheme}://{host}:{self.port}{path}"


@dataclass
class Serve:
    """Starts receivers on 127.0.0.1 for one test; stopped afterwards."""

    ca: trustme.CA
    runners: list[web.AppRunner] = field(default_factory=list)

    async def __call__(
        self,
        handler: Handler,
        *,
        names: tuple[str, ...] = (HOST,),
        tls: bool = True,
        not_after: datetime | None = None,
    ) -> Receiver:
        receiver = Receiver()

        async def recording(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            receiver.requests.append(Seen(request.path, dict(request.headers), body))
            return await handler(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", recording)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        self.runners.append(runner)
        listener = socket.socket()
        listener.bind((LOCAL, 0))
        context = self._tls(receiver, names, not_after) if tls else None
        await web.SockSite(runner, listener, ssl_context=context).start()
        receiver.port = listener.getsockname()[1]
        return receiver

    def _tls(
        self, receiver: Receiver, names: tuple[str, ...], not_after: datetime | None
    ) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if not_after is None:
            certificate = self.ca.issue_cert(*names)
        else:
            not_before = not_after - timedelta(days=30)
            certificate = self.ca.issue_cert(*names, not_before=not_before, not_after=not_after)
        certificate.configure_cert(context)

        def record_name(_: Any, server_name: str | None, __: Any) -> None:
            receiver.server_names.append(server_name)

        context.sni_callback = record_name
        return context


@pytest.fixture
async def serve(ca: trustme.CA) -> AsyncIterator[Serve]:
    started = Serve(ca)
    yield started
    for runner in started.runners:
        await runner.cleanup()


def answer(status: int = 200, body: str = "", **headers: str) -> Handler:
    async def handle(_: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=body, headers=headers)

    return handle


async def send(
    sender: Sender,
    url: str,
    body: bytes = b'{"hello":"world"}',
    context: dict[str, str] | None = None,
) -> Outcome:
    headers = {"Content-Type": "application/json", "X-Custom": "custom value"}
    return await asyncio.wait_for(sender.send(url, headers, body, context=context), BOUND)


# -- responses -----------------------------------------------------------------------------


async def test_a_2xx_succeeds_and_its_response_is_captured(
    serve: Serve, sender: Sender, connects: list[tuple[str, int]]
) -> None:
    receiver = await serve(answer(202, "accepted, thanks", **{"X-Receipt": "r-1"}))
    outcome = await send(sender, receiver.url("/in?tenant=7"))
    assert outcome.succeeded
    assert outcome.status_code == 202
    assert outcome.error is None
    assert outcome.body == "accepted, thanks"
    assert outcome.headers["X-Receipt"] == "r-1"
    assert outcome.headers["Content-Type"].startswith("text/plain")
    assert outcome.retry_after is None
    assert outcome.duration_ms > 0
    [seen] = receiver.requests
    assert seen.path == "/in"
    assert seen.body == b'{"hello":"world"}'
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["X-Custom"] == "custom value"
    assert connects == [(LOCAL, receiver.port)]


async def test_a_500_is_a_failure_with_its_response(serve: Serve, sender: Sender) -> None:
    receiver = await serve(answer(500, "database down"))
    outcome = await send(sender, receiver.url())
    assert not outcome.succeeded
    assert outcome.status_code == 500
    assert outcome.body == "database down"
    assert outcome.error is None


async def test_a_redirect_is_not_followed(serve: Serve, sender: Sender) -> None:
    receiver = await serve(answer(302, Location="/target"))
    outcome = await send(sender, receiver.url("/start"))
    assert not outcome.succeeded
    assert outcome.status_code == 302
    assert outcome.headers["Location"] == "/target"
    assert [seen.path for seen in receiver.requests] == ["/start"]


async def test_connections_are_reused(
    serve: Serve, sender: Sender, connects: list[tuple[str, int]]
) -> None:
    receiver = await serve(answer(200))
    for _ in range(3):
        assert (await send(sender, receiver.url())).succeeded
    assert len(receiver.requests) == 3
    assert connects == [(LOCAL, receiver.port)]


async def test_non_utf8_bodies_are_decoded_with_replacements(serve: Serve, sender: Sender) -> None:
    async def latin1(_: web.Request) -> web.StreamResponse:
        return web.Response(body="café".encode("latin-1"))

    receiver = await serve(latin1)
    outcome = await send(sender, receiver.url())
    assert outcome.body == "caf\N{REPLACEMENT CHARACTER}"


# -- the request ---------------------------------------------------------------------------


async def test_sni_and_host_carry_the_original_name(
    serve: Serve, sender: Sender, connects: list[tuple[str, int]]
) -> None:
    receiver = await serve(answer(200))
    assert (await send(sender, receiver.url())).succeeded
    assert receiver.server_names == [HOST]
    assert receiver.requests[0].headers["Host"] == f"{HOST}:{receiver.port}"
    assert connects == [(LOCAL, receiver.port)]


async def test_the_user_agent_is_the_configured_one(
    serve: Serve, make_sender: Callable[[Settings], Awaitable[Sender]], ca_file: Path
) -> None:
    sender = await make_sender(local_settings(ca_file, user_agent="Qlik Webhook"))
    receiver = await serve(answer(200))
    outcome = await sender.send(receiver.url(), {"user-agent": "something else"}, b"{}")
    assert outcome.succeeded
    assert receiver.requests[0].headers["User-Agent"] == "Qlik Webhook"


async def test_the_default_user_agent_names_hookline(serve: Serve, sender: Sender) -> None:
    receiver = await serve(answer(200))
    assert (await send(sender, receiver.url())).succeeded
    assert receiver.requests[0].headers["User-Agent"].startswith("hookline-webhook/")


# -- failures before any response ----------------------------------------------------------


async def test_a_refused_connection_is_an_error_naming_no_address(sender: Sender) -> None:
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind((LOCAL, 0))
        port = bound.getsockname()[1]
        with capture_own_logs() as logs:
            outcome = await send(sender, f"https://{HOST}:{port}/", context=IDS)
    assert outcome.status_code is None
    assert not outcome.succeeded
    assert outcome.error == "cannot connect: connection refused"
    [logged] = logs
    assert logged == {
        "event": "delivery attempt failed",
        "log_level": "warning",
        **IDS,
        "host": HOST,
        "detail": logged["detail"],
    }
    assert f"('{LOCAL}', {port})" in logged["detail"]  # the operator's log has it all


async def test_a_failure_without_an_error_number_names_no_address(
    make_sender: Callable[[Settings], Awaitable[Sender]],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When several addresses fail in different ways, the error aiohttp gets has no error
    number, only a message listing every address."""
    listing = (
        "Multiple exceptions: [Errno 111] Connect call failed ('10.1.2.3', 8443), "
        "[Errno 101] Connect call failed ('10.1.2.4', 8443)"
    )

    async def failing(sock: socket.socket, address: Any) -> None:
        raise OSError(listing)

    monkeypatch.setattr(asyncio.get_running_loop(), "sock_connect", failing)
    sender = await make_sender(local_settings(ca_file))

    with capture_own_logs() as logs:
        outcome = await send(sender, f"https://{HOST}:8443/")

    assert outcome.error == "cannot connect: network error"
    assert listing in logs[0]["detail"]


async def test_a_slow_receiver_times_out(
    serve: Serve, make_sender: Callable[[Settings], Awaitable[Sender]], ca_file: Path
) -> None:
    async def asleep(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(BOUND * 2)
        return web.Response()

    sender = await make_sender(local_settings(ca_file, request_timeout=0.5))
    receiver = await serve(asleep)
    outcome = await send(sender, receiver.url())
    assert outcome.status_code is None
    assert outcome.error == "request timeout after 0.5 s"
    assert len(receiver.requests) == 1


async def test_a_handshake_that_never_ends_is_a_connect_timeout(
    make_sender: Callable[[Settings], Awaitable[Sender]], ca_file: Path
) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accepts TCP, never says a word of TLS

    server = await asyncio.start_server(silent, LOCAL, 0)
    port = server.sockets[0].getsockname()[1]
    sender = await make_sender(local_settings(ca_file, connect_timeout=0.5))
    try:
        outcome = await send(sender, f"https://{HOST}:{port}/")
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert outcome.status_code is None
    assert outcome.error == "connect timeout after 0.5 s"


async def test_an_unknown_name_is_an_error(
    make_sender: Callable[[Settings], Awaitable[Sender]],
    ca_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_such_name(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_such_name)
    sender = await make_sender(local_settings(ca_file))
    outcome = await send(sender, "https://nowhere.example.test/")
    assert outcome.status_code is None
    assert outcome.error == "cannot resolve nowhere.example.test: Name or service not known"


async def test_a_body_cut_short_keeps_the_status(
    make_sender: Callable[[Settings], Awaitable[Sender]],
) -> None:
    async def truncating(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(truncating, LOCAL, 0)
    port = server.sockets[0].getsockname()[1]
    sender = await make_sender(Settings(dev=True))
    try:
        outcome = await send(sender, f"http://{LOCAL}:{port}/")
    finally:
        server.close()
        await server.wait_closed()
    assert outcome.status_code == 200
    assert outcome.succeeded  # the receiver said 200; the rest is for the history
    assert outcome.body == "partial"
    assert outcome.error == "reading the response body failed: the response body was cut short"


# -- bounded responses ---------------------------------------------------------------------


async def test_a_huge_body_is_cut_at_64_kib(serve: Serve, sender: Sender) -> None:
    receiver = await serve(answer(200, "a" * 10_000_000))
    outcome = await send(sender, receiver.url())
    assert outcome.status_code == 200
    assert outcome.body == "a" * MAX_BODY_BYTES
    assert outcome.error is None


async def test_an_endless_body_is_cut_and_its_connection_dropped(
    serve: Serve, sender: Sender
) -> None:
    writing_stopped = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            while True:
                await response.write(b"x" * 4096)
        finally:
            writing_stopped.set()

    receiver = await serve(endless)
    outcome = await send(sender, receiver.url())
    assert outcome.status_code == 200
    assert outcome.body == "x" * MAX_BODY_BYTES
    # The receiver's writes fail only once the sender has closed the connection.
    await asyncio.wait_for(writing_stopped.wait(), BOUND)


async def test_response_headers_are_captured_up_to_2048_bytes(serve: Serve, sender: Sender) -> None:
    filler = {f"X-Filler-{number:03d}": "v" * 40 for number in range(100)}  # 52 bytes each
    receiver = await serve(answer(200, "ok", **filler))
    outcome = await send(sender, receiver.url())
    assert outcome.succeeded
    size = sum(len(name) + len(value) for name, value in outcome.headers.items())
    assert MAX_HEADER_BYTES - 52 < size <= MAX_HEADER_BYTES  # stopped at the first misfit
    assert "X-Filler-099" not in outcome.headers
    assert outcome.body == "ok"


def test_header_capture_keeps_a_prefix_and_joins_repeats() -> None:
    raw = [
        (b"Set-Cookie", b"a=1"),
        (b"Set-Cookie", b"b=2"),
        (b"X-Big", b"v" * 2030),  # 26 + 2035 bytes: does not fit
        (b"X-Small", b"s"),
    ]
    assert capture_headers(raw) == {"Set-Cookie": "a=1, b=2"}
    assert capture_headers([(b"X-Exact", b"v" * (MAX_HEADER_BYTES - 7))]) == {
        "X-Exact": "v" * (MAX_HEADER_BYTES - 7)
    }
    assert capture_headers([(b"X-Over", b"v" * (MAX_HEADER_BYTES - 5))]) == {}


# -- Retry-After ---------------------------------------------------------------------------


async def test_retry_after_in_seconds(serve: Serve, sender: Sender) -> None:
    receiver = await serve(answer(503, **{"Retry-After": "120"}))
    outcome = await send(sender, receiver.url())
    assert outcome.status_code == 503
    assert outcome.retry_after == 120.0


async def test_retry_after_as_an_http_date(serve: Serve, sender: Sender) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    receiver = await serve(answer(429, **{"Retry-After": format_datetime(later, usegmt=True)}))
    outcome = await send(sender, receiver.url())
    assert outcome.status_code == 429
    assert outcome.retry_after is not None
    assert 3600 - BOUND < outcome.retry_after <= 3600


async def test_an_invalid_retry_after_is_none(serve: Serve, sender: Sender) -> None:
    receiver = await serve(answer(503, **{"Retry-After": "soon"}))
    outcome = await send(sender, receiver.url())
    assert outcome.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:28:00 -0000", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # already past
        ("Wednesday, 21-Oct-15 07:28:00 GMT", 60.0),  # obsolete forms recipients must accept
        ("Wed Oct 21 07:28:00 2015", 60.0),
        ("Wed, 21 Oct 2015 25:28:00 GMT", None),
        (None, None),
        ("", None),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("٣", None),  # a digit, but not an ASCII one
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 27, tzinfo=UTC).timestamp()
    assert parse_retry_after(value, now=now) == expected


def test_parse_retry_after_defaults_to_the_current_time() -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)
    seconds = parse_retry_after(format_datetime(later, usegmt=True))
    assert seconds is not None
    assert 600 - BOUND < seconds <= 600


# -- TLS -----------------------------------------------------------------------------------


async def test_an_unknown_ca_fails_verification(
    serve: Serve,
    make_sender: Callable[[Settings], Awaitable[Sender]],
    ca_file: Path,
) -> None:
    sender = await make_sender(local_settings(ca_file, ca_bundle=None))
    receiver = await serve(answer(200))
    outcome = await send(sender, receiver.url())
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("TLS certificate verify failed: ")
    assert "issuer" in outcome.error
    assert receiver.requests == []


async def test_a_certificate_for_another_name_fails_verification(
    serve: Serve, sender: Sender
) -> None:
    receiver = await serve(answer(200), names=("other.example.test",))
    outcome = await send(sender, receiver.url())
    assert outcome.error is not None
    assert outcome.error.startswith("TLS certificate verify failed: ")
    assert "mismatch" in outcome.error
    assert receiver.requests == []


async def test_an_expired_certificate_fails_verification(serve: Serve, sender: Sender) -> None:
    expired = datetime.now(UTC) - timedelta(days=1)
    receiver = await serve(answer(200), not_after=expired)
    outcome = await send(sender, receiver.url())
    assert outcome.error == "TLS certificate verify failed: certificate has expired"
    assert receiver.requests == []


async def test_a_plain_http_server_on_https_is_a_tls_error(serve: Serve, sender: Sender) -> None:
    receiver = await serve(answer(200), tls=False)
    outcome = await send(sender, receiver.url())
    assert outcome.status_code is None
    assert outcome.error == "TLS handshake failed: wrong version number"


# -- the egress guard ----------------------------------------------------------------------


async def test_the_guard_refuses_before_connecting(
    serve: Serve,
    make_sender: Callable[[Settings], Awaitable[Sender]],
    ca_file: Path,
    connects: list[tuple[str, int]],
) -> None:
    sender = await make_sender(local_settings(ca_file, allow_networks=()))
    receiver = await serve(answer(200))
    with capture_own_logs() as logs:
        outcome = await send(sender, receiver.url(), context=IDS)
    assert outcome.status_code is None
    assert outcome.error == "refused by the egress guard"
    assert connects == []
    assert receiver.requests == []
    [logged] = logs
    assert logged == {
        "event": "delivery attempt failed",
        "log_level": "warning",
        **IDS,
        "host": HOST,
        "detail": "127.0.0.1 is a loopback address",
    }


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("[::ffff:127.0.0.1]", "is an IPv4-mapped address for 127.0.0.1, a loopback address"),
        ("[::1]", "::1 is a loopback address"),
    ],
)
async def test_ip_literal_hosts_are_checked(
    make_sender: Callable[[Settings], Awaitable[Sender]],
    ca_file: Path,
    connects: list[tuple[str, int]],
    host: str,
    reason: str,
) -> None:
    sender = await make_sender(local_settings(ca_file, allow_networks=()))
    with capture_own_logs() as logs:
        outcome = await send(sender, f"https://{host}:9/")
    assert outcome.error == "refused by the egress guard"
    assert logs[0]["detail"].endswith(reason)
    assert connects == []


async def test_an_allowed_ip_literal_is_sent(
    serve: Serve, sender: Sender, connects: list[tuple[str, int]]
) -> None:
    receiver = await serve(answer(200), names=(LOCAL,))
    outcome = await send(sender, receiver.url(host=LOCAL))
    assert outcome.succeeded
    assert connects == [(LOCAL, receiver.port)]


async def test_dns_rebinding_cannot_redirect_the_connection(
    serve: Serve,
    make_sender: Callable[[Settings], Awaitable[Sender]],
    ca_file: Path,
    connects: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name answers 127.0.0.1 (allowed) first and 10.0.0.1 (private) afterwards."""
    answers = [LOCAL, "10.0.0.1"]
    lookups: list[str] = []

    async def rebinding(host: str, port: int, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        address = answers[min(len(lookups), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", rebinding)
    sender = await make_sender(local_settings(ca_file, resolve={}))

    async def closing(_: web.Request) -> web.StreamResponse:
        response = web.Response(text="ok")
        response.force_close()  # so the next attempt needs a new connection
        return response

    receiver = await serve(closing, names=("rebind.example.test",))
    url = receiver.url(host="rebind.example.test")

    first = await send(sender, url)
    assert first.succeeded
    assert lookups == ["rebind.example.test"]  # one lookup, checked and used
    assert connects == [(LOCAL, receiver.port)]

    second = await send(sender, url)
    assert second.error == "refused by the egress guard"
    assert lookups == ["rebind.example.test"] * 2
    assert connects == [(LOCAL, receiver.port)]  # 10.0.0.1 was never tried
    assert len(receiver.requests) == 1


# -- the URL as saved ----------------------------------------------------------------------


async def test_an_accepted_url_is_sent_to_the_host_the_rules_judged(
    serve: Serve, make_sender: Callable[[Settings], Awaitable[Sender]], ca_file: Path
) -> None:
    sent_host = "xn--bcher-kva.example.test"
    receiver = await serve(answer(200), names=(sent_host,))
    url = f"https://Bücher.Example.TEST:{receiver.port}/hook"
    assert url_problem(url) is None
    sender = await make_sender(local_settings(ca_file, resolve={sent_host: LOCAL}))

    outcome = await send(sender, url)

    assert outcome.succeeded, outcome.error
    assert receiver.server_names == [sent_host]
    assert receiver.requests[0].headers["Host"] == f"{sent_host}:{receiver.port}"


async def test_a_host_the_rules_refuse_as_unreadable_is_not_sent_either(
    sender: Sender, connects: list[tuple[str, int]]
) -> None:
    url = "https://exam\u00adple.example.test/"
    assert (url_problem(url) or "").startswith("is not a valid URL")

    outcome = await send(sender, url)

    assert outcome.error is not None
    assert outcome.error.startswith("invalid URL: Host 'exam")
    assert "cannot contain" in outcome.error
    assert connects == []


# -- schemes -------------------------------------------------------------------------------


async def test_http_is_refused_unless_dev(
    serve: Serve, sender: Sender, connects: list[tuple[str, int]]
) -> None:
    receiver = await serve(answer(200), tls=False)
    outcome = await send(sender, receiver.url(scheme="http"))
    assert outcome.error == "only https:// URLs are delivered"
    assert connects == []
    assert receiver.requests == []


async def test_dev_permits_http_to_loopback(
    serve: Serve, make_sender: Callable[[Settings], Awaitable[Sender]]
) -> None:
    sender = await make_sender(Settings(dev=True))
    receiver = await serve(answer(200, "plain"), tls=False)
    outcome = await send(sender, receiver.url(host=LOCAL, scheme="http"))
    assert outcome.succeeded
    assert outcome.body == "plain"


async def test_dev_still_refuses_other_schemes(
    make_sender: Callable[[Settings], Awaitable[Sender]], connects: list[tuple[str, int]]
) -> None:
    sender = await make_sender(Settings(dev=True))
    for url in ("ftp://127.0.0.1/", "file:///etc/passwd", "ws://127.0.0.1/"):
        outcome = await send(sender, url)
        assert outcome.error == "only http:// or https:// URLs are delivered"
    assert connects == []


async def test_a_header_aiohttp_refuses_is_an_error(serve: Serve, sender: Sender) -> None:
    receiver = await serve(answer(200))
    outcome = await sender.send(receiver.url(), {"X-Bad": "x\r\nInjected: 1"}, b"{}")
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("invalid request: ")
    assert all("Injected" not in seen.headers for seen in receiver.requests)


async def test_a_url_without_a_host_is_an_error(sender: Sender) -> None:
    outcome = await send(sender, "https:///path")
    assert outcome.status_code is None
    assert outcome.error is not None
    assert outcome.error.startswith("invalid URL")


# -- the session ---------------------------------------------------------------------------


async def test_the_sender_is_an_async_context_manager(serve: Serve, ca_file: Path) -> None:
    receiver = await serve(answer(200))
    async with Sender(local_settings(ca_file)) as sender:
        assert (await send(sender, receiver.url())).succeeded
    with pytest.raises(RuntimeError):
        await sender.send(receiver.url(), {}, b"")


async def test_cookies_are_not_kept(serve: Serve, sender: Sender) -> None:
    receiver = await serve(answer(200, **{"Set-Cookie": "session=secret; Path=/"}))
    await send(sender, receiver.url())
    await send(sender, receiver.url())
    assert "Cookie" not in receiver.requests[1].headers


def test_settings_have_per_attempt_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    assert (Settings().connect_timeout, Settings().request_timeout) == (5.0, 10.0)
    monkeypatch.setenv("HOOKLINE_CONNECT_TIMEOUT", "2.5")
    monkeypatch.setenv("HOOKLINE_REQUEST_TIMEOUT", "30")
    assert (Settings().connect_timeout, Settings().request_timeout) == (2.5, 30.0)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "soon"])
def test_timeouts_must_be_positive_numbers(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HOOKLINE_REQUEST_TIMEOUT", value)
    with pytest.raises(ValueError, match="request_timeout"):
        Settings()
