"""What a new user meets in the first hour (issue 14, items 1-7), run as they would run it:
the ``hookline`` command and the Makefile, as subprocesses."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import os
import pty
import re
import select
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hookline import accounts, localtls
from hookline.auth import Role
from hookline.services import Services
from hookline.settings import load_settings
from hookline.webhooks import NewWebhook
from tests.cli.test_cli import HOOKLINE, Serving, hookline
from tests.databases import POSTGRES_ADMIN_URL, TEST_SECRET_KEY, postgres_missing
from tests.ports import refused_port

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
        with refused_port() as refused:
            hook = {
                "name": "w",
                "url": f"http://localhost:{refused}/",
                "eventTypes": [APP_CREATED],
            }
            assert httpx.post(f"{url}/api/v1/webhooks", json=hook, headers=headers).is_success
            event = {"type": APP_CREATED, "data": {}}
            assert httpx.post(f"{url}/api/v1/events", json=event, headers=headers).is_success
            seen = b""
            deadline = time.monotonic() + 20
            # poll, not select: in a long test run the descriptor may be past select's 1024
            readable = select.poll()
            readable.register(controller, select.POLLIN)
            while b"\n" not in seen and time.monotonic() < deadline:
                if readable.poll(500):
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

    def __init__(
        self, *options: str, columns: int = 200, env: dict[str, str] | None = None
    ) -> None:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
        self.process = subprocess.Popen(
            [*HOOKLINE, "listen", "--port", "0", "--secret", SECRET, *options],
            stdout=subprocess.PIPE,
            env={**environment, "COLUMNS": str(columns), **(env or {})},
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

    def start(*options: str, columns: int = 200, env: dict[str, str] | None = None) -> Listening:
        started.append(Listening(*options, columns=columns, env=env))
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
    printed = listener.lines[2:]  # after "listening on" and "serve delivers here"
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


def _trust_line(listener: Listening) -> dict[str, str]:
    """The settings listen printed for serve, as a dict."""
    line = listener.read_until("serve delivers here with: ")
    command = line.split("serve delivers here with: ")[1].split(" hookline serve")[0]
    return dict(setting.split("=", 1) for setting in shlex.split(command))


def test_listen_https_serves_a_certificate_the_printed_ca_verifies(
    listening: Callable[..., Listening], tmp_path: Path
) -> None:
    listener = listening("--https", "--cert-dir", str(tmp_path / "certs"))
    settings = _trust_line(listener)

    assert listener.url.startswith("https://localhost:")
    assert set(settings) == {"HOOKLINE_DEV", "HOOKLINE_CA_BUNDLE"}
    assert settings["HOOKLINE_DEV"] == "1"
    assert settings["HOOKLINE_CA_BUNDLE"] == str(tmp_path / "certs" / "ca.pem")
    assert (tmp_path / "certs" / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "certs" / "localhost-key.pem").stat().st_mode & 0o777 == 0o600
    trusting = ssl.create_default_context(cafile=settings["HOOKLINE_CA_BUNDLE"])
    for url in (listener.url, listener.url.replace("localhost", "127.0.0.1")):
        answer = httpx.post(
            f"{url}/in", content=DELIVERY, headers=_signed(DELIVERY), verify=trusting
        )
        assert answer.status_code == 200
    listener.read_until("2 received")
    assert "2 verified" in listener.lines[-1]
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.post(f"{listener.url}/in", content=DELIVERY, verify=ssl.create_default_context())


def test_listen_https_keeps_its_ca_so_serve_trusts_it_across_runs(
    listening: Callable[..., Listening], tmp_path: Path
) -> None:
    first = listening("--https", "--cert-dir", str(tmp_path))
    ca = (tmp_path / "ca.pem").read_bytes()
    first.stop()

    again = listening("--https", "--cert-dir", str(tmp_path))

    assert (tmp_path / "ca.pem").read_bytes() == ca
    trusting = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    answer = httpx.post(f"{again.url}/in", content=DELIVERY, verify=trusting)
    assert answer.status_code == 200


def test_the_local_ca_vouches_for_this_machine_only(tmp_path: Path) -> None:
    """Its name constraints: a certificate it signed for another host does not verify, so
    its key, should it leak, cannot stand in for a receiver hookline delivers to."""
    localtls.local_certificate(tmp_path)
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((tmp_path / "ca-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    forged_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    issued = x509.load_pem_x509_certificate((tmp_path / "localhost.pem").read_bytes())
    builder = x509.CertificateBuilder(
        issuer_name=ca.subject,
        subject_name=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.com")]),
        public_key=forged_key.public_key(),
        serial_number=x509.random_serial_number(),
        not_valid_before=now - datetime.timedelta(hours=1),
        not_valid_after=now + datetime.timedelta(days=1),
        # the extensions of the certificate it issued, but for another name
        extensions=[
            extension
            for extension in issued.extensions
            if not isinstance(
                extension.value, x509.SubjectAlternativeName | x509.SubjectKeyIdentifier
            )
        ],
    )
    forged = (
        builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("hooks.example.com")]), critical=False
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(forged_key.public_key()), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    store = x509.verification.Store([ca])
    verifier = (
        x509.verification.PolicyBuilder()
        .store(store)
        .build_server_verifier(x509.DNSName("hooks.example.com"))
    )
    with pytest.raises(x509.verification.VerificationError, match="name constraint"):
        verifier.verify(forged, [])
    localhost = (
        x509.verification.PolicyBuilder()
        .store(store)
        .build_server_verifier(x509.DNSName("localhost"))
    )
    localhost.verify(issued, [])


# -- 1, 2. the local loop in one step: make dev, on the same database ----------------------


def _venv_of_this_hookline(tmp_path: Path) -> Path:
    """A stand-in for .venv, installed already: its ``hookline`` is the one under test."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    shim = venv / "bin" / "hookline"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m hookline "$@"\n')
    shim.chmod(0o755)
    later = time.time() + 3600  # newer than pyproject.toml: make installs nothing
    (venv / ".installed").touch()
    os.utime(venv / ".installed", (later, later))
    return venv


def test_make_dev_delivers_over_https_to_listen_as_the_quick_start_says(
    tmp_path: Path, listening: Callable[..., Listening]
) -> None:
    if shutil.which("make") is None:
        pytest.skip("no make here")
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}  # listen's default place for its CA
    listener = listening("--https", env=cache)
    trust_line = listener.read_until("serve delivers here with: ")
    ca = tmp_path / "cache" / "hookline" / "listen" / "ca.pem"
    assert f"HOOKLINE_DEV=1 HOOKLINE_CA_BUNDLE={ca} hookline serve" in trust_line
    assert "make dev" in trust_line

    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    database = f"sqlite:///{tmp_path / 'hookline.db'}"
    venv = f"VENV={_venv_of_this_hookline(tmp_path)}"
    process = subprocess.Popen(
        ["make", "--no-print-directory", "-C", str(REPOSITORY), "dev", venv],
        env={
            **environment,
            **cache,
            "HOOKLINE_DATABASE_URL": database,
            "HOOKLINE_PORT": "0",
            "HOOKLINE_POLL_INTERVAL": "0.05",
        },
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # make and its serve: stopped together
    )
    try:
        serving = Serving(process)
        url = serving.read_until("serving").split()[-1]
        serving.read_until("dev mode (HOOKLINE_DEV=1)")
        serving.read_until(f"deliveries also trust the CAs in {ca} (HOOKLINE_CA_BUNDLE)")
        key = serving.read_until("hlk_").strip()
        headers = {"Authorization": f"Bearer {key}"}
        hook = {
            "name": "local",
            "url": f"{listener.url}/in",
            "eventTypes": [APP_CREATED],
            "secret": SECRET,
        }
        made = httpx.post(f"{url}/api/v1/webhooks", json=hook, headers=headers)
        assert made.status_code == 201, made.text
        event = {"type": APP_CREATED, "data": {"id": "app-1"}}
        assert httpx.post(f"{url}/api/v1/events", json=event, headers=headers).is_success

        listener.read_until("1 received")
        assert "Qlik-Signature ok  webhook-signature ok" in listener.lines
        assert "1 verified" in listener.lines[-1]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)


def test_serve_says_nothing_of_dev_mode_when_it_is_off(tmp_path: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("HOOKLINE_")}
    process = subprocess.Popen(
        [*HOOKLINE, "serve", "--port", "0"],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        serving = Serving(process)
        serving.read_until("hlk_")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    assert not any("dev mode" in line or "HOOKLINE_CA_BUNDLE" in line for line in serving.lines)


ACTIVATE = ". .venv/bin/activate"


@pytest.mark.parametrize("document", ["README.md", "docs/receiving.md"])
def test_the_docs_put_hookline_on_the_path_before_they_use_it(document: str) -> None:
    lines = (REPOSITORY / document).read_text().splitlines()
    in_shell, commands = False, []
    for number, line in enumerate(lines):
        if line.startswith("```"):
            in_shell = line == "```sh"
        elif in_shell and line.startswith("hookline "):
            commands.append(number)
    activated = [number for number, line in enumerate(lines) if ACTIVATE in line]
    assert commands, f"{document} runs no hookline command"
    assert activated, f"{document} never says {ACTIVATE}"
    assert min(activated) < min(commands), lines[min(commands)]


def test_the_readme_shows_what_listen_prints(
    listening: Callable[..., Listening], tmp_path: Path
) -> None:
    """The quick start's comment lines are listen's output, but for the port and path."""
    listener = listening("--https", env={"XDG_CACHE_HOME": str(tmp_path)})
    listener.read_until("serve delivers here with: ")
    ca = str(tmp_path / "hookline" / "listen" / "ca.pem")
    printed = [
        re.sub(r"localhost:\d+", "localhost:9000", line).replace(ca, "CA")
        for line in listener.lines
    ]

    readme = (REPOSITORY / "README.md").read_text()
    shown = [
        line.removeprefix("#").strip().replace("/home/you/.cache/hookline/listen/ca.pem", "CA")
        for line in readme.splitlines()
        if line.startswith("#   listening on") or line.startswith("#   serve delivers")
    ]
    assert shown == printed
