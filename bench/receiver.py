"""The receiver: HTTPS on 127.0.0.1 for ``hooks.example.test``, in one or more processes
sharing one port (SO_REUSEPORT), each with a plain-HTTP control port of its own.

Every POST is answered ``200 ok`` at once and recorded by the first segment of its path
(its "class": ``ok``, ``spare``, ``hang``…): a count, the first and last receipt times,
the lag (receipt time minus the ``sentAt`` number in the body's ``data``) and, when the
``data`` has one, its ``seq`` number (to tell which events arrived). Paths under
``/hang/`` sleep ``--hang`` seconds before answering (longer than hookline's request
timeout, so the attempt times out). One request in 100 has its ``Qlik-Signature`` checked.

Run by the suite as ``python -m bench.receiver --port P --cert … --key …``; the process
prints ``ready <control port>`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import ssl
import sys
import time
from array import array
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from bench.common import SECRET
from hookline.runtime import calm_collector


@dataclass
class Tally:
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    lags: array = field(default_factory=lambda: array("d"))
    seqs: array = field(default_factory=lambda: array("q"))

    def as_json(self, lags: bool) -> dict[str, object]:
        out: dict[str, object] = {"count": self.count, "first": self.first, "last": self.last}
        if lags:
            out["lags_ms"] = [round(x, 3) for x in self.lags]
            out["seqs"] = list(self.seqs)
        return out


class State:
    def __init__(self, hang_seconds: float) -> None:
        self.hang_seconds = hang_seconds
        self.reset()

    def reset(self) -> None:
        self.tallies: dict[str, Tally] = {}
        self.checked = 0
        self.bad_signatures = 0
        self.requests = 0

    def tally(self, kind: str) -> Tally:
        found = self.tallies.get(kind)
        if found is None:
            found = self.tallies[kind] = Tally()
        return found


def make_app(state: State) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        received = time.time()
        path = request.path
        kind = path.split("/", 2)[1] if path.count("/") >= 2 else "root"
        tally = state.tally(kind)
        tally.count += 1
        if not tally.first:
            tally.first = received
        tally.last = received
        state.requests += 1
        try:
            data = orjson.loads(body)["data"]
            tally.lags.append((received - float(data["sentAt"])) * 1000.0)
            if "seq" in data:
                tally.seqs.append(int(data["seq"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            pass
        if state.requests % 100 == 1:
            signature = request.headers.get("Qlik-Signature")
            if signature is not None:
                state.checked += 1
                expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, signature):
                    state.bad_signatures += 1
        if kind == "hang":
            await asyncio.sleep(state.hang_seconds)
        return web.Response(text="ok")

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def make_control(state: State) -> web.Application:
    async def stats(request: web.Request) -> web.Response:
        lags = request.query.get("lags") == "1"
        return web.json_response(
            {
                "pid": os.getpid(),
                "checked": state.checked,
                "bad_signatures": state.bad_signatures,
                "classes": {k: t.as_json(lags) for k, t in state.tallies.items()},
            },
            dumps=lambda obj: orjson.dumps(obj).decode(),
        )

    async def reset(request: web.Request) -> web.Response:
        state.reset()
        return web.Response(text="reset")

    app = web.Application()
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    return app


async def serve(args: argparse.Namespace) -> None:
    state = State(args.hang)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)
    runner = web.AppRunner(make_app(state), access_log=None, keepalive_timeout=300)
    await runner.setup()
    await web.TCPSite(
        runner, "127.0.0.1", args.port, ssl_context=tls, reuse_port=True, backlog=1024
    ).start()
    control = web.AppRunner(make_control(state), access_log=None)
    await control.setup()
    site = web.TCPSite(control, "127.0.0.1", 0)
    await site.start()
    control_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"ready {control_port}", flush=True)
    await asyncio.Event().wait()  # until SIGTERM ends the process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--hang", type=float, default=30.0)
    args = parser.parse_args()
    calm_collector()  # the harness's own GC pauses would count as hookline's lag
    try:
        import uvloop

        uvloop.run(serve(args))
    except ImportError:  # pragma: no cover
        asyncio.run(serve(args))
    sys.exit(0)


if __name__ == "__main__":
    main()
