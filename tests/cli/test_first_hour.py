"""What a new user meets in the first hour (issue 14, items 1-7), run as they would run it:
the ``hookline`` command and the Makefile, as subprocesses."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import pytest

from hookline import accounts
from hookline.auth import Role
from hookline.services import Services
from hookline.settings import load_settings
from hookline.webhooks import NewWebhook
from tests.cli.test_cli import hookline
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
