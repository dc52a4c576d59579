"""What a new user meets in the first hour (issue 14, items 1-7), run as they would run it:
the ``hookline`` command and the Makefile, as subprocesses."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from hookline import accounts
from hookline.auth import Role
from hookline.services import Services
from hookline.settings import load_settings
from hookline.webhooks import NewWebhook
from tests.cli.test_cli import HOOKLINE, Serving, hookline
from tests.databases import POSTGRES_ADMIN_URL, TEST_SECRET_KEY, postgres_missing

APP_CREATED = "com.qlik.v1.app.created"
SECRET = "0123456789abcdef0123456789abcdef"

# -- 7. wording and exit codes -------------------------------------------------------------


def test_a_postgresql_database_that_does_not_exist_is_one_clean_line() -> None:
    if reason := postgres_missing():
        pytest.skip(reason)
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    name = f"hookline_nowhere_{uuid.uuid4().hex[:8]}"

    result = hookline(
        "migrate", "--database", f"{base}/{name}", env={"HOOKLINE_SECRET_KEY": TEST_SECRET_KEY}
    )

    assert result.returncode == 1
    assert result.stderr == (
        f'hookline: the database is unavailable: database "{name}" does not exist\n'
    )


def test_a_database_server_that_refuses_is_one_clean_line() -> None:
    result = hookline(
        "tenant",
        "list",
        "--database",
        "postgresql://postgres@127.0.0.1:1/hookline",
        env={"HOOKLINE_SECRET_KEY": TEST_SECRET_KEY},
    )

    assert result.returncode == 1
    assert result.stderr.startswith("hookline: the database is unavailable: ")
    assert result.stderr.count("\n") == 1
    assert "sqlalche.me" not in result.stderr
    assert "sqlalchemy" not in result.stderr


# -- 6. a database moved without its key file ----------------------------------------------


def _webhook_with_a_secret(database_url: str) -> None:
    """A tenant "acme" and a webhook with a secret, sealed with the database's key file."""

    async def make() -> None:
        services = Services.build(load_settings(database_url=database_url))
        try:
            await services.store.migrate()
            tenant = await accounts.create_tenant(services.store, "acme")
            issued = await accounts.issue_key(services.store, Role.TENANT_ADMIN, tenant)
            caller = await accounts.authenticate(services.store, issued.key)
            webhook = NewWebhook(
                name="w", url="https://hooks.example.com/", event_types=[APP_CREATED], secret=SECRET
            )
            await services.registry.create(caller, webhook)
        finally:
            await services.store.close()

    asyncio.run(make())


def test_a_database_moved_without_its_key_file_refuses_to_start(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    _webhook_with_a_secret(f"sqlite:///{before / 'hookline.db'}")
    (before / "hookline.db").rename(after / "hookline.db")
    moved = f"sqlite:///{after / 'hookline.db'}"

    for command in (["serve", "--port", "0"], ["tenant", "list"]):
        result = hookline(*command, "--database", moved)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"hookline: {after / 'hookline.db'} holds encrypted webhook secrets but its key "
            f"file {after / 'hookline.db.key'} is missing: put the key file back beside the "
            "database (or give its key in HOOKLINE_SECRET_KEY); a new key could not decrypt "
            "them\n"
        )
        assert not (after / "hookline.db.key").exists()  # no new key, to be found next time

    shutil.copy(before / "hookline.db.key", after / "hookline.db.key")
    listed = hookline("tenant", "list", "--database", moved)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.endswith("\tacme\n")


def test_a_database_without_secrets_moved_alone_gets_a_new_key(tmp_path: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    after.mkdir()
    assert (
        hookline("tenant", "create", "acme", "--database", f"sqlite:///{before}.db").returncode == 0
    )
    Path(f"{before}.db").rename(after / "hookline.db")

    listed = hookline("tenant", "list", "--database", f"sqlite:///{after / 'hookline.db'}")

    assert listed.returncode == 0, listed.stderr
    assert (after / "hookline.db.key").exists()


# -- 5. log lines for the reader ------------------------------------------------------------


def _first_log_line(tmp_path: Path, env: dict[str, str], *, terminal: bool = True) -> str:
    """The first log line of a ``serve`` whose standard error is a terminal (a pty), or
    else a pipe: that of a delivery attempt that cannot connect."""
    tmp_path.mkdir()
    controller, stderr = pty.openpty() if terminal else os.pipe()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    environment.update({"HOOKLINE_POLL_INTERVAL": "0.05", "HOOKLINE_RETRY_SCHEDULE": "0", **env})
    process = subprocess.Popen(
        [*HOOKLINE, "serve", "--port", "0", "--dev"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    os.close(stderr)
    try:
        serving = Serving(process)
        url = serving.read_until("serving").split()[-1]
        key = serving.read_until("hlk_").strip()
        headers = {"Authorization": f"Bearer {key}"}
        with socket.create_server(("127.0.0.1", 0)) as closed:
            refused = closed.getsockname()[1]  # nothing listens once it is closed
        hook = {"name": "w", "url": f"http://localhost:{refused}/", "eventTypes": [APP_CREATED]}
        assert httpx.post(f"{url}/api/v1/webhooks", json=hook, headers=headers).is_success
        event = {"type": APP_CREATED, "data": {}}
        assert httpx.post(f"{url}/api/v1/events", json=event, headers=headers).is_success
        seen = b""
        deadline = time.monotonic() + 20
        while b"\n" not in seen and time.monotonic() < deadline:
            if select.select([controller], [], [], 0.5)[0]:
                seen += os.read(controller, 4096)
        return seen.decode().splitlines()[0]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        os.close(controller)


def test_logs_are_for_people_at_a_terminal_unless_told_otherwise(tmp_path: Path) -> None:
    for_people = _first_log_line(tmp_path / "auto", {})
    plain = re.sub(r"\x1b\[[0-9;]*m", "", for_people)  # in colour, too
    assert plain != for_people
    assert re.search(r"Z \[(info|warning)\s*\] ", plain), plain

    told = _first_log_line(tmp_path / "json", {"HOOKLINE_LOG_FORMAT": "json"})
    assert json.loads(told)["level"] in ("info", "warning")

    piped = _first_log_line(tmp_path / "piped", {}, terminal=False)
    assert json.loads(piped)["level"] in ("info", "warning")


REPOSITORY = Path(__file__).resolve().parents[2]


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("make") is None:
        pytest.skip("no make here")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPOSITORY), *args],
        capture_output=True,
        text=True,
        env={**environment, **(env or {})},
        timeout=60,
        check=True,
    )


def test_make_serve_installs_what_serving_needs_and_make_test_adds_its_tools() -> None:
    venv = "VENV=.venv-never-made"  # -n only prints the commands

    serving = make("-n", "serve", venv).stdout.splitlines()
    testing = make("-n", "test", venv).stdout.splitlines()

    installs = [line for line in serving if "pip install" in line and "-c constraints.txt" in line]
    assert [line.split("pip ")[1] for line in installs] == [
        "install --quiet -c constraints.txt -e ."
    ]
    assert serving[-1] == ".venv-never-made/bin/hookline serve"
    assert "install --quiet -c constraints.txt -e '.[dev]'" in "\n".join(testing)
    for tool in ("pytest", "ruff", "mypy", "hypothesis", "schemathesis", "playwright"):
        assert tool not in "\n".join(serving)


# -- 3, 4. listen: HTTPS, and a panel that fits ----------------------------------------------


def _signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    """Both signatures of ``body``, computed here as docs/receiving.md says."""
    key = secret.encode()
    message_id, timestamp = str(uuid.uuid4()), str(int(time.time()))
    standard = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return {
        "Content-Type": "application/json",
        "Qlik-Signature": hmac.new(key, body, hashlib.sha256).hexdigest(),
        "webhook-id": message_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": "v1," + base64.b64encode(standard.digest()).decode(),
    }


class Listening:
    """A ``hookline listen`` process in a terminal ``columns`` wide (as rich learns it)."""

    def __init__(self, *options: str, columns: int = 200) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
        self.process = subprocess.Popen(
            [*HOOKLINE, "listen", "--port", "0", "--secret", SECRET, *options],
            stdout=subprocess.PIPE,
            env={**environment, "COLUMNS": str(columns)},
            text=True,
        )
        self.lines: list[str] = []
        self.url = self.read_until("listening on ").split()[2]

    def read_until(self, wanted: str) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if wanted in line:
                return line
        raise AssertionError(f"listen ended before printing {wanted!r}: {self.lines}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(10)


@pytest.fixture
def listening() -> Iterator[Callable[..., Listening]]:
    started: list[Listening] = []

    def start(*options: str, columns: int = 200) -> Listening:
        started.append(Listening(*options, columns=columns))
        return started[-1]

    yield start
    for running in started:
        running.stop()


# An event with a long type and id, as hookline delivers it (the legacy envelope).
DELIVERY = json.dumps(
    {
        "eventType": "com.qlik.v1.automation.run.ended",
        "eventId": "ac5b5f0d-25f0-45c2-9cc8-22a02dffdc74",
        "eventTime": "2026-11-27T22:58:18.367Z",
        "data": {"id": "automation-1", "note": "a long value that no narrow terminal holds " * 3},
    }
).encode()


@pytest.mark.parametrize("columns", [40, 80, 200])
def test_the_listen_panel_fits_the_terminal_and_always_shows_the_verdict(
    listening: Callable[..., Listening], columns: int
) -> None:
    listener = listening(columns=columns)

    answer = httpx.post(f"{listener.url}/in", content=DELIVERY, headers=_signed(DELIVERY))
    listener.read_until("1 received")

    assert answer.status_code == 200
    printed = listener.lines[1:]
    assert all(len(line) <= columns for line in printed), printed
    verdict = ["Qlik-Signature ok", "webhook-signature ok"]
    if columns >= len("  ".join(verdict)):
        assert "  ".join(verdict) in printed
    else:
        assert set(verdict) <= set(printed)  # a line each, never cut
    assert "id ac5b5f0d-25f0-45c2-9cc8-22a02dffdc74" in " ".join(printed)
    border = next(line for line in printed if line.startswith("╭"))
    assert len(border) == columns  # the panel as wide as the terminal
    body = "".join("".join(line.strip("│").split()) for line in printed)
    assert "".join(("a long value that no narrow terminal holds " * 3).split()) in body


def test_the_verdict_of_a_forged_delivery_is_shown_on_a_narrow_terminal(
    listening: Callable[..., Listening],
) -> None:
    listener = listening(columns=30)

    forged = _signed(DELIVERY, secret="x" * 32)
    answer = httpx.post(f"{listener.url}/in", content=DELIVERY, headers=forged)
    listener.read_until("refused")

    assert answer.status_code == 401
    assert "Qlik-Signature INVALID" in listener.lines
    assert "webhook-signature INVALID" in listener.lines
