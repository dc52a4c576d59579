"""Everything a hookline process needs, built once from the settings and passed explicitly."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

from hookline.catalog import Catalog, load_catalog
from hookline.deliveries import FailurePolicy
from hookline.dispatcher import Attempter, Limits
from hookline.endpoint_health import Health
from hookline.fanout import FanoutLimits
from hookline.history import History
from hookline.publishing import Publisher
from hookline.quotas import publishing_quota
from hookline.ratelimit import RateLimiter
from hookline.recover import TaskCaps
from hookline.registry import Registry
from hookline.retry import RetryPolicy
from hookline.sender import Sender
from hookline.settings import Settings
from hookline.shares import Gate, Slots
from hookline.store import Store, open_store
from hookline.task_runner import TaskLimits
from hookline.tasks import Tasks
from hookline.vault import Vault, vault_from_settings


@dataclass(frozen=True)
class Services:
    settings: Settings
    store: Store
    vault: Vault
    catalog: Catalog
    registry: Registry
    publisher: Publisher
    sender: Sender
    attempter: Attempter
    history: History
    rate_limiter: RateLimiter
    slots: Slots
    gate: Gate
    health: Health
    tasks: Tasks

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Raises ConfigError for a bad setting; opens no connection yet."""
        vault = vault_from_settings(settings)
        catalog = load_catalog(settings.catalog_file)
        store = open_store(settings)
        sender = Sender(settings, limit=settings.concurrency)
        policy = RetryPolicy(settings.retry_schedule, retry_after_cap=settings.retry_after_cap)
        registry = Registry(store, vault, catalog, settings)
        attempter = Attempter(sender, vault, policy, random.Random())
        failures = FailurePolicy(
            threshold=settings.disable_after_failures,
            exhausted_interval_seconds=settings.exhausted_event_interval,
        )
        owner = f"hookline-{uuid.uuid4().hex[:12]}"
        slots = Slots(
            total=settings.concurrency,
            per_webhook=settings.endpoint_concurrency,
            per_tenant=settings.tenant_concurrency,
        )
        history = History(
            store,
            registry,
            attempter,
            failures,
            settings.lease_seconds,
            slots,
            slot_wait_seconds=settings.connect_timeout + settings.request_timeout,
            owner=owner,
        )
        return cls(
            settings=settings,
            store=store,
            vault=vault,
            catalog=catalog,
            registry=registry,
            publisher=Publisher(store, catalog, publishing_quota(settings)),
            sender=sender,
            attempter=attempter,
            history=history,
            rate_limiter=RateLimiter(settings.rate_limit, settings.rate_burst),
            slots=slots,
            gate=Gate(settings.key_concurrency),
            health=Health(store, registry, turns=Gate(1)),
            tasks=Tasks(
                store,
                registry,
                settings.history_days,
                TaskCaps(per_webhook=1, per_tenant=settings.max_recovers_per_tenant),
            ),
        )

    @property
    def limits(self) -> Limits:
        settings = self.settings
        return Limits(
            total=settings.concurrency,
            lease_seconds=settings.lease_seconds,
            poll_seconds=settings.poll_interval,
            shutdown_grace=settings.shutdown_grace,
        )

    @property
    def fanout_limits(self) -> FanoutLimits:
        settings = self.settings
        return FanoutLimits(
            lease_seconds=settings.lease_seconds,
            poll_seconds=settings.poll_interval,
            tenant_deliveries_per_second=settings.tenant_deliveries_per_second,
        )

    @property
    def task_limits(self) -> TaskLimits:
        settings = self.settings
        return TaskLimits(lease_seconds=settings.lease_seconds, poll_seconds=settings.poll_interval)

    async def start(self) -> None:
        await self.store.migrate()
        await self.sender.start()

    async def close(self) -> None:
        await self.sender.close()
        await self.store.close()
