"""Secrets at rest: a real ``hookline serve`` process stores, delivers and resends with a
webhook's secret and encrypted headers; afterwards neither is found in clear in the
database (the SQLite file and its WAL, or every row of every PostgreSQL table as text), in
the process's log output, or in any API response, delivery history included."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from tests.databases import TEST_SECRET_KEY
from tests.delivery.receivers import FAST, HOST, Receiver
from tests.processes import cli

APP_CREATED = "com.qlik.v1.app.created"
WEBHOOKS = "/api/v1/webhooks"


class Serve:
    """``hookline serve`` as a subprocess, its log lines (stderr) kept in a file."""

    def __init__(self, environment: dict[str, str], log: Path) -> None:
        self.log = log
        self._log_file = log.open("w")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "hookline", "serve"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=self._log_file,
            text=True,
        )
        assert self.popen.stdout is not None
        self.url = next(line.split()[-1] for line in self.popen.stdout if "serving" in line)

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            self.popen.wait(30)
        self._log_file.close()


def _environment(database_url: str, ca_file: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    environment.update({f"HOOKLINE_{name.upper()}": str(value) for name, value in FAST.items()})
    environment.update(
        HOOKLINE_DATABASE_URL=database_url,
        HOOKLINE_SECRET_KEY=TEST_SECRET_KEY,
        HOOKLINE_CA_BUNDLE=str(ca_file),
        HOOKLINE_PORT="0",
    )
    return environment


def _admin_key(environment: dict[str, str]) -> str:
    cli(environment, "tenant", "create", "secretive")
    return cli(environment, "key", "create", "--tenant", "secretive", "--role", "tenant-admin")


class Recorder:
    """An API client that keeps every response body it receives."""

    def __init__(self, url: str, key: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        self.bodies: list[str] = []

    def call(self, method: str, path: str, status: int, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        assert response.status_code == status, response.text
        self.bodies.append(str(response.headers) + response.text)
        return response.json() if response.content else None

    def settled(self, webhook_id: str, count: int) -> list[dict[str, Any]]:
        """The webhook's deliveries once ``count`` of them have an outcome."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            deliveries: list[dict[str, Any]] = self.call(
                "GET", f"{WEBHOOKS}/{webhook_id}/deliveries", 200
            )["data"]
            if sum(d["status"] != "pending" for d in deliveries) >= count:
                return deliveries
            time.sleep(0.1)
        raise AssertionError(f"{count} deliveries never settled")


def _plain_forms(values: list[str]) -> list[bytes]:
    """Each value as UTF-8, and its base64 (the Standard Webhooks key is base64(secret))."""
    forms = [value.encode() for value in values]
    return forms + [base64.b64encode(form) for form in forms]


def _rows_as_text(database_url: str) -> bytes:
    async def dump() -> bytes:
        connection = await asyncpg.connect(database_url)
        try:
            tables = await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
            texts = []
            for table in tables:
                rows = await connection.fetch(f'SELECT t::text FROM "{table[0]}" t')  # noqa: S608
                texts += [row[0] for row in rows]
            return "\n".join(texts).encode()
        finally:
            await connection.close()

    return asyncio.run(dump())


def _database_bytes(database_url: str) -> bytes:
    if database_url.startswith("postgres"):
        return _rows_as_text(database_url)
    path = Path(database_url.removeprefix("sqlite:///"))
    files = [path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm", "-journal"))]
    return b"".join(file.read_bytes() for file in files if file.exists())


def test_secrets_and_encrypted_headers_are_never_in_clear(
    database_url: str, tmp_path: Path, receiver: Receiver, ca_file: Path
) -> None:
    environment = _environment(database_url, ca_file)
    key = _admin_key(environment)
    serve = Serve(environment, tmp_path / "serve.log")
    try:
        hidden, webhook_id = _exercise(Recorder(serve.url, key), receiver, database_url)
    finally:
        serve.stop()

    forms = _plain_forms(hidden)
    stored = _database_bytes(database_url)
    assert b"X-Plain" in stored  # the scan does see the webhook's row: plain headers are there
    assert [form for form in forms if form in stored] == []
    log = serve.log.read_bytes()
    assert webhook_id.encode() in log  # the log does speak of this webhook's deliveries
    assert [form for form in forms if form in log] == []


def _exercise(api: Recorder, receiver: Receiver, database_url: str) -> tuple[list[str], str]:
    """Create, deliver, resend, rotate; check every response; return the hidden values."""
    secret, rotated = secrets.token_hex(20), secrets.token_hex(20)
    header, rotated_header = f"enc-{uuid.uuid4().hex}", f"enc-{uuid.uuid4().hex}"
    path = f"/secrets-{uuid.uuid4().hex}"
    webhook = api.call(
        "POST",
        WEBHOOKS,
        201,
        json={
            "name": "secretive",
            "url": f"https://{HOST}:{receiver.port}{path}",
            "eventTypes": [APP_CREATED],
            "secret": secret,
            "headers": {"X-Plain": "visible"},
            "encryptedHeaders": {"X-Api-Key": header},
        },
    )
    api.call("POST", "/api/v1/events", 202, json={"type": APP_CREATED, "data": {"id": "a1"}})
    first = receiver.wait_for(path, 1)[0]
    assert first.headers["X-Api-Key"] == header  # really used, decrypted, on the wire
    delivered = api.settled(webhook["id"], 1)[0]
    api.call("GET", f"{WEBHOOKS}/{webhook['id']}/deliveries/{delivered['id']}", 200)
    api.call("POST", f"{WEBHOOKS}/{webhook['id']}/deliveries/{delivered['id']}/actions/resend", 201)
    api.call(
        "PATCH",
        f"{WEBHOOKS}/{webhook['id']}",
        204,
        json=[
            {"op": "replace", "path": "/secret", "value": rotated},
            {"op": "replace", "path": "/encryptedHeaders", "value": {"X-Api-Key": rotated_header}},
        ],
    )
    api.call("POST", "/api/v1/events", 202, json={"type": APP_CREATED, "data": {"id": "a2"}})
    assert receiver.wait_for(path, 3)[-1].headers["X-Api-Key"] == rotated_header
    given, generated = _rotate_twice(api, webhook["id"])
    api.call("POST", "/api/v1/events", 202, json={"type": APP_CREATED, "data": {"id": "a3"}})
    assert len(receiver.wait_for(path, 4)[-1].headers["webhook-signature"].split()) == 2
    history = api.settled(webhook["id"], 4)
    assert [d["status"] for d in history] == ["success"] * 4
    assert all(d["request"]["headers"]["X-Api-Key"] == "**OMITTED**" for d in history)
    api.call("GET", f"{WEBHOOKS}/{webhook['id']}", 200)
    api.call("GET", WEBHOOKS, 200)
    hidden = [secret, rotated, header, rotated_header, given, generated]
    forms = [form.decode() for form in _plain_forms(hidden)]
    assert [body for body in api.bodies if any(form in body for form in forms)] == []
    return hidden, webhook["id"]


def _rotate_twice(api: Recorder, webhook_id: str) -> tuple[str, str]:
    """Rotate to a given secret, then to a generated one (the previous signing too); answer
    both. The generated one is in its rotation's answer, and that answer only."""
    rotate = f"{WEBHOOKS}/{webhook_id}/actions/rotate-secret"
    given = secrets.token_hex(20)
    api.call("POST", rotate, 200, json={"secret": given, "graceSeconds": 3600})
    generated: str = api.call("POST", rotate, 200, json={})["secret"]
    assert generated in api.bodies.pop()
    return given, generated
