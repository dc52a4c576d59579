"""``hookline listen``: a local receiver for developers. It verifies each delivery's
``Qlik-Signature`` and Standard Webhooks signature with the given secret and prints it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from rich.console import Console
from rich.json import JSON
from rich.panel import Panel
from rich.text import Text

from hookline import signing
from hookline.server import bind


@dataclass
class Tally:
    received: int = 0
    verified: int = 0
    refused: int = 0

    def line(self) -> str:
        return f"{self.received} received, {self.verified} verified, {self.refused} refused"


@dataclass(frozen=True)
class Verdict:
    qlik: bool | None  # None: not checked (no secret, or no header)
    standard: bool | None

    @property
    def refused(self) -> bool:
        return self.qlik is False or self.standard is False


def verify(secret: str | None, headers: dict[str, str], body: bytes) -> Verdict:
    """Check both signatures of a delivery, where there is a secret and a header."""
    if not secret:
        return Verdict(None, None)
    lowered = {name.lower(): value for name, value in headers.items()}
    qlik = lowered.get("qlik-signature")
    standard = "webhook-signature" in lowered
    return Verdict(
        signing.verify_qlik_signature(secret, body, qlik) if qlik is not None else None,
        signing.verify_standard_webhook(secret, lowered, body, now=int(time.time()))
        if standard
        else None,
    )


def _mark(check: bool | None) -> tuple[str, str]:
    return {None: ("not checked", "dim"), True: ("ok", "green"), False: ("INVALID", "bold red")}[
        check
    ]


@dataclass(frozen=True)
class Options:
    secret: str | None  # None: signatures are not checked
    status: int = 200  # the answer to a delivery that verifies
    quiet: bool = False  # no panel per delivery: progress lines only
    progress_seconds: float = 10.0


class Listener:
    def __init__(self, console: Console, options: Options) -> None:
        self._console = console
        self._options = options
        self.tally = Tally()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        verdict = verify(self._options.secret, dict(request.headers), body)
        self.tally.received += 1
        if verdict.refused:
            self.tally.refused += 1
        elif verdict.qlik or verdict.standard:
            self.tally.verified += 1
        if not self._options.quiet:
            self._print(request, body, verdict)
        return web.Response(status=401 if verdict.refused else self._options.status)

    async def report_progress(self, stopping: asyncio.Event) -> None:
        """Every ``progress_seconds`` in which deliveries came, one line: the totals, the
        rate, and how long it has been listening."""
        started, seen = time.monotonic(), 0
        every = self._options.progress_seconds
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every)
            if self.tally.received > seen and not stopping.is_set():
                rate = (self.tally.received - seen) / every
                seen = self.tally.received
                running = timedelta(seconds=round(time.monotonic() - started))
                self._console.print(
                    f"progress after {running}: {self.tally.line()} · {rate:.1f}/s", style="bold"
                )

    def _print(self, request: web.Request, body: bytes, verdict: Verdict) -> None:
        """The delivery: its type and id, then the verdict (on one line each where they fit,
        else a line per part: never cut), then its body in a panel as wide as the terminal,
        its long lines folded."""
        try:
            envelope = json.loads(body)
            shown = JSON.from_data(envelope).text
            kind = envelope.get("eventType") or envelope.get("type", "?")
            event_id = envelope.get("eventId") or envelope.get("id", "?")
        except (ValueError, AttributeError):
            shown, kind, event_id = Text(body.decode(errors="replace")), "?", "?"
        shown.no_wrap, shown.overflow = False, "fold"
        self._line(Text(str(kind), style="bold"), Text(f"id {event_id}"))
        self._line(
            Text.assemble("Qlik-Signature ", _mark(verdict.qlik)),
            Text.assemble("webhook-signature ", _mark(verdict.standard)),
        )
        self._console.print(Panel(shown))
        self._console.print(
            Text(f"{request.method} {request.path_qs} · {self.tally.line()}", style="dim")
        )

    def _line(self, *parts: Text) -> None:
        """``parts`` on one line if it fits the terminal, else each on a line of its own."""
        joined = Text("  ").join(parts)
        for line in [joined] if joined.cell_len <= self._console.width else parts:
            self._console.print(line, overflow="fold")


async def listen(
    host: str,
    port: int,
    options: Options,
    console: Console,
    on_started: Callable[[str], None],
    stopping: asyncio.Event,
    tls: ssl.SSLContext | None = None,
) -> Tally:
    """Receive until ``stopping`` is set; over HTTPS with ``tls``, the server's context."""
    listener = Listener(console, options)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", listener.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, bind(host, port), ssl_context=tls)
    await site.start()
    bound = runner.addresses[0]
    # hookline refuses IP-literal webhook URLs, even in dev mode; localhost it takes.
    shown = "localhost" if host in ("127.0.0.1", "localhost") else host
    on_started(f"{'https' if tls else 'http'}://{shown}:{bound[1]}")
    try:
        await listener.report_progress(stopping)
    finally:
        await runner.cleanup()
    return listener.tally
