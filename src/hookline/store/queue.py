"""The delivery queue: events in, deliveries claimed with leases, outcomes recorded in
batches, history read and purged. Deliveries and attempts are rows; the row is the retry."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hookline.deliveries import (
    Attempt,
    Claimed,
    Delivery,
    Disable,
    FailurePolicy,
    NewDelivery,
    QueueStats,
    Result,
)
from hookline.events import Event, webhook_disabled
from hookline.paging import Page
from hookline.store.base import DeliveryQuery, Planner, Purged
from hookline.store.keyset import read_page
from hookline.store.schema import (
    deliveries,
    delivery_attempts,
    events,
    webhook_event_types,
    webhooks,
)
from hookline.store.sql_base import SqlBase
from hookline.store.webhook_rows import with_event_types
from hookline.webhooks import Webhook

_DELIVERY_SORT_COLUMNS = {"status": deliveries.c.status, "triggeredAt": deliveries.c.triggered_at}


class DeliveryQueue(SqlBase):
    async def publish(self, tenant_id: str, batch: list[Event], plan: Planner) -> list[Event]:
        """Store the events not seen before in the tenant and, in the same transaction,
        what ``plan`` makes of them; return the new events."""
        new = await self._write(lambda conn: self._publish_in(conn, tenant_id, batch, plan))
        if new:
            self._work_arrived()
        return new

    def _publish_in(
        self, conn: sa.Connection, tenant_id: str, batch: list[Event], plan: Planner
    ) -> list[Event]:
        new = self._insert_new_events(conn, tenant_id, batch)
        if new:
            candidates = _subscribed(conn, tenant_id, {event.type for event in new})
            planned = plan(new, candidates)
            self._insert_deliveries(conn, planned.deliveries)
            if planned.deliveries:
                self._announce_work(conn)
            owned = _owned(conn, tenant_id, planned.deleted_owners)
            self._disable(conn, owned, plan)
        return new

    def _insert_new_events(
        self, conn: sa.Connection, tenant_id: str, batch: list[Event]
    ) -> list[Event]:
        first: dict[str, Event] = {}
        for event in batch:
            first.setdefault(event.id, event)
        unique = list(first.values())
        received = self._now()
        statement = (
            self._insert(events)
            .on_conflict_do_nothing(index_elements=["tenant_id", "id"])
            .returning(events.c.id)
        )
        rows = [
            {"tenant_id": tenant_id, "id": event.id, "type": event.type, "received_at": received}
            for event in unique
        ]
        inserted = {row.id for row in conn.execute(statement, rows)}
        return [event for event in unique if event.id in inserted]

    def _disable(self, conn: sa.Connection, disables: Iterable[Disable], plan: Planner) -> int:
        """Disable webhooks still enabled, each raising its ``hookline.webhook.disabled``
        event in the same transaction; return how many were disabled."""
        disabled = 0
        for disable in disables:
            at = self._now()
            row = conn.execute(
                webhooks.update()
                .where(webhooks.c.id == disable.webhook_id, webhooks.c.enabled.is_(True))
                .values(
                    enabled=False,
                    disabled_reason=disable.reason,
                    disabled_reason_code=disable.code,
                    updated_at=at,
                )
                .returning(
                    webhooks.c.tenant_id, webhooks.c.owner_id, webhooks.c.name, webhooks.c.url
                )
            ).first()
            if row is None:
                continue
            disabled += 1
            event = webhook_disabled(
                tenant_id=row.tenant_id,
                webhook_id=disable.webhook_id,
                owner_id=row.owner_id,
                name=row.name,
                url=row.url,
                code=disable.code,
                reason=disable.reason,
                at=at,
            )
            self._publish_in(conn, row.tenant_id, [event], plan)
        return disabled

    # Workers ---------------------------------------------------------------------------

    async def claim(
        self, *, owner: str, limit: int, lease_seconds: float, exclude: Collection[str]
    ) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries, oldest due first, skipping the webhooks in
        ``exclude`` and rows another worker holds."""
        now = self._now()
        lease = Lease(owner, now, now + timedelta(seconds=lease_seconds), limit, list(exclude))

        def work(conn: sa.Connection) -> list[Claimed]:
            leased = self._lease(conn, lease)
            if not leased:
                return []
            targets = {
                row.id: row
                for row in conn.execute(
                    _CLAIMED_WEBHOOK.where(webhooks.c.id.in_({row.webhook_id for row in leased}))
                )
            }
            return [_claimed(row, targets[row.webhook_id]) for row in leased]

        return await self._write(work)

    def _lease(self, conn: sa.Connection, lease: Lease) -> list[Leased]:
        """Lease the due deliveries ``lease`` asks for, longest due first."""
        due = (
            sa.select(deliveries.c.id, deliveries.c.next_attempt_at)
            .where(deliveries.c.next_attempt_at <= lease.now)
            .order_by(deliveries.c.next_attempt_at)
            .limit(lease.limit)
            .with_for_update(skip_locked=True)
        )
        if lease.exclude:
            due = due.where(deliveries.c.webhook_id.not_in(lease.exclude))
        due_at = dict(conn.execute(due).all())
        if not due_at:
            return []
        leased = conn.execute(
            deliveries.update()
            .where(deliveries.c.id.in_(due_at))
            .values(lease_until=lease.until, lease_owner=lease.owner, next_attempt_at=lease.until)
            .returning(*(deliveries.c[name] for name in Leased._fields))
        )
        return sorted((Leased(*row) for row in leased), key=lambda row: due_at[row.id])

    async def record(self, results: list[Result], failures: FailurePolicy, plan: Planner) -> None:
        """Record attempt outcomes in one transaction; a delivery deleted meanwhile (its
        webhook was deleted) is skipped. Webhooks are disabled as the results say, or when
        their deliveries keep failing."""
        if not results:
            return

        def work(conn: sa.Connection) -> int:
            live = set(
                conn.execute(
                    # Locked, so a webhook deleted meanwhile cannot take them away before
                    # the attempts are written.
                    sa.select(deliveries.c.id)
                    .where(deliveries.c.id.in_([result.delivery_id for result in results]))
                    .with_for_update()
                ).scalars()
            )
            kept = [result for result in results if result.delivery_id in live]
            if not kept:
                return 0
            self._write_outcomes(conn, kept, self._now())
            gone = [result.disable for result in kept if result.disable is not None]
            failing = {result.webhook_id for result in kept if result.final_failure}
            gone += self._keep_failing(conn, failing, failures)
            return self._disable(conn, gone, plan)

        if await self._write(work):
            self._work_arrived()

    def _write_outcomes(self, conn: sa.Connection, results: list[Result], at: datetime) -> None:
        """Update the deliveries and add their attempts (the deliveries exist)."""
        conn.execute(_RECORD_OUTCOME, [_outcome_row(result, at) for result in results])
        conn.execute(
            self._insert(delivery_attempts).on_conflict_do_nothing(),
            [_attempt_row(result) for result in results],
        )

    def _insert_deliveries(self, conn: sa.Connection, planned: Sequence[NewDelivery]) -> None:
        rows = [
            {
                "id": new.id,
                "tenant_id": new.tenant_id,
                "webhook_id": new.webhook_id,
                "event_id": new.event_id,
                "event_type": new.event_type,
                "triggered_at": new.triggered_at,
                "status": "pending",
                "status_message": "",
                "body": new.body,
                "attempt_count": 0,
                "next_attempt_at": new.next_attempt_at,
            }
            for new in planned
        ]
        if rows:
            conn.execute(deliveries.insert(), rows)

    def _keep_failing(
        self, conn: sa.Connection, webhook_ids: Iterable[str], policy: FailurePolicy
    ) -> list[Disable]:
        since = self._now() - timedelta(seconds=policy.window_seconds)
        ended = deliveries.c.ended_at >= since
        found = []
        for webhook_id in webhook_ids:
            result = conn.execute(
                sa.select(deliveries.c.status, sa.func.count())
                .where(deliveries.c.webhook_id == webhook_id, ended)
                .group_by(deliveries.c.status)
            )
            counts: dict[str, int] = dict(result.all())
            if counts.get("success", 0) == 0 and counts.get("fail", 0) >= policy.threshold:
                reason = (
                    f"every delivery of the last {policy.window_seconds / 3600:g} h failed "
                    f"after all retries ({counts['fail']} deliveries)"
                )
                found.append(Disable(webhook_id, "delivery-failures", reason))
        return found

    async def add_delivery(self, new: NewDelivery, *, owner: str, lease_seconds: float) -> None:
        """Store a delivery already leased to ``owner``, who sends it now (a resend)."""
        until = self._now() + timedelta(seconds=lease_seconds)
        lease = (
            deliveries.update()
            .where(deliveries.c.id == new.id)
            .values(lease_owner=owner, lease_until=until, next_attempt_at=until)
        )

        def work(conn: sa.Connection) -> None:
            self._insert_deliveries(conn, [new])
            conn.execute(lease)

        await self._write(work)

    async def queue_stats(self) -> QueueStats:
        due = deliveries.c.next_attempt_at
        async with self._reading() as conn:
            pending, oldest = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(due)).where(due.is_not(None))
                )
            ).one()
            disabled = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(webhooks)
                    .where(webhooks.c.enabled.is_(False))
                )
            ).scalar_one()
        return QueueStats(int(pending), _aware(oldest), int(disabled))

    # History ---------------------------------------------------------------------------

    async def get_delivery(
        self, tenant_id: str, webhook_id: str, delivery_id: str
    ) -> Delivery | None:
        query = sa.select(deliveries).where(
            deliveries.c.tenant_id == tenant_id,
            deliveries.c.webhook_id == webhook_id,
            deliveries.c.id == delivery_id,
        )
        async with self._reading() as conn:
            found = await _with_attempts(conn, (await conn.execute(query)).all())
        return found[0] if found else None

    async def list_deliveries(self, query: DeliveryQuery) -> Page[Delivery]:
        sort_value = _DELIVERY_SORT_COLUMNS[query.sort.key]
        statement = sa.select(deliveries, sort_value.label("sort_value")).where(
            deliveries.c.tenant_id == query.tenant_id,
            deliveries.c.webhook_id == query.webhook_id,
        )
        if query.event_type is not None:
            statement = statement.where(deliveries.c.event_type == query.event_type)
        if query.status is not None:
            statement = statement.where(deliveries.c.status == query.status)
        async with self._reading() as conn:
            window = await read_page(
                conn,
                statement,
                sort_value=sort_value,
                row_id=deliveries.c.id,
                sort=query.sort,
                cursor=query.cursor,
                limit=query.limit,
            )
            items = await _with_attempts(conn, window.rows)
        return Page(items, window.next, window.prev)

    async def purge(self, before: datetime, batch: int) -> Purged:
        """Delete up to ``batch`` deliveries triggered before ``before``, and up to ``batch``
        events received before it (which ends their de-duplication)."""

        def work(conn: sa.Connection) -> Purged:
            old = sa.select(deliveries.c.id).where(deliveries.c.triggered_at < before).limit(batch)
            ids = list(conn.execute(old).scalars())
            if ids:
                conn.execute(
                    delivery_attempts.delete().where(delivery_attempts.c.delivery_id.in_(ids))
                )
                conn.execute(deliveries.delete().where(deliveries.c.id.in_(ids)))
            old_events = sa.select(events.c.tenant_id, events.c.id).where(
                events.c.received_at < before
            )
            gone = conn.execute(
                events.delete().where(
                    sa.tuple_(events.c.tenant_id, events.c.id).in_(old_events.limit(batch))
                )
            )
            return Purged(deliveries=len(ids), events=gone.rowcount)

        return await self._write(work)


class Lease(NamedTuple):
    owner: str
    now: datetime
    until: datetime
    limit: int
    exclude: list[str]


class Leased(NamedTuple):
    """A delivery just leased, as the lease statement returns it."""

    id: str
    tenant_id: str
    webhook_id: str
    event_id: str
    triggered_at: datetime
    body: str
    attempt_count: int


_CLAIMED_WEBHOOK = sa.select(
    webhooks.c.id,
    webhooks.c.enabled,
    webhooks.c.url,
    webhooks.c.headers,
    webhooks.c.sealed_secret,
    webhooks.c.sealed_encrypted_headers,
    webhooks.c.encrypted_header_names,
)


def _claimed(delivery: Leased, webhook: Any) -> Claimed:
    return Claimed(
        delivery_id=delivery.id,
        tenant_id=delivery.tenant_id,
        webhook_id=delivery.webhook_id,
        event_id=delivery.event_id,
        triggered_at=delivery.triggered_at,
        body=delivery.body,
        attempt_count=delivery.attempt_count,
        webhook_enabled=webhook.enabled,
        url=webhook.url,
        headers=dict(webhook.headers),
        sealed_secret=webhook.sealed_secret,
        sealed_encrypted_headers=webhook.sealed_encrypted_headers,
        encrypted_header_names=tuple(webhook.encrypted_header_names),
    )


_RECORD_OUTCOME = (
    deliveries.update()
    .where(deliveries.c.id == sa.bindparam("delivery_id"))
    .values(
        status=sa.bindparam("status"),
        status_message=sa.bindparam("status_message"),
        attempt_count=sa.bindparam("attempt_count"),
        next_attempt_at=sa.bindparam("next_attempt_at"),
        ended_at=sa.bindparam("ended_at"),
        lease_until=None,
        lease_owner=None,
        request_url=sa.bindparam("request_url"),
        request_headers=sa.bindparam("request_headers"),
        response_status=sa.bindparam("response_status"),
        response_headers=sa.bindparam("response_headers"),
        response_body=sa.bindparam("response_body"),
    )
)


def _outcome_row(result: Result, at: datetime) -> dict[str, Any]:
    return {
        "delivery_id": result.delivery_id,
        "status": result.status,
        "status_message": result.status_message,
        "attempt_count": result.attempt.number,
        "next_attempt_at": result.next_attempt_at,
        "ended_at": at if result.next_attempt_at is None else None,
        "request_url": result.request_url,
        "request_headers": result.request_headers,
        "response_status": result.response_status,
        "response_headers": result.response_headers,
        "response_body": result.response_body,
    }


def _attempt_row(result: Result) -> dict[str, Any]:
    attempt = result.attempt
    return {
        "delivery_id": result.delivery_id,
        "number": attempt.number,
        "started_at": attempt.started_at,
        "duration_ms": attempt.duration_ms,
        "status_code": attempt.status_code,
        "error": attempt.error,
    }


async def _with_attempts(conn: AsyncConnection, rows: Iterable[Any]) -> list[Delivery]:
    rows = list(rows)
    attempts: dict[str, list[Attempt]] = {row.id: [] for row in rows}
    if rows:
        found = await conn.execute(
            sa.select(delivery_attempts)
            .where(delivery_attempts.c.delivery_id.in_(list(attempts)))
            .order_by(delivery_attempts.c.number)
        )
        for a in found:
            attempts[a.delivery_id].append(
                Attempt(a.number, a.started_at, a.duration_ms, a.status_code, a.error)
            )
    return [_delivery(row, attempts[row.id]) for row in rows]


_DELIVERY_COLUMNS = [
    field.name for field in dataclasses.fields(Delivery) if field.name != "attempts"
]


def _delivery(row: Any, attempts: list[Attempt]) -> Delivery:
    return Delivery(
        **{name: row._mapping[name] for name in _DELIVERY_COLUMNS}, attempts=tuple(attempts)
    )


def _aware(moment: datetime | str | None) -> datetime | None:
    """An aggregate loses the column's type: SQLite answers text, naive, in UTC."""
    if moment is None:
        return None
    parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _subscribed(conn: sa.Connection, tenant_id: str, types: Collection[str]) -> list[Webhook]:
    subscribed = (
        sa.select(webhooks)
        .where(
            webhooks.c.tenant_id == tenant_id,
            webhooks.c.enabled.is_(True),
            webhooks.c.id.in_(
                sa.select(webhook_event_types.c.webhook_id).where(
                    webhook_event_types.c.tenant_id == tenant_id,
                    webhook_event_types.c.event_type.in_(types),
                )
            ),
        )
        .order_by(webhooks.c.id)
    )
    return with_event_types(conn, conn.execute(subscribed).all())


def _owned(conn: sa.Connection, tenant_id: str, owners: Collection[str]) -> list[Disable]:
    if not owners:
        return []
    owned = sa.select(webhooks.c.id, webhooks.c.owner_id).where(
        webhooks.c.tenant_id == tenant_id,
        webhooks.c.level == "user",
        webhooks.c.owner_id.in_(owners),
    )
    return [
        Disable(row.id, "owner-deleted", f"its owner {row.owner_id} was deleted")
        for row in conn.execute(owned)
    ]
