"""Tests for hookline.settings: HOOKLINE_* variables and flags, validated once (SPEC 7.1)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import pytest

from hookline import __version__
from hookline.errors import ConfigError
from hookline.settings import DEFAULT_RETRY_SCHEDULE, Settings, load_settings


def config_error(**overrides: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert "\n" not in message
    return message


def env_config_error(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> str:
    monkeypatch.setenv(name, value)
    return config_error()


# -- defaults ------------------------------------------------------------------------------


def test_defaults_are_the_documented_ones() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./hookline.db"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.public_url is None
    assert settings.secret_key is None
    assert settings.allow_networks == ()
    assert settings.resolve == {}
    assert settings.ca_bundle is None
    assert settings.dev is False
    assert settings.retry_schedule == (0, 5, 60, 300, 1800, 7200, 21600, 43200)
    assert settings.retry_schedule == DEFAULT_RETRY_SCHEDULE
    assert settings.history_days == 7
    assert settings.max_webhooks_per_tenant == 100
    assert settings.max_webhooks_per_user == 150
    assert settings.catalog_file is None
    assert settings.user_agent == f"hookline-webhook/{__version__}"
    assert settings.log_format == "auto"
    assert settings.attempt_log == "failures"
    assert settings.metrics_port is None
    assert settings.metrics_tenant_labels == 100
    assert settings.metrics_token is None
    assert (settings.rate_limit, settings.rate_burst) == (100, 200)
    assert settings.shutdown_grace == 30
    assert settings.exhausted_event_interval == 900


def test_the_shutdown_grace_is_zero_or_more_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKLINE_SHUTDOWN_GRACE", "0")
    assert load_settings().shutdown_grace == 0
    assert "HOOKLINE_SHUTDOWN_GRACE" in env_config_error(
        monkeypatch, "HOOKLINE_SHUTDOWN_GRACE", "-1"
    )


def test_the_exhausted_event_interval_is_zero_or_more_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOOKLINE_EXHAUSTED_EVENT_INTERVAL", "0")
    assert load_settings().exhausted_event_interval == 0
    for refused in ("-1", "inf"):
        assert "HOOKLINE_EXHAUSTED_EVENT_INTERVAL" in env_config_error(
            monkeypatch, "HOOKLINE_EXHAUSTED_EVENT_INTERVAL", refused
        )


def test_default_database_is_sqlite_beside_the_working_directory() -> None:
    settings = load_settings()
    assert not settings.is_postgres
    assert settings.sqlite_path == Path("hookline.db")


# -- environment ---------------------------------------------------------------------------


def test_settings_are_read_from_hookline_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    variables = {
        "HOOKLINE_DATABASE_URL": "postgresql://hookline@db.internal/hookline",
        "HOOKLINE_HOST": "192.0.2.10",
        "HOOKLINE_PORT": "9000",
        "HOOKLINE_SECRET_KEY": "k" * 32,
        "HOOKLINE_ALLOW_NETWORKS": "10.0.0.0/8, fd00::/8",
        "HOOKLINE_RESOLVE": "hooks.test:127.0.0.1,v6.test:[::1]",
        "HOOKLINE_CA_BUNDLE": str(bundle),
        "HOOKLINE_DEV": "1",
        "HOOKLINE_RETRY_SCHEDULE": "0, 1.5,10",
        "HOOKLINE_HISTORY_DAYS": "14",
        "HOOKLINE_MAX_WEBHOOKS_PER_TENANT": "250",
        "HOOKLINE_MAX_WEBHOOKS_PER_USER": "20",
        "HOOKLINE_USER_AGENT": "Qlik Webhook",
        "HOOKLINE_LOG_FORMAT": "console",
        "HOOKLINE_ATTEMPT_LOG": "all",
        "HOOKLINE_METRICS_PORT": "9100",
        "HOOKLINE_METRICS_TENANT_LABELS": "0",
        "HOOKLINE_METRICS_TOKEN": "scrape-me-0123456789",
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.database_url == "postgresql://hookline@db.internal/hookline"
    assert settings.is_postgres
    assert (settings.host, settings.port) == ("192.0.2.10", 9000)
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == "k" * 32
    assert settings.allow_networks == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("fd00::/8"),
    )
    assert settings.resolve == {
        "hooks.test": ipaddress.ip_address("127.0.0.1"),
        "v6.test": ipaddress.ip_address("::1"),
    }
    assert settings.ca_bundle == bundle
    assert settings.dev is True
    assert settings.retry_schedule == (0.0, 1.5, 10.0)
    assert settings.history_days == 14
    assert settings.max_webhooks_per_tenant == 250
    assert settings.max_webhooks_per_user == 20
    assert settings.user_agent == "Qlik Webhook"
    assert settings.log_format == "console"
    assert settings.attempt_log == "all"
    assert settings.metrics_port == 9100
    assert settings.metrics_tenant_labels == 0
    assert settings.metrics_token is not None
    assert settings.metrics_token.get_secret_value() == "scrape-me-0123456789"
    assert "scrape-me" not in repr(settings)


def test_overrides_take_precedence_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKLINE_PORT", "9000")
    monkeypatch.setenv("HOOKLINE_HOST", "192.0.2.10")
    settings = load_settings(port=9100, host=None)
    assert settings.port == 9100
    assert settings.host == "192.0.2.10"  # a flag left as None does not override


def test_unrelated_hookline_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKLINE_TEST_POSTGRES_URL", "postgresql://x@y/z")
    assert load_settings().database_url == "sqlite:///./hookline.db"


def test_secret_key_is_not_shown_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKLINE_SECRET_KEY", "super-secret-key-material-0123456789")
    settings = load_settings()
    assert "super-secret" not in repr(settings)
    assert "super-secret" not in str(settings)


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("0", False)])
def test_dev_switch_reads_common_boolean_spellings(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: bool
) -> None:
    monkeypatch.setenv("HOOKLINE_DEV", value)
    assert load_settings().dev is expected


def test_resolve_lower_cases_hosts_and_drops_trailing_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKLINE_RESOLVE", "Hooks.Example.COM.:10.0.0.5")
    assert load_settings().resolve == {"hooks.example.com": ipaddress.ip_address("10.0.0.5")}


def test_allow_networks_accepts_host_bits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKLINE_ALLOW_NETWORKS", "192.168.1.7/24,127.0.0.1")
    assert load_settings().allow_networks == (
        ipaddress.ip_network("192.168.1.0/24"),
        ipaddress.ip_network("127.0.0.1/32"),
    )


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///relative.db",
        "sqlite:////absolute/path.db",
        "postgresql://user:pw@host:5432/db",
        "postgres://user@host/db",
        "postgresql+asyncpg://user@host/db",
    ],
)
def test_supported_database_urls_are_accepted(url: str) -> None:
    assert load_settings(database_url=url).database_url == url


def test_sqlite_path_is_taken_from_the_url() -> None:
    assert load_settings(database_url="sqlite:////var/lib/h.db").sqlite_path == Path(
        "/var/lib/h.db"
    )
    assert load_settings(database_url="sqlite:///data/h.db").sqlite_path == Path("data/h.db")


# -- invalid values ------------------------------------------------------------------------


def test_mysql_database_url_is_refused_with_password_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    message = env_config_error(
        monkeypatch, "HOOKLINE_DATABASE_URL", "mysql://bob:hunter2@db.internal/hooks"
    )
    assert message.startswith("invalid HOOKLINE_DATABASE_URL: ")
    assert "unsupported database URL" in message
    assert "hunter2" not in message
    assert "mysql://bob:***@db.internal/hooks" in message


@pytest.mark.parametrize(
    "url",
    [
        "mysql://db/hooks",
        "oracle://bob:hunter2@db/x",
        "sqlite://relative.db",
        "sqlite://bob:hunter2@host/x.db",
        "sqlite+aiosqlite:///x.db",
        "hookline.db",
        "",
    ],
)
def test_unsupported_database_url_is_refused_without_its_password(url: str) -> None:
    message = config_error(database_url=url)
    assert message.startswith("invalid HOOKLINE_DATABASE_URL: unsupported database URL")
    assert "hunter2" not in message


def test_password_with_at_sign_is_masked() -> None:
    message = config_error(database_url="mysql://bob:p@ss:w0rd@db/x")
    assert "p@ss" not in message
    assert "w0rd" not in message


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("HOOKLINE_PORT", "http", "HOOKLINE_PORT"),
        ("HOOKLINE_PORT", "70000", "HOOKLINE_PORT"),
        ("HOOKLINE_PORT", "-1", "HOOKLINE_PORT"),
        ("HOOKLINE_HISTORY_DAYS", "0", "HOOKLINE_HISTORY_DAYS"),
        ("HOOKLINE_MAX_WEBHOOKS_PER_TENANT", "0", "HOOKLINE_MAX_WEBHOOKS_PER_TENANT"),
        ("HOOKLINE_MAX_WEBHOOKS_PER_USER", "many", "HOOKLINE_MAX_WEBHOOKS_PER_USER"),
        ("HOOKLINE_DEV", "maybe", "HOOKLINE_DEV"),
        ("HOOKLINE_RETRY_SCHEDULE", "0,5,-1", "delays must be >= 0 seconds"),
        ("HOOKLINE_RETRY_SCHEDULE", "", "needs at least one delay"),
        ("HOOKLINE_RETRY_SCHEDULE", " , ", "needs at least one delay"),
        ("HOOKLINE_RETRY_SCHEDULE", "0,soon", "HOOKLINE_RETRY_SCHEDULE"),
        ("HOOKLINE_ALLOW_NETWORKS", "10.0.0.0/8,intranet", "intranet"),
        ("HOOKLINE_ALLOW_NETWORKS", "10.0.0.0/33", "HOOKLINE_ALLOW_NETWORKS"),
        ("HOOKLINE_RESOLVE", "hooks.test", "'hooks.test' is not host:address"),
        ("HOOKLINE_RESOLVE", ":127.0.0.1", "is not host:address"),
        ("HOOKLINE_RESOLVE", "hooks.test:not-an-ip", "HOOKLINE_RESOLVE"),
        ("HOOKLINE_CA_BUNDLE", "/nonexistent/ca.pem", "no such file: /nonexistent/ca.pem"),
        ("HOOKLINE_CATALOG_FILE", "/nonexistent/c.json", "no such file"),
        ("HOOKLINE_LOG_FORMAT", "xml", "'json' or 'console'"),
        ("HOOKLINE_ATTEMPT_LOG", "some", "'failures', 'all' or 'none'"),
        ("HOOKLINE_METRICS_PORT", "65536", "HOOKLINE_METRICS_PORT"),
        ("HOOKLINE_METRICS_TENANT_LABELS", "-1", "HOOKLINE_METRICS_TENANT_LABELS"),
        ("HOOKLINE_METRICS_TOKEN", "two words", "printable ASCII without spaces"),
        ("HOOKLINE_METRICS_TOKEN", "jeton-é", "printable ASCII without spaces"),
        ("HOOKLINE_RATE_LIMIT", "-1", "HOOKLINE_RATE_LIMIT"),
        ("HOOKLINE_RATE_LIMIT", "inf", "HOOKLINE_RATE_LIMIT"),
        ("HOOKLINE_RATE_BURST", "0", "HOOKLINE_RATE_BURST"),
        ("HOOKLINE_DB_POOL_SIZE", "0", "HOOKLINE_DB_POOL_SIZE"),
        ("HOOKLINE_DB_MAX_OVERFLOW", "-1", "HOOKLINE_DB_MAX_OVERFLOW"),
        ("HOOKLINE_PUBLIC_URL", "hooks.example.com", "not an absolute http:// or https:// URL"),
        ("HOOKLINE_PUBLIC_URL", "ftp://hooks.example.com", "not an absolute http://"),
        ("HOOKLINE_PUBLIC_URL", "https:///in", "not an absolute http://"),
        ("HOOKLINE_PUBLIC_URL", "https://hooks.example.com/?a=1", "not have a query or a fragment"),
        ("HOOKLINE_PUBLIC_URL", "https://hooks.example.com/#top", "not have a query or a fragment"),
        ("HOOKLINE_PUBLIC_URL", "https://hooks.example.com?", "not have a query or a fragment"),
        ("HOOKLINE_PUBLIC_URL", "https://hooks.example.com/hookline", "must not have a path"),
        ("HOOKLINE_PUBLIC_URL", "https://me:pw@hooks.example.com", "user name or password"),
        ("HOOKLINE_PUBLIC_URL", "https://hooks.example.com:70000", "HOOKLINE_PUBLIC_URL"),
    ],
)
def test_invalid_variable_gives_one_line_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    message = env_config_error(monkeypatch, name, value)
    assert message.startswith(f"invalid {name}: ")
    assert fragment in message
    assert "Value error, " not in message


@pytest.mark.parametrize(
    ("value", "public_url"),
    [
        ("https://hooks.example.com", "https://hooks.example.com"),
        ("https://hooks.example.com/", "https://hooks.example.com"),
        ("HTTPS://Hooks.Example.COM/", "https://hooks.example.com"),
        ("https://hooks.example.com:443/", "https://hooks.example.com"),
        ("http://10.0.0.7:8000", "http://10.0.0.7:8000"),
        ("https://bücher.example", "https://xn--bcher-kva.example"),
        ("", None),
    ],
)
def test_the_public_url_is_an_origin_without_trailing_slash(
    monkeypatch: pytest.MonkeyPatch, value: str, public_url: str | None
) -> None:
    monkeypatch.setenv("HOOKLINE_PUBLIC_URL", value)
    assert load_settings().public_url == public_url


def test_directory_is_not_a_ca_bundle(tmp_path: Path) -> None:
    assert config_error(ca_bundle=tmp_path).startswith("invalid HOOKLINE_CA_BUNDLE: no such file")


def test_unknown_override_is_refused() -> None:
    assert config_error(colour="blue").startswith("invalid HOOKLINE_COLOUR: ")


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(Exception, match="frozen"):
        settings.port = 1  # type: ignore[misc]
    assert isinstance(settings, Settings)


# -- naming what was given -----------------------------------------------------------------


def test_a_bad_flag_is_named_as_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"port": 70000, "host": None})
    assert str(caught.value) == "invalid --port: must be less than or equal to 65535"
    with pytest.raises(ConfigError) as caught:
        load_settings({"max_webhooks_per_tenant": 0})
    assert str(caught.value) == (
        "invalid --max-webhooks-per-tenant: must be greater than or equal to 1"
    )

    monkeypatch.setenv("HOOKLINE_PORT", "70000")
    assert config_error() == "invalid HOOKLINE_PORT: must be less than or equal to 65535"
    assert load_settings({"port": 8001}).port == 8001  # the flag wins over the variable
    with pytest.raises(ConfigError) as caught:
        load_settings({"host": "localhost"})
    assert str(caught.value).startswith("invalid HOOKLINE_PORT: ")


def test_a_short_secret_key_is_refused_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"secret_key": "k" * 40 + ",short"})
    assert str(caught.value).startswith("invalid --secret-key: each key must be at least 32")
    assert "short" not in str(caught.value).removeprefix("invalid --secret-key: each key")


def test_a_rule_across_settings_names_no_single_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKLINE_LEASE_SECONDS", "3")
    assert config_error().startswith(
        "invalid settings: HOOKLINE_LEASE_SECONDS must be longer than an attempt can take"
    )
