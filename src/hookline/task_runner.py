"""The task runner: works off recover tasks (hookline.recover) in every ``serve`` and
``worker`` process, a step at a time, in turns between tenants.

Each round leases a few unfinished tasks, one per tenant (the one whose turn is longest
past), and takes one step of each: a bounded batch of the window's events, and the
deliveries they call for, stored with the move of the task's cursor in one short
transaction. So a tenant gets at most one step per round however many tasks it has, a
huge window never holds a transaction or the writer for long, and the deliveries join the
ordinary queue, where the dispatcher's bounds per webhook and tenant apply. A task whose
webhook already has ``backlog`` deliveries with a due time passes its turn: recovered
deliveries go out at the pace the endpoint takes them, beside its new ones, and a recover
cannot pile a week of events onto an endpoint that is failing again.

A process that dies mid-step leaves the cursor where it was: the task's lease runs out,
another runner takes it, and it goes on from the cursor.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from hookline import filters, recover
from hookline.clock import now
from hookline.errors import StorageUnavailable
from hookline.examples import TEST_SOURCE
from hookline.matching import reaches
from hookline.recover import Choice, Looked, Step, Task
from hookline.store import Store
from hookline.waits import first_of
from hookline.webhooks import Webhook

log = structlog.get_logger()


@dataclass(frozen=True)
class TaskLimits:
    tasks_per_round: int = 20  # tenants, one task each
    events_per_step: int = 200
    backlog: int = 1000
    lease_seconds: float = 120.0
    poll_seconds: float = 1.0


class TaskRunner:
    """Runs recover tasks until stopped."""

    def __init__(self, store: Store, limits: TaskLimits, owner: str) -> None:
        self._store = store
        self._limits = limits
        self._owner = owner

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                if await self.run_some():
                    continue
            except StorageUnavailable as error:
                log.warning("recover tasks failed; retrying", error=str(error))
            except Exception:
                # Never expected; the leases run out and the tasks go on from their cursors.
                log.exception("recover tasks failed unexpectedly; retrying")
            await first_of(self._store.wait_for_tasks(self._limits.poll_seconds), stopping.wait())

    async def run_some(self) -> int:
        """One round: a step of each task leased; how many events the steps looked at."""
        limits = self._limits
        tasks = await self._store.claim_tasks(
            owner=self._owner, limit=limits.tasks_per_round, lease_seconds=limits.lease_seconds
        )
        looked = 0
        for task in tasks:
            looked += await self._step(task)
        return looked

    async def _step(self, task: Task) -> int:
        webhook = await self._store.get_webhook(task.tenant_id, task.webhook_id)
        if webhook is None:
            return 0  # deleted, and its tasks with it
        step = await self._next_step(task, webhook)
        if await self._store.step_task(step, self._limits.lease_seconds) and step.finished:
            log.info(
                "recover finished",
                tenant=task.tenant_id,
                webhook=task.webhook_id,
                task=task.id,
                status=step.status,
                recovered=task.recovered + len(step.deliveries),
                error=step.error,
            )
        return step.looked

    async def _next_step(self, task: Task, webhook: Webhook) -> Step:
        limits = self._limits
        if not webhook.enabled:
            return recover.stopped(task, self._owner, recover.WEBHOOK_DISABLED)
        if await self._store.backlog(webhook.id, limits.backlog) >= limits.backlog:
            return recover.passed(task, self._owner)
        total = task.total if task.total is not None else await self._store.count_window(task)
        looked = await self._store.look(task, webhook.id, limits.events_per_step)
        sent = await self._to_send(task, webhook, looked)
        at = now()
        return recover.next_step(
            task,
            self._owner,
            looked=looked,
            deliveries=[
                recover.delivery(task, event, webhook.enable_cloud_event_delivery, at)
                for event in sent
            ],
            total=total,
            batch=limits.events_per_step,
        )

    async def _to_send(self, task: Task, webhook: Webhook, looked: list[Looked]) -> list[Looked]:
        choices = [(event, recover.choose(task.only, event)) for event in looked]
        candidates = [
            event.position.event_id
            for event, choice in choices
            if choice is Choice.MATCH and event.event_type in webhook.event_types
        ]
        reached = await self._reaching(webhook, candidates)
        return [
            event
            for event, choice in choices
            if choice is Choice.SEND or event.position.event_id in reached
        ]

    async def _reaching(self, webhook: Webhook, event_ids: list[str]) -> set[str]:
        """Those of the events the webhook reaches now (as fan-out decides)."""
        compiled = filters.compile(webhook.filter) if webhook.filter else None
        reached = set()
        for event in await self._store.events_of(webhook.tenant_id, event_ids):
            if event.source == TEST_SOURCE:  # another webhook's test send
                continue
            try:
                if reaches(webhook, event, compiled):
                    reached.add(event.id)
            except filters.TooCostly as error:
                log.warning(
                    "event not recovered: a filter costs too much for it",
                    tenant=event.tenant_id,
                    event_id=event.id,
                    webhook=webhook.id,
                    reason=str(error),
                )
        return reached
