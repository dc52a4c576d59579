"""The ``hookline`` command: thin commands over the same services as the API."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
import uvloop
from rich.console import Console

from hookline import __version__, accounts, localtls, logs
from hookline.auth import Role
from hookline.errors import (
    ConfigError,
    HooklineError,
    InvalidInput,
    NotFound,
    StorageUnavailable,
    describe,
)
from hookline.paging import Sort
from hookline.settings import Settings, load_settings
from hookline.store import ApiKey, Store, WebhookQuery
from hookline.webhooks import Webhook

# The engine, the API, `listen` and the database are imported by the commands that use
# them: importing them all took 1.4 s of CPU, which every command (`--help` too) paid
# before it began; a command that only reads or writes rows opens the store alone.
if TYPE_CHECKING:
    from hookline.listen import Tally

T = TypeVar("T")
Command = Callable[..., None]


def _run(work: Coroutine[Any, Any, T]) -> T:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(work)


def _fail(message: str, code: int) -> None:
    click.echo(f"hookline: {message}", err=True)
    sys.exit(code)


def _handles_errors(command: Command) -> Command:
    """One line on stderr and a non-zero exit for any error hookline raises on purpose."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except ConfigError as error:
            _fail(str(error), 2)
        except InvalidInput as error:
            _fail("; ".join(describe(p, whole="the event", cli=True) for p in error.problems), 1)
        except StorageUnavailable as error:
            _fail(_database_trouble(error), 1)
        except HooklineError as error:
            _fail(str(error), 1)

    return wrapper


def _database_trouble(error: StorageUnavailable) -> str:
    """The database's own words, without SQLAlchemy's wrapping: its exception's class and
    the "Background on this error" link."""
    cause = error.__cause__
    reason = getattr(cause, "orig", None) or cause
    said = " ".join(str(reason).split()) if reason is not None else ""
    return f"the database is unavailable: {said}" if said else str(error).splitlines()[0]


_DATABASE = click.option(
    "--database",
    "database_url",
    envvar=None,
    help="sqlite:///path or postgresql://… "
    "[env HOOKLINE_DATABASE_URL; default sqlite:///./hookline.db]",
)
_DELIVERY_OPTIONS: list[Callable[[Command], Command]] = [
    click.option("--secret-key", help="Key for encryption at rest [env HOOKLINE_SECRET_KEY]."),
    click.option(
        "--allow-networks", help="CIDRs deliveries may reach [env HOOKLINE_ALLOW_NETWORKS]."
    ),
    click.option("--resolve", help="host:address overrides [env HOOKLINE_RESOLVE]."),
    click.option("--ca-bundle", help="Extra trusted CAs, PEM [env HOOKLINE_CA_BUNDLE]."),
    click.option(
        "--dev", is_flag=True, default=None, help="Permit http:// and localhost [env HOOKLINE_DEV]."
    ),
    click.option("--retry-schedule", help="Delays in seconds [env HOOKLINE_RETRY_SCHEDULE]."),
    click.option("--history-days", type=int, help="History retention [env HOOKLINE_HISTORY_DAYS]."),
    click.option(
        "--max-webhooks-per-tenant", type=int, help="Cap [env HOOKLINE_MAX_WEBHOOKS_PER_TENANT]."
    ),
    click.option(
        "--max-webhooks-per-user", type=int, help="Cap [env HOOKLINE_MAX_WEBHOOKS_PER_USER]."
    ),
    click.option(
        "--metrics-port",
        type=int,
        help="Also serve /metrics, /healthz and /readyz on this port of --host "
        "[env HOOKLINE_METRICS_PORT; default: none].",
    ),
    click.option(
        "--log-format",
        type=click.Choice(["auto", "json", "console"]),
        help="Log lines as JSON or for people [env HOOKLINE_LOG_FORMAT; default auto: "
        "console when stderr is a terminal, else json].",
    ),
]


def _with_settings(*options: Callable[[Command], Command]) -> Callable[[Command], Command]:
    """Add the flags for ``options`` and hand the command one validated Settings object."""

    def decorate(command: Command) -> Command:
        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> None:
            names = set(Settings.model_fields)
            flags = {name: kwargs.pop(name) for name in list(kwargs) if name in names}
            settings = load_settings(flags)
            logs.configure(settings.log_format)
            command(settings, **kwargs)

        wrapped: Command = _handles_errors(wrapper)
        decorators: list[Callable[[Command], Command]] = [_DATABASE, *options]
        for option in reversed(decorators):
            wrapped = option(wrapped)
        return wrapped

    return decorate


class _OneLineErrors(click.Group):
    """Usage errors (an unknown command or option, a bad or missing value) as one line on
    stderr, like every other error of hookline; exit code 2."""

    def main(self, args: Sequence[str] | None = None, **extra: Any) -> Any:  # type: ignore[override]
        try:
            return super().main(args, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:
            error.show()
            sys.exit(error.exit_code)
        except click.UsageError as error:
            hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
            _fail(f"{_one_line(error.format_message())}{hint}", error.exit_code)
        except click.ClickException as error:
            _fail(_one_line(error.format_message()), error.exit_code)
        except click.Abort:
            _fail("aborted", 1)


def _one_line(message: str) -> str:
    return " ".join(message.split())


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hookline")
def main() -> None:
    """hookline: self-hosted webhooks, wire-compatible with Qlik Cloud's Webhooks API."""


@main.command()
@_with_settings(
    click.option("--host", help="Address to listen on [env HOOKLINE_HOST; default 127.0.0.1]."),
    click.option("--port", type=int, help="Port [env HOOKLINE_PORT; default 8000]."),
    click.option(
        "--public-url",
        help="Where clients reach the API, e.g. https://hooks.example.com "
        "[env HOOKLINE_PUBLIC_URL; default: the request's Host].",
    ),
    *_DELIVERY_OPTIONS,
)
def serve(settings: Settings) -> None:
    """Serve the API and deliver (migrating the database first)."""
    _run(_serve(settings, serve_api=True))


@main.command()
@_with_settings(*_DELIVERY_OPTIONS)
def worker(settings: Settings) -> None:
    """Deliver only: run delivery workers (and the history purge) without the API."""
    _run(_serve(settings, serve_api=False))


async def _serve(settings: Settings, *, serve_api: bool) -> None:
    from hookline.runtime import Runtime, calm_collector
    from hookline.services import Services

    services = Services.build(settings)
    try:
        await services.start()
        runtime = Runtime(services, serve_api=serve_api)
        _stop_on_signals(runtime.stop)
        calm_collector()
        if serve_api:
            issued = await accounts.bootstrap(services.store)
            await runtime.run(
                lambda url: _announce(url, settings, issued=issued, probes_url=runtime.probes_url)
            )
        else:
            await runtime.run(lambda _: _announce_worker(settings, runtime.probes_url))
    finally:
        await services.close()


def _stop_on_signals(stop: Callable[[], None]) -> None:
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop)


def _announce_worker(settings: Settings, probes_url: str) -> None:
    probes = f"; probes at {probes_url}/metrics, /healthz, /readyz" if probes_url else ""
    click.echo(f"hookline worker delivering{probes}", err=True)
    for line in _delivery_notes(settings):
        click.echo(line, err=True)


def _delivery_notes(settings: Settings) -> list[str]:
    """What a person starting hookline should know about where it delivers."""
    notes = []
    if settings.dev:
        notes.append(
            "  dev mode (HOOKLINE_DEV=1): webhooks may use http:// and localhost, and "
            "deliveries reach this machine; not for production"
        )
    if settings.ca_bundle is not None:
        notes.append(
            f"  deliveries also trust the CAs in {settings.ca_bundle} (HOOKLINE_CA_BUNDLE)"
        )
    return notes


def _announce(
    url: str, settings: Settings, issued: accounts.IssuedKey | None, probes_url: str
) -> None:
    click.echo(f"hookline {__version__} serving {url}")
    base = settings.public_url or url
    click.echo(f"  API: {base}/api/v1/webhooks   docs: {base}/docs   console: {base}/console")
    if probes_url:
        click.echo(f"  probes: {probes_url}/metrics, /healthz, /readyz")
    for line in _delivery_notes(settings):
        click.echo(line)
    if issued is not None:
        click.echo(
            f"First start: tenant {accounts.BOOTSTRAP_TENANT!r} and its admin API key "
            "(shown once, keep it):"
        )
        click.echo(issued.key)
    sys.stdout.flush()


@main.command()
@_with_settings()
def migrate(settings: Settings) -> None:
    """Bring the database schema up to date."""
    _run(_with_store(settings, lambda store: store.migrate()))
    click.echo("database is up to date")


async def _with_store(settings: Settings, work: Callable[[Store], Awaitable[T]]) -> T:
    """Run ``work`` on the database, brought up to date: the store alone, without the
    engine (a quicker start for the commands that only read or write rows)."""
    from hookline.store import open_store
    from hookline.vault import vault_from_settings

    vault_from_settings(settings)  # a SQLite database's key file checked, or made
    store = open_store(settings)
    try:
        await store.migrate()
        return await work(store)
    finally:
        await store.close()


@main.group()
def tenant() -> None:
    """Manage tenants."""


@tenant.command("create")
@click.argument("name")
@_with_settings()
def tenant_create(settings: Settings, name: str) -> None:
    """Create a tenant and print its id."""
    created = _run(_with_store(settings, lambda store: accounts.create_tenant(store, name)))
    click.echo(created.id)


@tenant.command("list")
@_with_settings()
def tenant_list(settings: Settings) -> None:
    """List tenants: id and name."""
    for found in _run(_with_store(settings, lambda store: store.list_tenants())):
        click.echo(f"{found.id}\t{found.name}")


@main.group()
def key() -> None:
    """Manage API keys."""


@key.command("create")
@click.option("--tenant", "tenant_name", help="Tenant name (not for operator keys).")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option("--user", "user_id", help="User the key acts as (created if new).")
@_with_settings()
def key_create(settings: Settings, tenant_name: str | None, role: str, user_id: str | None) -> None:
    """Create an API key and print it, alone, on stdout (it is shown only once)."""

    async def work(store: Store) -> accounts.IssuedKey:
        found = await accounts.tenant_by_name(store, tenant_name) if tenant_name else None
        return await accounts.issue_key(store, Role(role), found, user_id)

    click.echo(_run(_with_store(settings, work)).key)


@key.command("list")
@click.option("--tenant", "tenant_name", help="Only this tenant's keys.")
@_with_settings()
def key_list(settings: Settings, tenant_name: str | None) -> None:
    """List API keys: id, role, tenant id, user, created, and whether revoked."""

    async def work(store: Store) -> list[ApiKey]:
        found = await accounts.tenant_by_name(store, tenant_name) if tenant_name else None
        return await store.list_api_keys(found.id if found else None)

    for listed in _run(_with_store(settings, work)):
        revoked = f"revoked {listed.revoked_at:%Y-%m-%d %H:%M}" if listed.revoked_at else "active"
        click.echo(
            f"{listed.id}\t{listed.role}\t{listed.tenant_id or '-'}\t{listed.user_id or '-'}"
            f"\t{listed.created_at:%Y-%m-%d %H:%M}\t{revoked}"
        )


@key.command("revoke")
@click.argument("key_id")
@_with_settings()
def key_revoke(settings: Settings, key_id: str) -> None:
    """Revoke the API key with this id (from `key list`); it stops working at once."""
    if not _run(_with_store(settings, lambda store: store.revoke_api_key(key_id))):
        raise NotFound(f"no active key {key_id}")
    click.echo(f"revoked {key_id}")


@main.group()
def webhook() -> None:
    """Look at webhooks."""


@webhook.command("list")
@click.option("--tenant", "tenant_name", required=True, help="Tenant name.")
@_with_settings()
def webhook_list(settings: Settings, tenant_name: str) -> None:
    """List a tenant's webhooks: id, enabled or disabled, name, URL."""

    async def work(store: Store) -> list[Webhook]:
        found = await accounts.tenant_by_name(store, tenant_name)
        query = WebhookQuery(found.id, limit=100, sort=Sort("name", descending=False))
        listed: list[Webhook] = []
        while True:
            page = await store.list_webhooks(query)
            listed += page.items
            if page.next is None:
                return listed
            query = dataclasses.replace(query, cursor=page.next)

    for found in _run(_with_store(settings, work)):
        state = (
            "enabled" if found.enabled else f"disabled ({found.disabled_reason_code or 'manual'})"
        )
        click.echo(f"{found.id}\t{state}\t{found.name}\t{found.url}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9000,
    show_default=True,
    help="Port (0: any free).",
)
@click.option("--secret", help="The webhook's secret, to verify both signatures.")
@click.option(
    "--status",
    type=click.IntRange(100, 599),
    default=200,
    show_default=True,
    help="Status to answer valid deliveries with (e.g. 500 to watch retries).",
)
@click.option("--quiet", is_flag=True, help="Print no delivery, only the progress lines.")
@click.option(
    "--progress",
    "progress_seconds",
    type=click.FloatRange(min=0.1),
    default=10,
    show_default=True,
    help="Seconds between progress lines (totals and rate), printed while deliveries come.",
)
@click.option(
    "--https",
    is_flag=True,
    help="Serve HTTPS with a certificate for localhost signed by a local CA, made once in "
    "--cert-dir; prints the settings serve needs to trust it.",
)
@click.option(
    "--cert-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=localtls.default_directory,
    show_default="$XDG_CACHE_HOME/hookline/listen, or ~/.cache/hookline/listen",
    help="Where --https keeps its CA and certificate.",
)
def listen(
    host: str,
    port: int,
    secret: str | None,
    status: int,
    quiet: bool,
    progress_seconds: float,
    https: bool,
    cert_dir: Path,
) -> None:
    """Receive deliveries locally: verify their signatures and print them.

    Point a webhook at the printed URL; serve must run with HOOKLINE_DEV=1 (for localhost
    and http://) and, with --https, trust the local CA (the line printed says how). A
    delivery whose signature does not verify is answered 401.
    """
    from hookline.listen import Options
    from hookline.listen import listen as listening
    from hookline.server import CannotListen

    console = Console(highlight=False)
    options = Options(secret, status, quiet, progress_seconds)
    try:
        certificate = localtls.local_certificate(cert_dir) if https else None
    except HooklineError as error:
        _fail(str(error), 1)
    tls = certificate.server_context() if certificate else None
    announce = _listening_at(console, certificate.ca if certificate else None)

    async def run() -> Tally:
        stopping = asyncio.Event()
        _stop_on_signals(stopping.set)
        return await listening(host, port, options, console, announce, stopping, tls)

    try:
        tally = _run(run())
    except CannotListen as error:
        _fail(str(error), 1)
    console.print(f"stopped: {tally.line()}")


_DEFAULT_CA = localtls.default_directory() / "ca.pem"


def _listening_at(console: Console, ca: Path | None) -> Callable[[str], None]:
    """Where it listens, and the settings with which serve delivers there."""
    trust = f" HOOKLINE_CA_BUNDLE={shlex.quote(str(ca))}" if ca else ""
    # the Makefile's dev target sets both, for the CA in the default directory
    make = " (in hookline's repository: make dev)" if ca in (None, _DEFAULT_CA) else ""

    def announce(url: str) -> None:
        # soft_wrap: never broken into lines (a narrow terminal wraps them itself)
        console.print(f"listening on {url} (Ctrl-C to stop)", soft_wrap=True, markup=False)
        console.print(
            f"serve delivers here with: HOOKLINE_DEV=1{trust} hookline serve{make}",
            soft_wrap=True,
            markup=False,
        )

    return announce


@main.command()
@click.option("--tenant", "tenant_name", required=True, help="Tenant name.")
@click.argument("event_type")
@click.option(
    "--data",
    default="{}",
    callback=lambda _c, _p, text: _json(text),
    help="The event's data, as JSON.",
)
@click.option("--id", "event_id", help="Event id (default: a new UUID).")
@_with_settings()
def emit(
    settings: Settings, tenant_name: str, event_type: str, data: object, event_id: str | None
) -> None:
    """Publish one event of EVENT_TYPE and print its id."""
    from hookline.catalog import load_catalog
    from hookline.publishing import Publisher
    from hookline.quotas import publishing_quota

    payload = {"type": event_type, "data": data, "id": event_id}
    catalog = load_catalog(settings.catalog_file)  # a bad file refused before the database

    async def work(store: Store) -> list[str]:
        found = await accounts.tenant_by_name(store, tenant_name)
        return await Publisher(store, catalog, publishing_quota(settings)).publish(
            found.id, payload
        )

    click.echo(_run(_with_store(settings, work))[0])


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deep
        raise click.BadParameter(f"not JSON: {error}") from None


@main.command()
@_with_settings(
    click.option("--history-days", type=int, help="Retention [env HOOKLINE_HISTORY_DAYS]."),
)
def purge(settings: Settings) -> None:
    """Delete delivery history older than the retention now, and print how much."""
    from hookline.runtime import purge_history

    purged = _run(_with_store(settings, lambda store: purge_history(store, settings.history_days)))
    days = f" and {purged.days} whole days of history" if purged.days else ""
    click.echo(
        f"purged {purged.deliveries} deliveries{days} older than {settings.history_days} days"
    )
