"""Recover tasks for whoever may manage the webhook: start one, follow it (the rules:
hookline.recover; the work: hookline.task_runner)."""

from __future__ import annotations

from dataclasses import dataclass

from hookline.auth import Principal
from hookline.clock import now
from hookline.errors import NotAllowed, NotFound
from hookline.recover import DEFAULT_ONLY, RecoverRequest, Task, TaskCaps, new_task, window
from hookline.registry import Registry
from hookline.store import Store

MOST_LISTED = 100


@dataclass(frozen=True)
class Tasks:
    store: Store
    registry: Registry
    retention_days: int
    caps: TaskCaps

    async def recover(self, caller: Principal, webhook_id: str, request: RecoverRequest) -> Task:
        """Queue a recover of the webhook's window; the task is answered at once and runs in
        the background."""
        webhook = await self.registry.get(caller, webhook_id)
        at = now()
        chosen = window(request.since, request.until, at, self.retention_days)
        if not webhook.enabled:
            raise NotAllowed(
                f"webhook {webhook.id} is disabled: enable it before recovering its deliveries"
            )
        assert caller.user_id is not None  # who may see a webhook is a user of its tenant
        task = new_task(
            webhook.tenant_id, webhook.id, caller.user_id, request.only or DEFAULT_ONLY, chosen, at
        )
        await self.store.create_task(task, self.caps)
        return task

    async def get(self, caller: Principal, webhook_id: str, task_id: str) -> Task:
        webhook = await self.registry.get(caller, webhook_id)
        found = await self.store.get_task(webhook.tenant_id, webhook.id, task_id)
        if found is None:
            raise NotFound(f"no task {task_id} of webhook {webhook.id}")
        return found

    async def list(self, caller: Principal, webhook_id: str, limit: int) -> list[Task]:
        """The webhook's newest tasks, at most ``limit``."""
        webhook = await self.registry.get(caller, webhook_id)
        return await self.store.list_tasks(webhook.tenant_id, webhook.id, min(limit, MOST_LISTED))
