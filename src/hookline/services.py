"""Everything a hookline process needs, built once from the settings and passed explicitly."""

from __future__ import annotations

import random
from dataclasses import dataclass

from hookline.catalog import Catalog, load_catalog
from hookline.deliveries import FailurePolicy
from hookline.dispatcher import Attempter, Limits
from hookline.history import History
from hookline.publishing import Publisher, plan_now
from hookline.ratelimit import RateLimiter
from hookline.registry import Registry
from hookline.retry import RetryPolicy
from hookline.sender import Sender
from hookline.settings import Settings
from hookline.store import Store, open_store
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
        failures = FailurePolicy(threshold=settings.disable_after_failures)
        return cls(
            settings=settings,
            store=store,
            vault=vault,
            catalog=catalog,
            registry=registry,
            publisher=Publisher(store, catalog),
            sender=sender,
            attempter=attempter,
            history=History(store, registry, attempter, failures, settings.lease_seconds, plan_now),
            rate_limiter=RateLimiter(settings.rate_limit, settings.rate_burst),
        )

    @property
    def limits(self) -> Limits:
        settings = self.settings
        return Limits(
            total=settings.concurrency,
            per_endpoint=settings.endpoint_concurrency,
            lease_seconds=settings.lease_seconds,
            poll_seconds=settings.poll_interval,
            shutdown_grace=settings.shutdown_grace,
        )

    async def start(self) -> None:
        await self.store.migrate()
        await self.sender.start()

    async def close(self) -> None:
        await self.sender.close()
        await self.store.close()
