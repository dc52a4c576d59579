"""hookline's settings: one object from `HOOKLINE_*` variables and CLI flags, validated once."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from yarl import URL

from hookline import __version__
from hookline.errors import ConfigError, plain_message

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# auto: console when standard error is a terminal (a person reads it), else json
LogFormat = Literal["auto", "json", "console"]
AttemptLogMode = Literal["failures", "all", "none"]
MIN_KEY_LENGTH = 32  # of each HOOKLINE_SECRET_KEY
KEY_LENGTH_RULE = (
    f"each key must be at least {MIN_KEY_LENGTH} characters "
    "(e.g. the output of `openssl rand -base64 32`)"
)
DEFAULT_RETRY_SCHEDULE = (0.0, 5.0, 60.0, 300.0, 1800.0, 7200.0, 21600.0, 43200.0)


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HOOKLINE_", frozen=True, extra="forbid")

    database_url: str = "sqlite:///./hookline.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Where clients reach the API, e.g. behind a proxy; absolute URLs (paging links) start
    # with it instead of the request's Host header. None: from the request.
    public_url: str | None = None
    secret_key: SecretStr | None = None
    allow_networks: Annotated[tuple[IPNetwork, ...], NoDecode] = ()
    resolve: Annotated[dict[str, IPAddress], NoDecode] = Field(default_factory=dict)
    ca_bundle: Path | None = None
    dev: bool = False
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = DEFAULT_RETRY_SCHEDULE
    history_days: int = Field(default=7, ge=1)
    max_webhooks_per_tenant: int = Field(default=100, ge=1)
    max_webhooks_per_user: int = Field(default=150, ge=1)
    # Recovers (hookline.recover) a tenant may have queued or running at once.
    max_recovers_per_tenant: int = Field(default=5, ge=1)
    catalog_file: Path | None = None
    user_agent: str = f"hookline-webhook/{__version__}"
    connect_timeout: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    request_timeout: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    concurrency: int = Field(default=256, ge=1)
    endpoint_concurrency: int = Field(default=16, ge=1)
    tenant_concurrency: int = Field(default=128, ge=1)
    key_concurrency: int = Field(default=4, ge=1)
    publish_events_per_second: float = Field(default=100.0, ge=0, allow_inf_nan=False)
    publish_bytes_per_second: float = Field(default=1048576.0, ge=0, allow_inf_nan=False)
    publish_burst_seconds: float = Field(default=10.0, gt=0, allow_inf_nan=False)
    tenant_deliveries_per_second: float = Field(default=2000.0, ge=0, allow_inf_nan=False)
    lease_seconds: float = Field(default=120.0, gt=0, allow_inf_nan=False)
    poll_interval: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    retry_after_cap: float = Field(default=3600.0, ge=0, allow_inf_nan=False)
    disable_after_failures: int = Field(default=20, ge=1)
    # Seconds between a webhook's hookline.delivery.exhausted events (hookline.operational).
    exhausted_event_interval: float = Field(default=900.0, ge=0, allow_inf_nan=False)
    purge_interval: float = Field(default=600.0, gt=0, allow_inf_nan=False)
    log_format: LogFormat = "auto"
    attempt_log: AttemptLogMode = "failures"
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_tenant_labels: int = Field(default=100, ge=0)
    # When set, /metrics (API and probes port) answers only "Authorization: Bearer <token>".
    metrics_token: SecretStr | None = None
    rate_limit: float = Field(default=100.0, ge=0, allow_inf_nan=False)
    rate_burst: int = Field(default=200, ge=1)
    shutdown_grace: float = Field(default=30.0, ge=0, allow_inf_nan=False)
    max_filter_values: int = Field(default=50, ge=1)
    statement_timeout: float = Field(default=5.0, gt=0, allow_inf_nan=False)
    # PostgreSQL connections per process for the API and the engine's other work: kept
    # open, and how many more may be opened at a peak (the delivery hot path has its own
    # few, see store/postgres.py).
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        scheme = urlsplit(value).scheme
        if scheme not in ("sqlite", "postgresql", "postgres", "postgresql+asyncpg"):
            raise ValueError(
                f"unsupported database URL {_without_password(value)!r}: "
                "use sqlite:///path or postgresql://user@host/db"
            )
        if scheme == "sqlite" and not value.startswith("sqlite:///"):
            raise ValueError(
                f"unsupported database URL {_without_password(value)!r}: use sqlite:///path"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _public_origin(cls, value: str | None) -> str | None:
        """An http(s) origin, ``https://hooks.example.com[:port]``, without the trailing
        slash. hookline is served from the root of its origin (the console and the docs
        load from ``/``), so a path other than ``/`` is refused, like userinfo, a query
        and a fragment."""
        if not value:
            return None
        url = URL(value)
        if url.scheme not in ("http", "https") or not url.raw_host:
            raise ValueError(f"{value!r} is not an absolute http:// or https:// URL")
        if url.user is not None or url.password is not None:
            raise ValueError("must not hold a user name or password")
        if "?" in value or "#" in value:
            raise ValueError("must not have a query or a fragment")
        if url.raw_path not in ("", "/"):
            raise ValueError("must not have a path: hookline is served from / of its origin")
        return str(url.origin())

    @field_validator("secret_key")
    @classmethod
    def _long_enough_keys(cls, value: SecretStr | None) -> SecretStr | None:
        """Each key of the comma list (the vault's rule, checked here to name the flag)."""
        if value is not None:
            keys = [key.strip() for key in value.get_secret_value().split(",")]
            if not any(keys) or any(0 < len(key) < MIN_KEY_LENGTH for key in keys):
                raise ValueError(KEY_LENGTH_RULE)
        return value

    @field_validator("metrics_token")
    @classmethod
    def _usable_token(cls, value: SecretStr | None) -> SecretStr | None:
        """Empty means none; otherwise printable ASCII without spaces, as a header carries it."""
        if value is None or not value.get_secret_value():
            return None
        token = value.get_secret_value()
        if not (token.isascii() and token.isprintable()) or " " in token:
            raise ValueError("must be printable ASCII without spaces")
        return value

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        return _comma_list(value)

    @field_validator("allow_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: Any) -> Any:
        value = _comma_list(value)  # here, not in a second validator: those run last-first
        if isinstance(value, list):
            return [ipaddress.ip_network(item, strict=False) for item in value]
        return value

    @field_validator("resolve", mode="before")
    @classmethod
    def _parse_overrides(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        overrides: dict[str, str] = {}
        for item in _comma_list(value):
            host, sep, address = item.partition(":")  # a host name never holds a colon
            if not sep or not host:
                raise ValueError(f"{item!r} is not host:address")
            overrides[host.lower().rstrip(".")] = address.strip("[]")
        return overrides

    @field_validator("retry_schedule")
    @classmethod
    def _non_negative_delays(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value:
            raise ValueError("needs at least one delay")
        if any(delay < 0 for delay in value):
            raise ValueError("delays must be >= 0 seconds")
        return value

    @field_validator("ca_bundle", "catalog_file")
    @classmethod
    def _file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        if self.lease_seconds <= self.connect_timeout + self.request_timeout:
            raise ValueError(
                "HOOKLINE_LEASE_SECONDS must be longer than an attempt can take "
                "(HOOKLINE_CONNECT_TIMEOUT + HOOKLINE_REQUEST_TIMEOUT)"
            )
        return self

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgres")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def load_settings(flags: Mapping[str, Any] | None = None, /, **overrides: Any) -> Settings:
    """Settings from the environment, with ``overrides`` and then ``flags`` (the command
    line's, by setting name: ``{"port": 8001}``) taking precedence.

    Raises ConfigError with one line naming the setting (as the flag it came from, if it
    came from one) and the problem.
    """
    given = {
        name: value for name, value in {**overrides, **(flags or {})}.items() if value is not None
    }
    try:
        return Settings(**given)
    except ValidationError as error:
        first = error.errors()[0]
        message = plain_message(first)
        if not first["loc"]:
            raise ConfigError(f"invalid settings: {message}") from None
        name = str(first["loc"][0])
        if flags and flags.get(name) is not None:
            shown = "--" + name.replace("_", "-")
        else:
            shown = f"HOOKLINE_{name.upper()}"
        raise ConfigError(f"invalid {shown}: {message}") from None
