"""The raw ceiling: one aiohttp client (uvloop, keep-alive), N requests in flight, POSTing
the same signed ~1 KB body to the receiver, nothing stored. Prints one JSON line.

    python -m bench.raw --url https://hooks.example.test:PORT/ok/raw --ca ca.pem --count 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import ssl
import sys
import time
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from bench.common import SECRET, envelope, sign


class LoopbackResolver(AbstractResolver):
    """Every name is 127.0.0.1 (as hookline's HOOKLINE_RESOLVE does for the receiver)."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        pass


async def run(url: str, ca: str, count: int, concurrency: int) -> dict[str, Any]:
    tls = ssl.create_default_context(cafile=ca)
    body = envelope(time.time())
    headers = sign(SECRET, "00000000-0000-4000-8000-000000000000", body)
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=tls, resolver=LoopbackResolver())
    errors = 0
    statuses: dict[int, int] = {}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post() -> None:
            nonlocal errors
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
            except (aiohttp.ClientError, OSError, TimeoutError):
                errors += 1

        # Warm up: open the connections (TLS handshakes) before timing.
        await asyncio.gather(*(post() for _ in range(concurrency)))
        errors, statuses = 0, {}
        remaining = count

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                await post()

        print("go", flush=True)
        cpu = time.process_time()
        started = time.time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        ended = time.time()
        cpu = time.process_time() - cpu
    return {
        "count": count,
        "concurrency": concurrency,
        "body_bytes": len(body),
        "started": started,
        "ended": ended,
        "seconds": ended - started,
        "per_second": count / (ended - started),
        "errors": errors,
        "client_cpu_pct": round(100 * cpu / (ended - started), 1),
        "client_cpu_seconds": round(cpu, 4),
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--ca", required=True)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    import uvloop

    result = uvloop.run(run(args.url, args.ca, args.count, args.concurrency))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
