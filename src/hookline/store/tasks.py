"""Recover tasks in storage (hookline.recover): made within their caps, claimed with leases
by the runners of every process in turns between tenants, and stepped: each step's
deliveries and the move of its task's cursor are one transaction, made only if the cursor
is still where the step started from.

A step reads a bounded batch: the next events of the window by the tenant's
(received_at, id) index, their deliveries to the webhook by the (webhook_id, event_id)
index, whatever the size of the window or of the tenant's history.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from hookline.errors import LimitReached, NotFound
from hookline.events import Event, from_record
from hookline.recover import Latest, Looked, Position, Step, Task, TaskCaps, Window
from hookline.store.queue import DeliveryQueue
from hookline.store.schema import deliveries, events, tasks, webhooks
from hookline.store.sql_base import TASKS, WORK, Priority


class TaskQueries(DeliveryQueue):
    async def create_task(self, task: Task, caps: TaskCaps) -> None:
        """Store a new task; LimitReached when its webhook or tenant has as many
        unfinished as the caps allow, NotFound when its webhook is gone."""

        def work(conn: sa.Connection) -> None:
            self._lock_tenant(conn, task.tenant_id)
            if _locked_ordering(conn, task.webhook_id) is None:
                raise NotFound(f"no webhook {task.webhook_id}")
            _check_caps(conn, task, caps)
            conn.execute(tasks.insert().values(**_row(task)))
            self._announce(conn, TASKS)

        await self._write(work)
        self._arrived(TASKS)

    async def get_task(self, tenant_id: str, webhook_id: str, task_id: str) -> Task | None:
        query = sa.select(tasks).where(
            tasks.c.tenant_id == tenant_id,
            tasks.c.webhook_id == webhook_id,
            tasks.c.id == task_id,
        )
        row = await self._read(lambda conn: conn.execute(query).first())
        return _task(row) if row else None

    async def list_tasks(self, tenant_id: str, webhook_id: str, limit: int) -> list[Task]:
        query = (
            sa.select(tasks)
            .where(tasks.c.tenant_id == tenant_id, tasks.c.webhook_id == webhook_id)
            .order_by(tasks.c.created_at.desc(), tasks.c.id.desc())
            .limit(limit)
        )
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [_task(row) for row in rows]

    async def wait_for_tasks(self, at_most: float) -> None:
        """Return when a task may have been made (here or, on PostgreSQL, anywhere), or
        after ``at_most`` seconds."""
        await self._wait_for(TASKS, at_most)

    async def claim_tasks(self, *, owner: str, limit: int, lease_seconds: float) -> list[Task]:
        """Lease up to ``limit`` unfinished tasks to ``owner``, one of each tenant (the one
        whose turn is longest past), longest first; locked on PostgreSQL so that one
        process at a time takes each."""
        now = self._now()
        claimable = _claimable(owner, now)

        def work(conn: sa.Connection) -> list[Task]:
            ranked = (
                sa.select(
                    tasks.c.id,
                    tasks.c.stepped_at,
                    sa.func.row_number()
                    .over(partition_by=tasks.c.tenant_id, order_by=(tasks.c.stepped_at, tasks.c.id))
                    .label("turn"),
                )
                .where(claimable)
                .subquery()
            )
            picks = (
                sa.select(tasks.c.id)
                .join(ranked, ranked.c.id == tasks.c.id)
                .where(ranked.c.turn == 1)
                .order_by(ranked.c.stepped_at)
                .limit(limit)
                .with_for_update(of=tasks, skip_locked=True)
            )
            ids = list(conn.execute(picks).scalars())
            if not ids:
                return []
            leased = conn.execute(
                tasks.update()
                .where(tasks.c.id.in_(ids), claimable)
                .values(
                    lease_owner=owner,
                    lease_until=now + timedelta(seconds=lease_seconds),
                    status="running",
                )
                .returning(*tasks.c)
            )
            return sorted((_task(row) for row in leased), key=lambda task: ids.index(task.id))

        return await self._write(work, Priority.BULK)

    async def count_window(self, task: Task) -> int:
        """How many events of the task's tenant were received in its window."""
        query = sa.select(sa.func.count()).where(
            events.c.tenant_id == task.tenant_id, *_within(task.window)
        )
        return int(await self._read(lambda conn: conn.execute(query).scalar_one()))

    async def look(self, task: Task, webhook_id: str, limit: int) -> list[Looked]:
        """The next ``limit`` events of the task's window after its cursor, each with its
        latest delivery to the webhook."""
        after = task.cursor
        query = (
            sa.select(events.c.id, events.c.type, events.c.received_at)
            .where(events.c.tenant_id == task.tenant_id, *_within(task.window))
            .order_by(events.c.received_at, events.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(*_past(after))

        def work(conn: sa.Connection) -> tuple[Sequence[Any], dict[str, Latest]]:
            found = conn.execute(query).all()
            return found, _latest(conn, webhook_id, [row.id for row in found])

        found, latest = await self._read(work)
        return [
            Looked(
                Position(row.received_at, row.id),
                row.type,
                latest=latest.get(row.id),
            )
            for row in found
        ]

    async def events_of(self, tenant_id: str, event_ids: Iterable[str]) -> list[Event]:
        """The tenant's events with these ids (those still stored)."""
        ids = list(event_ids)
        if not ids:
            return []
        query = sa.select(events.c.tenant_id, events.c.id, events.c.type, events.c.payload).where(
            events.c.tenant_id == tenant_id, events.c.id.in_(ids)
        )
        rows = await self._read(lambda conn: conn.execute(query).all())
        return [from_record(*row) for row in rows]

    async def backlog(self, webhook_id: str, at_most: int) -> int:
        """The webhook's deliveries with a due time (pending, retrying, in flight),
        counted up to ``at_most``."""
        due = (
            sa.select(deliveries.c.id)
            .where(deliveries.c.webhook_id == webhook_id, deliveries.c.next_attempt_at.is_not(None))
            .limit(at_most)
            .subquery()
        )
        counted = sa.select(sa.func.count()).select_from(due)
        return int(await self._read(lambda conn: conn.execute(counted).scalar_one()))

    async def step_task(self, step: Step, lease_seconds: float) -> bool:
        """Store the step's deliveries, due now, and move its task's cursor, in one
        transaction; only while ``step.owner`` holds the task and its cursor is still
        ``step.after``. False (nothing stored) otherwise, or when the webhook is gone."""
        now = self._now()

        def work(conn: sa.Connection) -> bool:
            # The webhook first, as its deletion takes it before its tasks.
            ordering = _locked_ordering(conn, step.webhook_id)
            if ordering is None:
                return False
            moved = conn.execute(
                tasks.update().where(*_held_at(step)).values(**_progress(step, now, lease_seconds))
            )
            if moved.rowcount != 1:
                return False
            made = step.deliveries
            if ordering == "fifo":  # last in the webhook's queue, in the window's order
                made = [
                    dataclasses.replace(new, fifo_position=at)
                    for new, at in zip(made, self._arrivals_from(now, len(made)), strict=True)
                ]
            self._insert_deliveries(conn, made)
            self._mark_due(
                conn, [(new.webhook_id, new.tenant_id, new.next_attempt_at) for new in made]
            )
            return True

        stepped = await self._write(work, Priority.BULK)
        if stepped and step.deliveries:
            self._arrived(WORK)
        return stepped

    async def purge_tasks(self, before: datetime, batch: int) -> int:
        """Delete up to ``batch`` tasks that finished before ``before``."""
        old = sa.select(tasks.c.id).where(tasks.c.finished_at < before).limit(batch)

        def work(conn: sa.Connection) -> int:
            return int(conn.execute(tasks.delete().where(tasks.c.id.in_(old))).rowcount)

        return await self._write(work, Priority.BULK)


def _locked_ordering(conn: sa.Connection, webhook_id: str) -> str | None:
    """The webhook's ordering if it exists, kept from deletion and from a change of
    ordering until the transaction ends."""
    return conn.execute(
        sa.select(webhooks.c.ordering).where(webhooks.c.id == webhook_id).with_for_update(read=True)
    ).scalar()


def _check_caps(conn: sa.Connection, task: Task, caps: TaskCaps) -> None:
    unfinished = conn.execute(
        sa.select(tasks.c.id, tasks.c.webhook_id).where(
            tasks.c.tenant_id == task.tenant_id, tasks.c.finished_at.is_(None)
        )
    ).all()
    same = [row.id for row in unfinished if row.webhook_id == task.webhook_id]
    if len(same) >= caps.per_webhook:
        raise LimitReached(
            f"webhook {task.webhook_id} has a recover queued or running already "
            f"(task {same[0]}): one at a time per webhook; wait for it to finish"
        )
    if len(unfinished) >= caps.per_tenant:
        raise LimitReached(
            f"the tenant has {len(unfinished)} recovers queued or running, the most allowed "
            "at once (HOOKLINE_MAX_RECOVERS_PER_TENANT); wait for one to finish"
        )


def _claimable(owner: str, now: datetime) -> sa.ColumnElement[bool]:
    """Unfinished, and leased to nobody, to ``owner``, or no longer (a runner died)."""
    return sa.and_(
        tasks.c.finished_at.is_(None),
        sa.or_(
            tasks.c.lease_until.is_(None),
            tasks.c.lease_until <= now,
            tasks.c.lease_owner == owner,
        ),
    )


def _within(chosen: Window) -> list[sa.ColumnElement[bool]]:
    """The window's events already fanned out (those still waiting are fan-out's to
    deliver), by their partial index."""
    return [
        events.c.fanout_at.is_(None),
        events.c.received_at >= chosen.since,
        events.c.received_at < chosen.until,
    ]


def _past(after: Position) -> list[sa.ColumnElement[bool]]:
    """Events after ``after`` in (received_at, id) order, as a range of the index."""
    at = events.c.received_at
    return [at >= after.received_at, sa.or_(at > after.received_at, events.c.id > after.event_id)]


def _latest(conn: sa.Connection, webhook_id: str, event_ids: list[str]) -> dict[str, Latest]:
    """Each event's latest delivery to the webhook (by trigger time, then id)."""
    if not event_ids:
        return {}
    rows = conn.execute(
        sa.select(
            deliveries.c.event_id,
            deliveries.c.triggered_at,
            deliveries.c.id,
            deliveries.c.status,
            deliveries.c.next_attempt_at,
            deliveries.c.trigger,
        )
        .where(deliveries.c.webhook_id == webhook_id, deliveries.c.event_id.in_(event_ids))
        .order_by(deliveries.c.triggered_at, deliveries.c.id)
    )
    return {
        row.event_id: Latest(row.status, row.next_attempt_at is None, row.trigger == "test")
        for row in rows
    }


def _held_at(step: Step) -> list[sa.ColumnElement[bool]]:
    """The step's task, still leased to its owner, unfinished, its cursor where the step
    started from."""
    where = [
        tasks.c.id == step.task_id,
        tasks.c.webhook_id == step.webhook_id,
        tasks.c.lease_owner == step.owner,
        tasks.c.finished_at.is_(None),
    ]
    if step.after is None:
        return [*where, tasks.c.cursor_id.is_(None)]
    return [
        *where,
        tasks.c.cursor_at == step.after.received_at,
        tasks.c.cursor_id == step.after.event_id,
    ]


def _progress(step: Step, now: datetime, lease_seconds: float) -> dict[str, Any]:
    finished = step.finished
    return {
        "cursor_at": step.to.received_at if step.to else None,
        "cursor_id": step.to.event_id if step.to else None,
        "done": tasks.c.done + step.looked,
        "recovered": tasks.c.recovered + len(step.deliveries),
        "total": step.total,
        "status": step.status,
        "error": step.error,
        "stepped_at": now,
        "finished_at": now if finished else None,
        "lease_owner": None if finished else step.owner,
        "lease_until": None if finished else now + timedelta(seconds=lease_seconds),
    }


def _row(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "tenant_id": task.tenant_id,
        "webhook_id": task.webhook_id,
        "type": task.type,
        "status": task.status,
        "only": task.only,
        "since": task.window.since,
        "until": task.window.until,
        "total": task.total,
        "done": task.done,
        "recovered": task.recovered,
        "created_at": task.created_at,
        "created_by_user_id": task.created_by_user_id,
        "stepped_at": task.created_at,
    }


def _task(row: Any) -> Task:
    return Task(
        id=row.id,
        tenant_id=row.tenant_id,
        webhook_id=row.webhook_id,
        only=row.only,
        window=Window(row.since, row.until),
        created_at=row.created_at,
        created_by_user_id=row.created_by_user_id,
        status=row.status,
        type=row.type,
        total=row.total,
        done=row.done,
        recovered=row.recovered,
        cursor=Position(row.cursor_at, row.cursor_id) if row.cursor_id is not None else None,
        error=row.error,
        finished_at=row.finished_at,
    )
