"""Tenants, users, API keys and webhooks on SQLAlchemy Core, for SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from hookline.auth import Principal, Role
from hookline.clock import now
from hookline.errors import InvalidInput, LimitReached
from hookline.paging import Page, Sort
from hookline.store.base import ApiKey, Caps, Tenant, WebhookQuery
from hookline.store.keyset import read_page
from hookline.store.schema import (
    api_keys,
    deliveries,
    delivery_attempts,
    tenants,
    users,
    webhook_event_types,
    webhooks,
)
from hookline.store.sql_base import Priority
from hookline.store.stats import EndpointStatsQueries
from hookline.store.tasks import TaskQueries
from hookline.store.webhook_rows import webhook_row, with_event_types
from hookline.webhooks import Webhook

# Built once: every API request authenticates, and most read one webhook (building a
# statement costs more than looking its compiled form up).
_PRINCIPAL = sa.select(api_keys).where(
    api_keys.c.digest == sa.bindparam("digest"), api_keys.c.revoked_at.is_(None)
)
_ONE_WEBHOOK = sa.select(webhooks).where(
    webhooks.c.tenant_id == sa.bindparam("tenant_id"), webhooks.c.id == sa.bindparam("id")
)

_SORT_COLUMNS = {
    "name": webhooks.c.name,
    "url": webhooks.c.url,
    "createdAt": webhooks.c.created_at,
    "updatedAt": webhooks.c.updated_at,
}


class SqlStore(TaskQueries, EndpointStatsQueries):
    # Tenants, users and keys -----------------------------------------------------------

    async def create_tenant(self, name: str) -> Tenant:
        tenant = Tenant(str(uuid.uuid4()), name, now())
        insert = tenants.insert().values(id=tenant.id, name=name, created_at=tenant.created_at)
        try:
            await self._write(lambda conn: conn.execute(insert))
        except exc.IntegrityError:
            raise InvalidInput.one("/name", f"a tenant named {name!r} exists already") from None
        return tenant

    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        return await self._one_tenant(tenants.c.id == tenant_id)

    async def find_tenant(self, name: str) -> Tenant | None:
        return await self._one_tenant(tenants.c.name == name)

    async def _one_tenant(self, where: sa.ColumnElement[bool]) -> Tenant | None:
        row = await self._read(lambda conn: conn.execute(sa.select(tenants).where(where)).first())
        return Tenant(row.id, row.name, row.created_at) if row else None

    async def list_tenants(self) -> list[Tenant]:
        rows = await self._read(
            lambda conn: conn.execute(sa.select(tenants).order_by(tenants.c.name)).all()
        )
        return [Tenant(row.id, row.name, row.created_at) for row in rows]

    async def ensure_user(self, tenant_id: str, user_id: str) -> None:
        def work(conn: sa.Connection) -> None:
            if conn.execute(_user(tenant_id, user_id)).first() is None:
                conn.execute(
                    users.insert().values(tenant_id=tenant_id, id=user_id, created_at=now())
                )

        await self._write(work)

    async def user_exists(self, tenant_id: str, user_id: str) -> bool:
        return await self._read(
            lambda conn: conn.execute(_user(tenant_id, user_id)).first() is not None
        )

    async def add_api_key(self, key: ApiKey) -> None:
        insert = api_keys.insert().values(
            id=key.id,
            digest=key.digest,
            role=key.role.value,
            tenant_id=key.tenant_id,
            user_id=key.user_id,
            created_at=key.created_at,
        )
        await self._write(lambda conn: conn.execute(insert))

    async def find_principal(self, digest: str) -> Principal | None:
        row = await self._read(lambda conn: conn.execute(_PRINCIPAL, {"digest": digest}).first())
        return Principal(row.id, Role(row.role), row.tenant_id, row.user_id) if row else None

    async def list_api_keys(self, tenant_id: str | None) -> list[ApiKey]:
        query = sa.select(api_keys).order_by(api_keys.c.created_at)
        if tenant_id is not None:
            query = query.where(api_keys.c.tenant_id == tenant_id)
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [
            ApiKey(r.id, r.digest, Role(r.role), r.tenant_id, r.user_id, r.created_at, r.revoked_at)
            for r in rows
        ]

    async def revoke_api_key(self, key_id: str) -> bool:
        update = (
            api_keys.update()
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now())
        )
        return await self._write(lambda conn: conn.execute(update).rowcount > 0)

    async def has_api_keys(self) -> bool:
        query = sa.select(api_keys.c.id).limit(1)
        return await self._read(lambda conn: conn.execute(query).first() is not None)

    # Webhooks ----------------------------------------------------------------------------

    async def insert_webhook(self, webhook: Webhook, caps: Caps) -> None:
        def work(conn: sa.Connection) -> None:
            self._lock_tenant(conn, webhook.tenant_id)
            _check_caps(conn, webhook, caps)
            conn.execute(webhooks.insert().values(**webhook_row(webhook)))
            _insert_event_types(conn, webhook)

        await self._write(work)

    async def get_webhook(self, tenant_id: str, webhook_id: str) -> Webhook | None:
        found = await self._read(
            lambda conn: with_event_types(
                conn, conn.execute(_ONE_WEBHOOK, {"tenant_id": tenant_id, "id": webhook_id}).all()
            )
        )
        return found[0] if found else None

    async def update_webhook(self, webhook: Webhook) -> bool:
        """Replace a webhook; a change of ordering applies to its queued deliveries too."""

        def work(conn: sa.Connection) -> bool:
            ordering = conn.execute(
                sa.select(webhooks.c.ordering)
                .where(webhooks.c.tenant_id == webhook.tenant_id, webhooks.c.id == webhook.id)
                .with_for_update()
            ).scalar()
            if ordering is None:
                return False
            conn.execute(
                webhooks.update().where(webhooks.c.id == webhook.id).values(**webhook_row(webhook))
            )
            if ordering != webhook.ordering:
                self._reorder(conn, webhook)
            conn.execute(
                webhook_event_types.delete().where(webhook_event_types.c.webhook_id == webhook.id)
            )
            _insert_event_types(conn, webhook)
            return True

        return await self._write(work)

    async def delete_webhook(self, tenant_id: str, webhook_id: str) -> bool:
        def work(conn: sa.Connection) -> bool:
            # Its deliveries go with it (a foreign key), their attempts here.
            its_deliveries = sa.select(deliveries.c.id).where(
                deliveries.c.tenant_id == tenant_id, deliveries.c.webhook_id == webhook_id
            )
            conn.execute(
                delivery_attempts.delete().where(
                    delivery_attempts.c.delivery_id.in_(its_deliveries)
                )
            )
            conn.execute(
                webhook_event_types.delete().where(
                    webhook_event_types.c.tenant_id == tenant_id,
                    webhook_event_types.c.webhook_id == webhook_id,
                )
            )
            result = conn.execute(
                webhooks.delete().where(
                    webhooks.c.tenant_id == tenant_id, webhooks.c.id == webhook_id
                )
            )
            return result.rowcount > 0

        return await self._write(work)

    async def list_webhooks(self, query: WebhookQuery) -> Page[Webhook]:
        sort_value = self._sort_expression(query.sort)
        statement = sa.select(webhooks, sort_value.label("sort_value")).where(
            *self._webhook_filters(query)
        )

        def work(conn: sa.Connection) -> Page[Webhook]:
            window = read_page(
                conn,
                statement,
                sort_value=sort_value,
                row_id=webhooks.c.id,
                sort=query.sort,
                cursor=query.cursor,
                limit=query.limit,
            )
            return Page(with_event_types(conn, window.rows), window.next, window.prev)

        return await self._read(work)

    async def end_rotations(self, at: datetime) -> int:
        ended = (
            webhooks.update()
            .where(webhooks.c.secret_rotating_until <= at)
            .values(sealed_previous_secret=None, secret_rotating_until=None)
        )
        return await self._write(lambda conn: conn.execute(ended).rowcount, Priority.BULK)

    def _sort_expression(self, sort: Sort) -> sa.ColumnElement[Any]:
        column = _SORT_COLUMNS[sort.key]
        return self._text_sort_key(column) if sort.key in ("name", "url") else column

    @staticmethod
    def _webhook_filters(query: WebhookQuery) -> list[sa.ColumnElement[bool]]:
        c = webhooks.c
        where: list[sa.ColumnElement[bool]] = [c.tenant_id == query.tenant_id]
        if query.only_owned_by is not None:
            where += [c.level == "user", c.owner_id == query.only_owned_by]
        if query.name:
            where.append(_contains(c.name, query.name))
        if query.url:
            where.append(_contains(c.url, query.url))
        if query.enabled is not None:
            where.append(c.enabled == query.enabled)
        if query.level is not None:
            where.append(c.level == query.level)
        if query.origins:
            where.append(c.origin.in_(query.origins))
        for column, value in (
            (c.owner_id, query.owner_id),
            (c.created_by_user_id, query.created_by_user_id),
            (c.updated_by_user_id, query.updated_by_user_id),
        ):
            if value is not None:
                where.append(column == value)
        if query.event_types:
            where.append(c.id.in_(_subscribed_to_all(query.tenant_id, set(query.event_types))))
        return where


def _subscribed_to_all(tenant_id: str, names: set[str]) -> sa.Select[tuple[str]]:
    """The ids of the tenant's webhooks subscribed to every one of ``names``: one subquery
    whatever their number (a webhook has each type at most once, its primary key)."""
    t = webhook_event_types.c
    return (
        sa.select(t.webhook_id)
        .where(t.tenant_id == tenant_id, t.event_type.in_(sorted(names)))
        .group_by(t.webhook_id)
        .having(sa.func.count() == len(names))
    )


def _contains(column: sa.Column[Any], text: str) -> sa.ColumnElement[bool]:
    """Qlik's "wildcard and case insensitive" match: a value with ``*`` is a pattern over the
    whole column (``hook*`` starts with "hook", ``*o*`` holds an "o"); one without is a
    substring. ``%``, ``_`` and ``\\`` in the value match themselves."""
    pieces = [
        piece.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        for piece in text.lower().split("*")
    ]
    pattern = "%".join(pieces) if len(pieces) > 1 else f"%{pieces[0]}%"
    return sa.func.lower(column).like(pattern, escape="\\")


def _user(tenant_id: str, user_id: str) -> sa.Select[tuple[str]]:
    return sa.select(users.c.id).where(users.c.tenant_id == tenant_id, users.c.id == user_id)


def _check_caps(conn: sa.Connection, webhook: Webhook, caps: Caps) -> None:
    in_tenant = webhooks.c.tenant_id == webhook.tenant_id
    if _count(conn, in_tenant) >= caps.per_tenant:
        raise LimitReached(f"a tenant may have at most {caps.per_tenant} webhooks")
    if _count(conn, in_tenant, webhooks.c.owner_id == webhook.owner_id) >= caps.per_user:
        raise LimitReached(f"a user may own at most {caps.per_user} webhooks")


def _insert_event_types(conn: sa.Connection, webhook: Webhook) -> None:
    if not webhook.event_types:  # subscribed to nothing yet (eventTypes left out)
        return
    conn.execute(
        webhook_event_types.insert(),
        [
            {"webhook_id": webhook.id, "event_type": name, "tenant_id": webhook.tenant_id}
            for name in webhook.event_types
        ],
    )


def _count(conn: sa.Connection, *where: sa.ColumnElement[bool]) -> int:
    result = conn.execute(sa.select(sa.func.count()).select_from(webhooks).where(*where))
    return int(result.scalar_one())
