"""The hookline command, run as the scripts that depend on it run it: a subprocess."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.databases import TEST_SECRET_KEY

HOOKLINE = [sys.executable, "-m", "hookline"]
KEY = re.compile(r"^hlk_[A-Za-z0-9_-]{43}$")
UUID = re.compile(r"^[0-9a-f-]{36}$")


def hookline(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    environment.update(env or {})
    return subprocess.run(
        [*HOOKLINE, *args], capture_output=True, text=True, env=environment, cwd=cwd, timeout=60
    )


@pytest.fixture
def database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'hookline.db'}"


def test_tenant_create_prints_only_the_tenant_id(database: str) -> None:
    result = hookline("tenant", "create", "acme", "--database", database)
    assert result.returncode == 0, result.stderr
    assert UUID.match(result.stdout.strip())
    assert result.stdout.count("\n") == 1


def test_key_create_prints_only_the_key(database: str) -> None:
    hookline("tenant", "create", "acme", "--database", database)
    for role in ("tenant-admin", "user", "publisher"):
        result = hookline(
            "key", "create", "--tenant", "acme", "--role", role, "--database", database
        )
        assert result.returncode == 0, result.stderr
        assert KEY.match(result.stdout.strip()), result.stdout
        assert result.stdout.count("\n") == 1
    operator = hookline("key", "create", "--role", "operator", "--database", database)
    assert KEY.match(operator.stdout.strip())


def test_settings_come_from_the_environment_too(database: str) -> None:
    env = {"HOOKLINE_DATABASE_URL": database}
    assert hookline("tenant", "create", "acme", env=env).returncode == 0
    listed = hookline("tenant", "list", env=env)
    assert listed.stdout.strip().endswith("\tacme")


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["migrate"],
            {"HOOKLINE_DATABASE_URL": "mysql://root:pw@db/x"},
            "unsupported database URL 'mysql://root:***@db/x'",
        ),
        (["migrate", "--database", "mysql://db/x"], {}, "unsupported database URL"),
        (["serve"], {"HOOKLINE_PORT": "eighty"}, "invalid HOOKLINE_PORT"),
        (["serve"], {"HOOKLINE_PORT": "70000"}, "invalid HOOKLINE_PORT: must be less than or"),
        (["serve"], {"HOOKLINE_ALLOW_NETWORKS": "10.0.0.0/33"}, "invalid HOOKLINE_ALLOW_NETWORKS"),
        (["serve"], {"HOOKLINE_RETRY_SCHEDULE": "5,-1"}, "invalid HOOKLINE_RETRY_SCHEDULE"),
        (["serve"], {"HOOKLINE_CA_BUNDLE": "/nonexistent.pem"}, "invalid HOOKLINE_CA_BUNDLE"),
        (
            ["migrate", "--database", "postgresql://postgres@127.0.0.1/postgres"],
            {},
            "HOOKLINE_SECRET_KEY is required",
        ),
        (["serve"], {"HOOKLINE_SECRET_KEY": "short"}, "invalid HOOKLINE_SECRET_KEY"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_code_2(
    args: list[str], env: dict[str, str], message: str, tmp_path: Path
) -> None:
    result = hookline(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


COMMANDS = {"serve", "worker", "migrate", "tenant", "key", "webhook", "emit", "purge", "listen"}
APP_CREATED = "com.qlik.v1.app.created"
MISSING_DIRECTORY = "sqlite:////nonexistent/dir/hookline.db"
# Each command given bad input: (arguments, exit code, what the one line says). {busy} is a
# port something listens on already; the database holds the tenant "acme". Bad settings are
# in test_a_bad_setting_is_one_line_and_exit_code_2.
BAD_INPUT: list[tuple[list[str], int, str]] = [
    (["nope"], 2, "No such command 'nope'. (see 'hookline --help')"),
    (["serve", "--port", "{busy}"], 1, "cannot listen on 127.0.0.1:{busy}: Address already in use"),
    (["serve", "--log-format", "xml"], 2, "Invalid value for '--log-format'"),
    (["worker", "--metrics-port", "{busy}"], 1, "cannot listen on 127.0.0.1:{busy}"),
    (["worker", "--metrics-port", "70000"], 2, "invalid --metrics-port: must be less than or"),
    (["serve", "--port", "70000"], 2, "invalid --port: must be less than or equal to 65535"),
    (["serve", "--secret-key", "short"], 2, "invalid --secret-key: each key must be at least"),
    (["tenant", "create"], 2, "Missing argument 'NAME'"),
    (["tenant", "create", ""], 1, "a tenant name is 1 to 200 characters"),
    (["tenant", "create", "acme"], 1, "hookline: a tenant named 'acme' exists already\n"),
    (["tenant", "list", "--database", MISSING_DIRECTORY], 2, "cannot create the key file"),
    (["key", "create", "--role", "king"], 2, "Invalid value for '--role'"),
    (["key", "create", "--tenant", "acme"], 2, "Missing option '--role'. Choose from: operator,"),
    (["key", "create", "--tenant", "nope", "--role", "user"], 1, "no tenant named 'nope'"),
    (["key", "create", "--tenant", "acme", "--role", "operator"], 1, "belongs to no tenant"),
    (["key", "list", "--tenant", "nope"], 1, "no tenant named 'nope'"),
    (["key", "revoke", "nope"], 1, "no active key nope"),
    (["webhook", "list"], 2, "Missing option '--tenant'"),
    (["emit", "--tenant", "acme", "com.example.nope"], 1, "unknown event type"),
    (["emit", "--tenant", "acme", "hookline.webhook.disabled"], 1, "hookline: type is reserved"),
    (["emit", "--tenant", "acme", APP_CREATED, "--data", "{nope"], 2, "'--data': not JSON"),
    (["emit", "--tenant", "acme", APP_CREATED, "--data", "[" * 5000], 2, "'--data': not JSON"),
    (["emit", "--tenant", "nope", APP_CREATED], 1, "no tenant named 'nope'"),
    (["purge", "--history-days", "0"], 2, "invalid --history-days: must be greater than or"),
    (["listen", "--status", "99"], 2, "Invalid value for '--status'"),
    (["listen", "--port", "70000"], 2, "Invalid value for '--port': 70000 is not in the range"),
    (
        ["listen", "--port", "{busy}"],
        1,
        "cannot listen on 127.0.0.1:{busy}: Address already in use",
    ),
]


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> str:
    database = f"sqlite:///{tmp_path_factory.mktemp('acme') / 'hookline.db'}"
    assert hookline("tenant", "create", "acme", "--database", database).returncode == 0
    return database


@pytest.fixture(scope="module")
def busy_port() -> Iterator[str]:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        yield str(taken.getsockname()[1])


@pytest.mark.parametrize(("args", "code", "message"), BAD_INPUT, ids=lambda v: str(v)[:40])
def test_bad_input_is_one_line_and_a_non_zero_exit(
    args: list[str], code: int, message: str, acme: str, busy_port: str
) -> None:
    args = [arg.replace("{busy}", busy_port) for arg in args]
    env = {"HOOKLINE_DATABASE_URL": acme}
    result = hookline(*args, env=env)
    assert result.returncode == code, result.stderr
    assert message.replace("{busy}", busy_port) in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("hookline: ")


def test_emit_refuses_a_bad_catalog_before_it_touches_the_database(tmp_path: Path) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text("{nope", encoding="utf-8")
    database = tmp_path / "hookline.db"
    env = {"HOOKLINE_DATABASE_URL": f"sqlite:///{database}", "HOOKLINE_CATALOG_FILE": str(catalog)}
    result = hookline("emit", "--tenant", "acme", APP_CREATED, env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"hookline: invalid event catalog {catalog}: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert not database.exists()


def test_every_command_is_in_the_help() -> None:
    result = hookline("--help")
    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line}
    assert listed == COMMANDS
    for group, commands in {"tenant": "create list", "key": "create list revoke"}.items():
        assert set(commands.split()) <= set(hookline(group, "--help").stdout.split())
    assert "list" in hookline("webhook", "--help").stdout


def test_migrate_on_postgres_with_a_key(database_url: str) -> None:
    result = hookline(
        "migrate", "--database", database_url, env={"HOOKLINE_SECRET_KEY": TEST_SECRET_KEY}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "database is up to date\n"


class Serving:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []

    def read_until(self, predicate: str) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if predicate in line:
                return line
        raise AssertionError(f"serve ended before printing {predicate!r}: {self.lines}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[list[Serving]]:
    started: list[Serving] = []
    yield started
    for serving in started:
        serving.process.send_signal(signal.SIGTERM)
        serving.process.wait(timeout=30)


def _start(tmp_path: Path, started: list[Serving], *flags: str) -> Serving:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    process = subprocess.Popen(
        [*HOOKLINE, "serve", "--port", "0", *flags],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    serving = Serving(process)
    started.append(serving)
    return serving


def test_serve_creates_the_database_and_prints_an_admin_key_on_first_start(
    tmp_path: Path, serve: list[Serving]
) -> None:
    first = _start(tmp_path, serve)
    url = first.read_until("serving").split()[-1]
    first.read_until("shown once")
    key = first.read_until("hlk_").strip()
    assert KEY.match(key)
    headers = {"Authorization": f"Bearer {key}"}
    body = {
        "name": "a",
        "url": "https://hooks.example.com/",
        "eventTypes": ["com.qlik.v1.app.created"],
    }
    assert httpx.post(f"{url}/api/v1/webhooks", json=body, headers=headers).status_code == 201
    assert (tmp_path / "hookline.db").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "hookline.db.key").stat().st_mode & 0o777 == 0o600
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=30) == 0

    second = _start(tmp_path, serve)
    webhooks_url = second.read_until("docs:").split()[1]
    listed = httpx.get(webhooks_url, headers=headers).json()
    assert len(listed["data"]) == 1
    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(timeout=30) == 0
    assert not any("hlk_" in line for line in second.lines)


def test_serve_prints_the_addresses_clients_use_at_the_public_url(
    tmp_path: Path, serve: list[Serving]
) -> None:
    started = _start(tmp_path, serve, "--public-url", "https://Hooks.Example.com/")
    assert started.read_until("docs:").split() == [
        "API:",
        "https://hooks.example.com/api/v1/webhooks",
        "docs:",
        "https://hooks.example.com/docs",
        "console:",
        "https://hooks.example.com/console",
    ]


def test_emit_publishes_one_event_and_prints_its_id(database: str) -> None:
    hookline("tenant", "create", "acme", "--database", database)
    args = ["emit", "--tenant", "acme", "com.qlik.v1.app.created", "--database", database]
    result = hookline(*args, "--data", '{"id": "app-1"}', "--id", "evt-1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "evt-1\n"
    generated = hookline(*args)
    assert UUID.match(generated.stdout.strip())


def test_purge_says_how_much_it_removed(database: str) -> None:
    result = hookline("purge", "--database", database, "--history-days", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "purged 0 deliveries older than 3 days\n"


def test_keys_are_listed_and_a_revoked_key_stops_working(database: str) -> None:
    hookline("tenant", "create", "acme", "--database", database)
    hookline("key", "create", "--tenant", "acme", "--role", "publisher", "--database", database)
    listed = hookline("key", "list", "--tenant", "acme", "--database", database)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    key_id, role, *_, state = line.split("\t")
    assert (role, state) == ("publisher", "active")

    revoked = hookline("key", "revoke", key_id, "--database", database)
    assert revoked.stdout == f"revoked {key_id}\n"
    assert "revoked " in hookline("key", "list", "--database", database).stdout
    again = hookline("key", "revoke", key_id, "--database", database)
    assert again.returncode == 1
    assert again.stderr == f"hookline: no active key {key_id}\n"


def test_webhook_list_shows_a_tenants_webhooks(database: str) -> None:
    hookline("tenant", "create", "acme", "--database", database)
    assert hookline("webhook", "list", "--tenant", "acme", "--database", database).stdout == ""
    missing = hookline("webhook", "list", "--tenant", "nope", "--database", database)
    assert missing.returncode == 1
    assert "no tenant named 'nope'" in missing.stderr
