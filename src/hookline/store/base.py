"""The one storage interface, in domain terms. SQLite and PostgreSQL implement it."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from hookline.auth import Principal, Role
from hookline.catalog import Level
from hookline.deliveries import (
    Claimed,
    Delivery,
    FailurePolicy,
    NewDelivery,
    QueueStats,
    Result,
)
from hookline.events import Event
from hookline.paging import Cursor, Page, Sort
from hookline.quotas import Quota
from hookline.recover import Looked, Step, Task, TaskCaps
from hookline.shares import Room
from hookline.stats import EndpointStats, StatsQuery
from hookline.webhooks import Webhook

WEBHOOK_SORT_KEYS = ("name", "url", "createdAt", "updatedAt")
WEBHOOK_TIME_SORT_KEYS = ("createdAt", "updatedAt")
DEFAULT_WEBHOOK_SORT = Sort("createdAt", descending=True)


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    digest: str
    role: Role
    tenant_id: str | None
    user_id: str | None
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class WebhookQuery:
    """Which webhooks of a tenant to list, in which order, from where."""

    tenant_id: str
    name: str | None = None
    url: str | None = None
    enabled: bool | None = None
    event_types: tuple[str, ...] = ()
    level: Level | None = None
    origins: tuple[str, ...] = ()
    owner_id: str | None = None
    created_by_user_id: str | None = None
    updated_by_user_id: str | None = None
    only_owned_by: str | None = None  # a user-role caller sees only its user-level webhooks
    sort: Sort = DEFAULT_WEBHOOK_SORT
    limit: int = 20
    cursor: Cursor | None = None


DELIVERY_SORT_KEYS = ("status", "triggeredAt")
DEFAULT_DELIVERY_SORT = Sort("triggeredAt", descending=True)


@dataclass(frozen=True)
class Pending:
    """Events waiting for fan-out, leased to one process until ``lease``."""

    events: list[Event]
    lease: datetime


@dataclass(frozen=True)
class Expansion:
    """What one event makes: its deliveries, and (a user-deleted event) the user whose
    user-level webhooks it disables."""

    event: Event
    deliveries: list[NewDelivery] = field(default_factory=list)
    deleted_owner: str | None = None


@dataclass(frozen=True)
class DeliveryQuery:
    tenant_id: str
    webhook_id: str
    event_type: str | None = None
    status: str | None = None
    sort: Sort = DEFAULT_DELIVERY_SORT
    limit: int = 20
    cursor: Cursor | None = None


@dataclass(frozen=True)
class Purged:
    """How many rows one purge call deleted, and how many whole days of history it dropped
    (PostgreSQL, hookline.store.partitions)."""

    deliveries: int
    events: int
    days: int = 0


@dataclass(frozen=True)
class Caps:
    per_tenant: int
    per_user: int


class Store(Protocol):
    async def migrate(self) -> None: ...

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the database answers."""

    async def close(self) -> None: ...

    # Tenants, users and keys
    async def create_tenant(self, name: str) -> Tenant: ...

    async def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    async def find_tenant(self, name: str) -> Tenant | None: ...

    async def list_tenants(self) -> list[Tenant]: ...

    async def ensure_user(self, tenant_id: str, user_id: str) -> None: ...

    async def user_exists(self, tenant_id: str, user_id: str) -> bool: ...

    async def add_api_key(self, key: ApiKey) -> None: ...

    async def find_principal(self, digest: str) -> Principal | None:
        """The principal of the unrevoked key with this digest."""

    async def list_api_keys(self, tenant_id: str | None) -> list[ApiKey]: ...

    async def revoke_api_key(self, key_id: str) -> bool: ...

    async def has_api_keys(self) -> bool: ...

    # Webhooks
    async def insert_webhook(self, webhook: Webhook, caps: Caps) -> None:
        """Store a new webhook; raise LimitReached if the tenant or its owner is at a cap."""

    async def get_webhook(self, tenant_id: str, webhook_id: str) -> Webhook | None: ...

    async def update_webhook(self, webhook: Webhook) -> bool: ...

    async def delete_webhook(self, tenant_id: str, webhook_id: str) -> bool: ...

    async def list_webhooks(self, query: WebhookQuery) -> Page[Webhook]: ...

    async def end_rotations(self, at: datetime) -> int:
        """Drop the previous secret of every rotation whose grace period ended by ``at``;
        return how many webhooks had one."""

    # Events and deliveries
    async def publish(
        self, tenant_id: str, batch: list[Event], quota: Quota | None = None
    ) -> list[Event]:
        """Store the events not seen before in the tenant, due for fan-out; return them.
        Raises QuotaExceeded (storing nothing) when the batch is over the tenant's quota."""

    async def wait_for_work(self, at_most: float) -> None:
        """Return when new work may be due, or after ``at_most`` seconds."""

    async def wait_for_events(self, at_most: float) -> None:
        """Return when events may be waiting for fan-out, or after ``at_most`` seconds."""

    async def claim_fanout(
        self, *, limit: int, per_tenant: int, lease_seconds: float, skip: Collection[str] = ()
    ) -> Pending:
        """Lease up to ``limit`` events due for fan-out (at most ``per_tenant`` of a tenant,
        none of the tenants in ``skip``), longest waiting first."""

    async def subscribed(self, tenant_id: str, types: Collection[str]) -> list[Webhook]:
        """The tenant's enabled webhooks subscribed to any of ``types``."""

    async def expand(self, lease: datetime, expansions: list[Expansion]) -> int:
        """Store the expansions of events still leased with ``lease`` and mark them done,
        in one transaction; return how many deliveries were made."""

    async def claim(
        self, *, owner: str, limit: int, lease_seconds: float, room: Room
    ) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries, fairly between tenants and webhooks and
        within ``room``."""

    async def record(self, results: list[Result], failures: FailurePolicy) -> None:
        """Record attempt outcomes; webhooks disabled as a result raise their
        ``hookline.webhook.disabled`` event in the same transaction."""

    async def release(self, delivery_ids: list[str], owner: str) -> None:
        """Make deliveries leased to ``owner`` but never attempted due at once."""

    async def renew(self, delivery_ids: list[str], owner: str, lease_seconds: float) -> None:
        """Extend the leases ``owner`` still holds on these deliveries to ``lease_seconds``
        from now (those recorded or released since are left alone)."""

    async def add_delivery(
        self,
        new: NewDelivery,
        *,
        owner: str,
        lease_seconds: float,
        example: Event | None = None,
    ) -> bool:
        """Store a delivery leased to ``owner`` (a resend or a test send, sent at once),
        and a test send's ``example`` event, which is never fanned out: True. One to an
        ordered webhook (not a test), or a rate-limited one at its limit, joins the
        webhook's queue: False."""

    async def get_delivery(
        self, tenant_id: str, webhook_id: str, delivery_id: str
    ) -> Delivery | None: ...

    async def list_deliveries(self, query: DeliveryQuery) -> Page[Delivery]: ...

    async def queue_stats(self) -> QueueStats:
        """How many deliveries are pending, the earliest due time, and disabled webhooks."""

    async def purge(self, before: datetime, batch: int) -> Purged:
        """Delete up to ``batch`` deliveries triggered before ``before`` and up to ``batch``
        events received a day before it (deliveries made late keep their event)."""

    # Recover tasks (hookline.recover)
    async def create_task(self, task: Task, caps: TaskCaps) -> None:
        """Store a new task; raise LimitReached if its webhook or tenant has as many
        unfinished as ``caps`` allow, NotFound if its webhook is gone."""

    async def get_task(self, tenant_id: str, webhook_id: str, task_id: str) -> Task | None: ...

    async def list_tasks(self, tenant_id: str, webhook_id: str, limit: int) -> list[Task]:
        """The webhook's newest tasks first."""

    async def wait_for_tasks(self, at_most: float) -> None:
        """Return when a task may have been made, or after ``at_most`` seconds."""

    async def claim_tasks(self, *, owner: str, limit: int, lease_seconds: float) -> list[Task]:
        """Lease up to ``limit`` unfinished tasks, one per tenant, in turns."""

    async def count_window(self, task: Task) -> int:
        """How many events of the task's tenant were received in its window."""

    async def look(self, task: Task, webhook_id: str, limit: int) -> list[Looked]:
        """The next ``limit`` events of the task's window after its cursor, each with its
        latest delivery to the webhook."""

    async def events_of(self, tenant_id: str, event_ids: Iterable[str]) -> list[Event]: ...

    async def backlog(self, webhook_id: str, at_most: int) -> int:
        """The webhook's deliveries with a due time, counted up to ``at_most``."""

    async def step_task(self, step: Step, lease_seconds: float) -> bool:
        """Store the step's deliveries and move its task's cursor in one transaction, if
        the step's owner holds the task and its cursor is where the step started from."""

    async def purge_tasks(self, before: datetime, batch: int) -> int:
        """Delete up to ``batch`` tasks that finished before ``before``."""

    # Endpoint health
    async def endpoint_stats(self, query: StatsQuery) -> EndpointStats:
        """The attempts of the webhook's deliveries that started in the window (from a
        bounded sample of it), per bucket and in all, and its backlog now."""
