"""What every part of the benchmark shares: the receiver's host name, the test CA, the
body of a delivery, signing, free ports, and a description of the machine."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

HOST = "hooks.example.test"
SECRET = "bench-secret-0123456789abcdef-0123456789abcdef"  # the webhooks' signing secret
SECRET_KEY = "bench-encryption-key-0123456789abcdef-0123456789"  # HOOKLINE_SECRET_KEY
EVENT_TYPE = "com.qlik.v1.app.created"
REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
# Padding in the event data so that a delivery body is about 1 KB, like the baselines'.
PAD = "x" * 640


@dataclass(frozen=True)
class Tls:
    """The benchmark's CA and the receiver's certificate for HOST, as PEM files."""

    ca: Path
    cert_chain: Path
    key: Path

    @classmethod
    def create(cls, directory: Path) -> Tls:
        import trustme

        ca = trustme.CA()
        issued = ca.issue_cert(HOST)
        paths = cls(directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
        ca.cert_pem.write_to_path(str(paths.ca))
        issued.private_key_pem.write_to_path(str(paths.key))
        with open(paths.cert_chain, "wb") as out:
            for blob in issued.cert_chain_pems:
                out.write(blob.bytes())
        return paths


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def envelope(sent_at: float, event_id: str = "00000000-0000-4000-8000-000000000000") -> bytes:
    """A delivery body shaped as hookline's legacy envelope (about 1 KB)."""
    return json.dumps(
        {
            "cloudEventsVersion": "0.1",
            "source": "hookline",
            "contentType": "application/json",
            "eventId": event_id,
            "eventTime": "2026-11-27T21:52:51.124Z",
            "eventTypeVersion": "1.0.0",
            "eventType": EVENT_TYPE,
            "extensions": {"tenantId": "00000000-0000-4000-8000-000000000001"},
            "data": {"pad": PAD, "sentAt": sent_at},
        },
        separators=(",", ":"),
    ).encode()


def sign(secret: str, event_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers hookline signs a delivery with: Qlik-Signature and Standard Webhooks."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = secret.encode()
    signed = f"{event_id}.{timestamp}.".encode() + body
    standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "Qlik-Signature": hmac.new(key, body, hashlib.sha256).hexdigest(),
        "webhook-id": event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{standard}",
    }


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of ``values`` (need not be sorted); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def lag_summary(lags_ms: list[float]) -> dict[str, float | None]:
    ordered = sorted(lags_ms)
    return {
        "p50_ms": percentile(ordered, 0.50),
        "p99_ms": percentile(ordered, 0.99),
        "max_ms": ordered[-1] if ordered else None,
    }


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """The machine and the software measured, for the result file."""
    import psutil

    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlite3

    return {
        "cpu_model": cpu_model,
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            name: _version(name)
            for name in (
                "hookline",
                "aiohttp",
                "uvloop",
                "uvicorn",
                "fastapi",
                "sqlalchemy",
                "asyncpg",
                "orjson",
                "celery",
                "redis",
                "requests",
                "psutil",
                "matplotlib",
            )
        },
    }
