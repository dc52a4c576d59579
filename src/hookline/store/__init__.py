"""Storage: one interface (``Store``), a SQLite and a PostgreSQL implementation."""

from __future__ import annotations

from hookline.settings import Settings
from hookline.store.base import ApiKey, Caps, Store, Tenant, WebhookQuery


def open_store(settings: Settings) -> Store:
    if settings.is_postgres:
        from hookline.store.postgres import PostgresStore

        return PostgresStore(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
    from hookline.store.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)


__all__ = ["ApiKey", "Caps", "Store", "Tenant", "WebhookQuery", "open_store"]
