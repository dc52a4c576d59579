"""Scenario 9's clients, the noisy neighbour: the victim tenant's steady traffic (in the
benchmark's process) and the attacker's four abuses (a process of its own, so that its
client work does not slow the victim's client down), every answer counted by status.

The attacker runs as ``python -m bench.noisy``: it reads one JSON line of settings on
stdin (the API's URL, its keys, the hanging webhook's id, the sizes), prepares its
bodies, prints ``ready``, starts on a ``go`` line, stops on a ``stop`` line (requests in
flight are abandoned) and prints its tallies as one JSON line.

The abuses, all at once, each in a loop:

- ``filter_bomb``: events of a type only the filter-bomb webhook subscribes to, whose
  ``data.a`` is a list of numbers none of the filter's ~270 ``or`` clauses matches, so
  every clause scans the whole list;
- ``flood``: 1,000 events of ~7 KB to the type its 100 webhooks subscribe to: 100,000
  deliveries a publish;
- ``list_bomb``: ``GET /api/v1/webhooks?eventTypes=`` with 990 values, several in
  parallel; the value is the type every one of its webhooks subscribes to, repeated, so
  that no condition is false early;
- ``resend_storm``: one delivery to the webhook whose receiver hangs, then that many
  parallel resends of it, again and again (the webhook re-enabled before each round,
  should hookline have disabled it).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from bench.common import EVENT_TYPE, PAD, lag_summary, percentile

FLOOD_TYPE = EVENT_TYPE  # the flood's 100 webhooks (the attacker's first tenant)
BOMB_TYPE = "com.qlik.v1.app.data.updated"  # the filter-bomb webhook (second tenant)
HANG_TYPE = "com.qlik.v1.app.reload.finished"  # the hanging webhook (second tenant)
FILTER_MAX = 4096  # hookline's longest filter (docs/api.md)
REFUSED = (400, 413, 429)  # the answers an abuse may expect
ABUSES = ("filter_bomb", "flood", "list_bomb", "resend_storm")


def filter_bomb(max_length: int = FILTER_MAX) -> str:
    """``data.a eq 1 or data.a eq 2 or …`` (values 1–9, over and over): as many clauses as
    fit in ``max_length`` characters (273)."""
    clauses: list[str] = []
    while True:
        following = f"data.a eq {len(clauses) % 9 + 1}"
        if len(" or ".join([*clauses, following])) > max_length:
            return " or ".join(clauses)
        clauses.append(following)


@dataclass
class Tally:
    """Answers by status, failures (no answer) by exception, requests abandoned unanswered
    when the attack stopped, and each answered or failed request's duration."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    abandoned: int = 0
    durations: list[float] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        ms = [d * 1000 for d in self.durations]
        return {
            "requests": sum(self.statuses.values()) + sum(self.failures.values()) + self.abandoned,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "failures": dict(self.failures),
            "abandoned": self.abandoned,
            "refused": sum(self.statuses[s] for s in REFUSED),
            "five_xx": sum(v for k, v in self.statuses.items() if k >= 500),
            "p50_ms": percentile(ms, 0.50),
            "p99_ms": percentile(ms, 0.99),
            "max_ms": max(ms) if ms else None,
        }


async def call(
    session: aiohttp.ClientSession, tally: Tally, method: str, url: str, **kwargs: Any
) -> tuple[int | None, bytes]:
    """One request, counted in ``tally``: (status, body), or (None, b"") with no answer."""
    started = time.perf_counter()
    try:
        async with session.request(method, url, **kwargs) as response:
            body = await response.read()
            status = response.status
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        tally.durations.append(time.perf_counter() - started)
        tally.failures[type(error).__name__] += 1
        return None, b""
    except asyncio.CancelledError:
        tally.abandoned += 1
        raise
    tally.durations.append(time.perf_counter() - started)
    tally.statuses[status] += 1
    return status, body


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}


# The victim ------------------------------------------------------------------------------


class Victim:
    """A tenant publishing ``publishes`` events a second (one a request, to its one
    webhook) and listing its webhooks ``lists`` times a second, every request on schedule
    whether or not the earlier ones were answered. Each event's ``data`` carries its send
    time (``sentAt``) and a number (``seq``), so the receiver can tell which arrived."""

    def __init__(
        self, url: str, admin_key: str, publisher_key: str, publishes: float, lists: float
    ) -> None:
        self.url = url
        self.admin_key = admin_key
        self.publisher_key = publisher_key
        self.publishes = publishes
        self.lists = lists
        self.seq = 0
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Victim:
        # Its own connections, as many as it needs (a request never waits for one here);
        # a request unanswered in 30 s is an error.
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()

    async def offer(self, seconds: float) -> Traffic:
        """Send ``seconds`` worth of requests on schedule; returns once the last is sent
        (``Traffic.finish`` waits for the answers)."""
        traffic = Traffic()
        schedule = sorted(
            [(n / self.publishes, "publish") for n in range(round(seconds * self.publishes))]
            + [(n / self.lists, "list") for n in range(round(seconds * self.lists))]
        )
        start = time.monotonic() + 0.05
        for at, kind in schedule:
            delay = start + at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            work = self._publish(traffic) if kind == "publish" else self._list(traffic)
            traffic.tasks.append(asyncio.create_task(work))
        return traffic

    async def _publish(self, traffic: Traffic) -> None:
        assert self.session is not None
        self.seq += 1
        seq = self.seq
        body = [{"type": EVENT_TYPE, "data": {"pad": PAD, "sentAt": time.time(), "seq": seq}}]
        status, _ = await call(
            self.session,
            traffic.publish,
            "POST",
            f"{self.url}/api/v1/events",
            data=orjson.dumps(body),
            headers=_headers(self.publisher_key),
        )
        traffic.published.append(seq)
        if status == 202:
            traffic.accepted.append(seq)

    async def _list(self, traffic: Traffic) -> None:
        assert self.session is not None
        await call(
            self.session,
            traffic.listing,
            "GET",
            f"{self.url}/api/v1/webhooks",
            headers=_headers(self.admin_key),
        )


@dataclass
class Traffic:
    publish: Tally = field(default_factory=Tally)
    listing: Tally = field(default_factory=Tally)
    published: list[int] = field(default_factory=list)
    accepted: list[int] = field(default_factory=list)  # seq numbers answered 202
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def finish(self) -> None:
        await asyncio.gather(*self.tasks)

    def summary(self, receipts: dict[str, Any]) -> dict[str, Any]:
        """The victim's figures, given the receiver's tally of its webhook's path."""
        errors: Counter[str] = Counter()
        for kind, tally, ok in (("publish", self.publish, 202), ("list", self.listing, 200)):
            for status, count in tally.statuses.items():
                if status != ok:
                    errors[f"{kind} {status}"] += count
            for name, count in tally.failures.items():
                errors[f"{kind} {name}"] += count
        seqs = receipts.get("seqs", [])
        lost = sorted(set(self.accepted) - set(seqs))
        return {
            "publish": self.publish.as_json(),
            "list": self.listing.as_json(),
            "published": len(self.published),
            "accepted": len(self.accepted),
            "received": receipts.get("count", 0),
            "duplicates": len(seqs) - len(set(seqs)),
            "lost": len(lost),
            "lost_seqs": lost[:20],
            "lag": lag_summary(receipts.get("lags_ms", [])),
            "errors": sum(errors.values()),
            "error_kinds": dict(errors),
            "five_xx": self.publish.as_json()["five_xx"] + self.listing.as_json()["five_xx"],
        }


# The attacker (its own process) ----------------------------------------------------------


class Attacker:
    """The attacker's process, seen from the benchmark."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, cwd: str) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.noisy",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=cwd,
        )
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(self.settings).encode() + b"\n")
        await self.proc.stdin.drain()
        line = await self.proc.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"the attacker did not start: {line!r}")

    async def go(self) -> None:
        await self._say(b"go\n")

    async def stop(self) -> dict[str, Any]:
        """Stop every abuse; the attacker's tallies."""
        assert self.proc is not None
        assert self.proc.stdout is not None
        await self._say(b"stop\n")
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        await self.proc.wait()
        return dict(json.loads(line))

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def _say(self, line: bytes) -> None:
        assert self.proc is not None
        assert self.proc.stdin is not None
        self.proc.stdin.write(line)
        await self.proc.stdin.drain()


async def attack() -> None:
    lines = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(lines), sys.stdin)
    settings = json.loads(await lines.readline())
    url = settings["url"]
    tallies = {name: Tally() for name in ABUSES}
    done: Counter[str] = Counter()  # publishes accepted, rounds finished
    numbers = list(range(100_000, 100_000 + settings["bomb_numbers"]))  # never 1–9
    bomb = orjson.dumps([{"type": BOMB_TYPE, "data": {"a": numbers}}])
    pad = "x" * settings["flood_event_bytes"]
    flood = orjson.dumps([{"type": FLOOD_TYPE, "data": {"pad": pad}}] * settings["flood_events"])
    list_url = f"{url}/api/v1/webhooks?limit=100&eventTypes=" + ",".join(
        [FLOOD_TYPE] * settings["list_event_types"]
    )
    hang = settings["hang_webhook"]
    # Any number of connections; a publish of the bomb may take minutes.
    connector = aiohttp.TCPConnector(limit=0)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=600))

    async def filter_bomb() -> None:
        headers = _headers(settings["publisher2"])
        while True:
            status, _ = await call(
                session, tallies["filter_bomb"], "POST", f"{url}/api/v1/events",
                data=bomb, headers=headers,
            )  # fmt: skip
            done["filter_bomb_publishes"] += status == 202

    async def flood_loop() -> None:
        headers = _headers(settings["publisher"])
        while True:
            status, _ = await call(
                session, tallies["flood"], "POST", f"{url}/api/v1/events",
                data=flood, headers=headers,
            )  # fmt: skip
            done["flood_publishes"] += status == 202

    async def list_bomb() -> None:
        headers = _headers(settings["admin"])
        while True:
            status, _ = await call(session, tallies["list_bomb"], "GET", list_url, headers=headers)
            if status == 429:  # refused: ignore Retry-After, but do not spin
                await asyncio.sleep(0.05)

    async def resend_storm() -> None:
        tally = tallies["resend_storm"]
        headers = _headers(settings["admin2"])
        publisher = _headers(settings["publisher2"])
        one = orjson.dumps([{"type": HANG_TYPE, "data": {"pad": PAD}}])
        await call(session, tally, "POST", f"{url}/api/v1/events", data=one, headers=publisher)
        deliveries = f"{url}/api/v1/webhooks/{hang}/deliveries"
        delivery = None
        while delivery is None:
            status, body = await call(session, tally, "GET", deliveries, headers=headers)
            found = orjson.loads(body).get("data") if status == 200 else None
            if found:
                delivery = found[0]["id"]
            else:
                await asyncio.sleep(0.2)
        resend = f"{deliveries}/{delivery}/actions/resend"
        enable = orjson.dumps([{"op": "replace", "path": "/enabled", "value": True}])
        while True:
            await call(
                session, tally, "PATCH", f"{url}/api/v1/webhooks/{hang}",
                data=enable, headers=headers,
            )  # fmt: skip
            await asyncio.gather(
                *(
                    call(session, tally, "POST", resend, headers=headers)
                    for _ in range(settings["resends"])
                )
            )
            done["resend_rounds"] += 1

    print("ready", flush=True)
    while (await lines.readline()).strip() != b"go":
        pass
    started = time.time()
    cpu = time.process_time()
    works = [filter_bomb(), flood_loop(), resend_storm()]
    works += [list_bomb() for _ in range(settings["list_parallel"])]
    tasks = [asyncio.create_task(work) for work in works]
    while (await lines.readline()).strip() not in (b"stop", b""):
        pass
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    seconds = time.time() - started
    await session.close()
    out = {
        "seconds": round(seconds, 2),
        "abuses": {name: tally.as_json() for name, tally in tallies.items()},
        "done": dict(done),
        "bomb_body_bytes": len(bomb),
        "flood_body_bytes": len(flood),
        "list_url_chars": len(list_url) - len(url),
        "cpu_seconds": round(time.process_time() - cpu, 2),
    }
    print(json.dumps(out), flush=True)


def main() -> None:
    try:
        import uvloop

        uvloop.run(attack())
    except ImportError:  # pragma: no cover
        asyncio.run(attack())


if __name__ == "__main__":
    main()
