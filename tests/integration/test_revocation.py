"""checkCertificateRevocation end to end (SPEC 5.6): real HTTPS receivers on 127.0.0.1 with
certificates from a trustme CA, and an OCSP responder on loopback that the certificates'
AIA names, reached through the egress guard like any delivery.

Every name resolves through the settings' overrides; the ``connects`` fixture records
each TCP connection and refuses any but 127.0.0.1, so a lookup that skipped the guard
could reach nothing.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from cryptography.x509 import ocsp

from hookline.clock import now
from hookline.revocation import REVOKED, UNCHECKED
from hookline.sender import Outcome, Sender
from hookline.settings import Settings
from tests.integration.conftest import LOCAL
from tests.integration.test_sender import local_settings
from tests.ocsp import Issued, Verdict
from tests.ports import refused_port

HOST = "hooks.example.test"
OCSP_HOST = "ocsp.example.test"
BOUND = 30  # seconds: "did not hang", never a performance claim
LIFETIME = timedelta(hours=1)  # the responder's nextUpdate, from its thisUpdate


class Clock:
    """The sender's and the responder's time: now, until a test moves it."""

    def __init__(self) -> None:
        self.moment = now()

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock()


@dataclass
class Responder:
    """An OCSP responder on 127.0.0.1 answering for one issuer's certificates, and
    serving that issuer's certificate at ``/issuer.der`` (for AIA caIssuers)."""

    issuer: Issued
    clock: Clock
    verdicts: dict[int, Verdict] = field(default_factory=dict)
    asked: list[int] = field(default_factory=list)  # the serials of OCSP requests
    fetched: list[str] = field(default_factory=list)  # caIssuers paths
    content_types: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://{OCSP_HOST}:{self.port}/"

    @property
    def issuer_url(self) -> str:
        return f"http://{OCSP_HOST}:{self.port}/issuer.der"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            self.fetched.append(request.path)
            return web.Response(body=self.issuer.der, content_type="application/pkix-cert")
        body = await request.read()
        serial = ocsp.load_der_ocsp_request(body).serial_number
        self.asked.append(serial)
        self.content_types.append(request.content_type)
        verdict = self.verdicts.get(serial, "unknown")
        answer = self.issuer.answer_request(body, verdict, self.clock(), next_update=LIFETIME)
        return web.Response(body=answer, content_type="application/ocsp-response")


@dataclass
class Receiver:
    port: int = 0
    bodies: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}/in"


@dataclass
class Servers:
    """Starts responders and receivers on 127.0.0.1 for one test; stopped afterwards."""

    tmp_path: Path
    clock: Clock
    runners: list[web.AppRunner] = field(default_factory=list)

    async def responder(self, issuer: Issued) -> Responder:
        responder = Responder(issuer, self.clock)
        responder.port = await self._start(responder.handle, None)
        return responder

    async def receiver(self, leaf: Issued, chain: tuple[Issued, ...] = ()) -> Receiver:
        receiver = Receiver()

        async def handle(request: web.Request) -> web.StreamResponse:
            receiver.bodies.append(await request.read())
            return web.Response(text="thanks")

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert_file = self.tmp_path / f"leaf-{leaf.certificate.serial_number}.pem"
        key_file = cert_file.with_suffix(".key")
        cert_file.write_bytes(leaf.pem + b"".join(link.pem for link in chain))
        key_file.write_bytes(leaf.key_pem)
        context.load_cert_chain(cert_file, key_file)
        receiver.port = await self._start(handle, context)
        return receiver

    async def _start(
        self,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        context: ssl.SSLContext | None,
    ) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, shutdown_timeout=0.1)
        await runner.setup()
        self.runners.append(runner)
        listener = socket.socket()
        listener.bind((LOCAL, 0))
        await web.SockSite(runner, listener, ssl_context=context).start()
        port: int = listener.getsockname()[1]
        return port


@pytest.fixture
async def servers(tmp_path: Path, clock: Clock) -> AsyncIterator[Servers]:
    started = Servers(tmp_path, clock)
    yield started
    for runner in started.runners:
        await runner.cleanup()


@pytest.fixture
def root(ca: trustme.CA) -> Issued:
    return Issued.of(ca)


def settings(ca_file: Path, **overrides: Any) -> Settings:
    """HOST and OCSP_HOST are 127.0.0.1, allowed; the trustme CA is trusted."""
    return local_settings(ca_file, **({"resolve": {HOST: LOCAL, OCSP_HOST: LOCAL}} | overrides))


@pytest.fixture
async def make_sender(
    connects: list[tuple[str, int]], clock: Clock, ca_file: Path
) -> AsyncIterator[Callable[..., Awaitable[Sender]]]:
    started: list[Sender] = []

    async def make(**overrides: Any) -> Sender:
        sender = Sender(settings(ca_file, **overrides), clock=clock)
        await sender.start()
        started.append(sender)
        return sender

    yield make
    for sender in started:
        await sender.close()


@pytest.fixture
async def sender(make_sender: Callable[..., Awaitable[Sender]]) -> Sender:
    return await make_sender()


async def send(sender: Sender, url: str, *, check: bool = True) -> Outcome:
    headers = {"Content-Type": "application/json"}
    return await asyncio.wait_for(
        sender.send(url, headers, b'{"hello":"world"}', check_revocation=check), BOUND
    )


# -- the verdicts --------------------------------------------------------------------------


async def test_a_good_certificate_is_delivered(
    servers: Servers, root: Issued, sender: Sender, connects: list[tuple[str, int]]
) -> None:
    responder = await servers.responder(root)
    leaf = root.issue(HOST, ocsp_urls=[responder.url])
    responder.verdicts[leaf.certificate.serial_number] = "good"
    receiver = await servers.receiver(leaf)
    outcome = await send(sender, receiver.url)
    assert outcome.succeeded, outcome.error
    assert receiver.bodies == [b'{"hello":"world"}']
    assert responder.asked == [leaf.certificate.serial_number]
    assert responder.content_types == ["application/ocsp-request"]
    # The responder's name went through the guard's overrides, like the receiver's.
    assert connects == [(LOCAL, receiver.port), (LOCAL, responder.port)]


async def test_a_revoked_certificate_fails_the_attempt_before_anything_is_sent(
    servers: Servers, root: Issued, sender: Sender
) -> None:
    responder = await servers.responder(root)
    leaf = root.issue(HOST, ocsp_urls=[responder.url])
    responder.verdicts[leaf.certificate.serial_number] = "revoked"
    receiver = await servers.receiver(leaf)
    outcome = await send(sender, receiver.url)
    assert outcome.status_code is None
    assert outcome.error == f"{REVOKED} (since 2026-01-02 03:04:05 UTC, reason: key compromise)"
    assert receiver.bodies == []


async def test_an_unknown_status_fails_the_attempt(
    servers: Servers, root: Issued, sender: Sender
) -> None:
    responder = await servers.responder(root)
    leaf = root.issue(HOST, ocsp_urls=[responder.url])  # the responder knows nothing of it
    receiver = await servers.receiver(leaf)
    outcome = await send(sender, receiver.url)
    assert outcome.error == (
        f"{UNCHECKED}: its OCSP responder does not know the certificate (status unknown)"
    )
    assert receiver.bodies == []


async def test_a_responder_that_is_down_fails_the_attempt(
    servers: Servers, root: Issued, sender: Sender
) -> None:
    with refused_port(LOCAL) as port:
        down = f"http://{OCSP_HOST}:{port}/"
        receiver = await servers.receiver(root.issue(HOST, ocsp_urls=[down]))
        outcome = await send(sender, receiver.url)
    assert outcome.error is not None
    assert outcome.error.startswith(f"{UNCHECKED}: its OCSP responder {down} is unreachable (")
    assert "connection refused" in outcome.error
    assert receiver.bodies == []


async def test_a_responder_that_never_answers_fails_within_the_connect_timeout(
    servers: Servers, root: Issued, make_sender: Callable[..., Awaitable[Sender]]
) -> None:
    silent = socket.socket()  # accepts connections (the backlog), never answers
    silent.bind((LOCAL, 0))
    silent.listen()
    try:
        url = f"http://{OCSP_HOST}:{silent.getsockname()[1]}/"
        receiver = await servers.receiver(root.issue(HOST, ocsp_urls=[url]))
        sender = await make_sender(connect_timeout=0.5)
        outcome = await send(sender, receiver.url)
    finally:
        silent.close()
    assert outcome.error == f"{UNCHECKED}: no answer within 0.5 s"
    assert receiver.bodies == []


async def test_a_certificate_naming_no_responder_fails_the_attempt(
    servers: Servers, root: Issued, sender: Sender
) -> None:
    receiver = await servers.receiver(root.issue(HOST))
    outcome = await send(sender, receiver.url)
    assert outcome.error == f"{UNCHECKED}: the certificate names no OCSP responder"
    assert receiver.bodies == []


# -- the cache -----------------------------------------------------------------------------


async def test_the_answer_is_cached_until_its_next_update(
    servers: Servers, root: Issued, sender: Sender, clock: Clock
) -> None:
    responder = await servers.responder(root)
    leaf = root.issue(HOST, ocsp_urls=[responder.url])
    serial = leaf.certificate.serial_number
    responder.verdicts[serial] = "good"
    receiver = await servers.receiver(leaf)
    assert (await send(sender, receiver.url)).succeeded
    responder.verdicts[serial] = "revoked"  # the cached answer still holds
    clock.moment += LIFETIME - timedelta(minutes=2)
    assert (await send(sender, receiver.url)).succeeded
    assert responder.asked == [serial]
    clock.moment += timedelta(minutes=2)  # past nextUpdate: asked again, on the pooled connection
    outcome = await send(sender, receiver.url)
    assert outcome.error is not None
    assert outcome.error.startswith(REVOKED)
    assert responder.asked == [serial, serial]
    assert len(receiver.bodies) == 2


# -- only flagged webhooks pay -------------------------------------------------------------


async def test_without_the_flag_nothing_is_checked(
    servers: Servers, root: Issued, sender: Sender, connects: list[tuple[str, int]]
) -> None:
    responder = await servers.responder(root)
    leaf = root.issue(HOST, ocsp_urls=[responder.url])
    responder.verdicts[leaf.certificate.serial_number] = "revoked"
    receiver = await servers.receiver(leaf)
    assert (await send(sender, receiver.url, check=False)).succeeded
    assert responder.asked == []
    assert connects == [(LOCAL, receiver.port)]
    assert sender._checking_session is None  # the checking pool is never built


# -- the guard -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "resolved"),
    [("ocsp.internal.test", "10.0.0.7"), ("169.254.169.254", None)],
)
async def test_the_egress_guard_judges_the_responder(
    servers: Servers,
    root: Issued,
    make_sender: Callable[..., Awaitable[Sender]],
    connects: list[tuple[str, int]],
    host: str,
    resolved: str | None,
) -> None:
    overrides = {HOST: LOCAL} | ({host: resolved} if resolved else {})
    sender = await make_sender(resolve=overrides)
    url = f"http://{host}/"
    receiver = await servers.receiver(root.issue(HOST, ocsp_urls=[url]))
    outcome = await send(sender, receiver.url)
    assert outcome.error == (
        f"{UNCHECKED}: its OCSP responder {url} is unreachable (refused by the egress guard)"
    )
    assert connects == [(LOCAL, receiver.port)]
    assert receiver.bodies == []


# -- the issuer ----------------------------------------------------------------------------


async def test_an_intermediate_issuer_is_fetched_from_aia_through_the_guard(
    servers: Servers, ca: trustme.CA, sender: Sender, connects: list[tuple[str, int]]
) -> None:
    # Only the root is trusted; the receiver sends the intermediate in its chain, and
    # Python 3.11 does not hand it out, so the checker fetches it from caIssuers.
    intermediate = Issued.of(ca.create_child_ca())
    responder = await servers.responder(intermediate)
    leaf = intermediate.issue(HOST, ocsp_urls=[responder.url], issuer_urls=[responder.issuer_url])
    responder.verdicts[leaf.certificate.serial_number] = "good"
    receiver = await servers.receiver(leaf, chain=(intermediate,))
    assert (await send(sender, receiver.url)).succeeded
    assert responder.fetched == ["/issuer.der"]
    assert responder.asked == [leaf.certificate.serial_number]
    assert {address for address, _ in connects} == {LOCAL}


async def test_an_issuer_neither_trusted_nor_named_fails_the_attempt(
    servers: Servers, ca: trustme.CA, sender: Sender
) -> None:
    intermediate = Issued.of(ca.create_child_ca())
    responder = await servers.responder(intermediate)
    leaf = intermediate.issue(HOST, ocsp_urls=[responder.url])  # no caIssuers URL
    receiver = await servers.receiver(leaf, chain=(intermediate,))
    outcome = await send(sender, receiver.url)
    assert outcome.error == (
        f"{UNCHECKED}: its issuer's certificate is not among the trusted CAs"
        " and the certificate names no caIssuers URL"
    )
    assert responder.asked == []


async def test_a_certificate_issued_by_another_ca_than_the_one_served_fails(
    servers: Servers, ca: trustme.CA, root: Issued, sender: Sender
) -> None:
    intermediate = Issued.of(ca.create_child_ca())
    responder = await servers.responder(root)  # serves the root as "the issuer"
    leaf = intermediate.issue(HOST, ocsp_urls=[responder.url], issuer_urls=[responder.issuer_url])
    receiver = await servers.receiver(leaf, chain=(intermediate,))
    outcome = await send(sender, receiver.url)
    assert outcome.error == (
        f"{UNCHECKED}: its caIssuers URL {responder.issuer_url}"
        " does not hold its issuer's certificate"
    )
    assert receiver.bodies == []


async def test_plain_http_in_dev_mode_has_no_certificate_to_check(
    make_sender: Callable[..., Awaitable[Sender]],
) -> None:
    async def handle(_: web.Request) -> web.StreamResponse:
        return web.Response(text="thanks")

    app = web.Application()
    app.router.add_post("/in", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    listener = socket.socket()
    listener.bind((LOCAL, 0))
    await web.SockSite(runner, listener).start()
    try:
        sender = await make_sender(dev=True)
        outcome = await send(sender, f"http://{HOST}:{listener.getsockname()[1]}/in")
    finally:
        await runner.cleanup()
    assert outcome.error == f"{UNCHECKED}: the connection has no certificate (not TLS)"
