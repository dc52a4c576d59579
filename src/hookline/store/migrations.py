"""Schema migrations (Alembic), run on a connection the store already holds.

Importing Alembic (and Mako, which it brings) takes about a quarter of a second of CPU, so
a database already at the newest revision (every process but the first after an upgrade:
each CLI command, each worker) is recognised without it.
"""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from alembic.config import Config

# Any constant will do: it only has to be the same in every hookline process.
_MIGRATION_LOCK = 7_262_736
_SCRIPTS = resources.files("hookline.store") / "alembic"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["connection"] = connection
    return config


def newest_revision() -> str:
    """The head revision. Each revision is named after its file's four-digit prefix and
    follows the one numbered before it (tests/store/test_migrations.py holds them to it)."""
    return max(
        entry.name[:4]
        for entry in (_SCRIPTS / "versions").iterdir()
        if entry.name.endswith(".py") and entry.name[:4].isdigit()
    )


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database is at; None for a database hookline never migrated."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(connection: sa.Connection) -> None:
    """Bring the schema to the newest revision; concurrent callers wait for each other."""
    if current_revision(connection) == newest_revision():
        return
    from alembic import command

    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
    command.upgrade(alembic_config(connection), "head")
