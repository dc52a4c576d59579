"""What a new user meets in the first hour (issue 14, items 1-7), run as they would run it:
the ``hookline`` command and the Makefile, as subprocesses."""

from __future__ import annotations

import uuid

import pytest

from tests.cli.test_cli import hookline
from tests.databases import POSTGRES_ADMIN_URL, TEST_SECRET_KEY, postgres_missing

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
