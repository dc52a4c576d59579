"""Delivery history of a webhook: list, read, and resend — for whoever may see the webhook."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hookline.auth import Principal
from hookline.clock import now
from hookline.deliveries import Claimed, Delivery, FailurePolicy, NewDelivery, new_delivery_id
from hookline.dispatcher import Attempter
from hookline.errors import NotFound
from hookline.paging import Page
from hookline.registry import Registry
from hookline.shares import Slots
from hookline.store import Store
from hookline.store.base import DeliveryQuery
from hookline.telemetry import observe
from hookline.webhooks import Webhook


@dataclass(frozen=True)
class History:
    store: Store
    registry: Registry
    attempter: Attempter
    failures: FailurePolicy
    lease_seconds: float
    slots: Slots
    slot_wait_seconds: float
    # The process's name on the leases it holds, shared with its dispatcher: a claim
    # counts the leases of other processes against a webhook's bound, and this one's
    # resends are already in its slots.
    owner: str

    async def list_deliveries(
        self, caller: Principal, webhook_id: str, query: DeliveryQuery
    ) -> Page[Delivery]:
        webhook = await self.registry.get(caller, webhook_id)
        return await self.store.list_deliveries(
            dataclasses.replace(query, tenant_id=webhook.tenant_id, webhook_id=webhook.id)
        )

    async def get(self, caller: Principal, webhook_id: str, delivery_id: str) -> Delivery:
        webhook = await self.registry.get(caller, webhook_id)
        return await self._delivery(webhook, delivery_id)

    async def resend(self, caller: Principal, webhook_id: str, delivery_id: str) -> Delivery:
        """A new delivery of the same body (same event id), sent now with the webhook's
        current URL, headers and secret; its outcome counts like any other's.

        It takes a slot like any queued attempt (per webhook, per tenant, in total),
        waiting up to ``slot_wait_seconds`` for one; if none comes free, it joins the
        queue instead and is answered pending. So does a resend to an ordered webhook (it
        goes last in its queue) or to a rate-limited one at its limit."""
        webhook = await self.registry.get(caller, webhook_id)
        original = await self._delivery(webhook, delivery_id)
        at = now()
        new = NewDelivery(
            id=new_delivery_id(),
            tenant_id=webhook.tenant_id,
            webhook_id=webhook.id,
            event_id=original.event_id,
            event_type=original.event_type,
            cloud_events=original.cloud_events,
            triggered_at=at,
            next_attempt_at=at,
        )
        if not await self.store.add_delivery(
            new, owner=self.owner, lease_seconds=self.lease_seconds
        ):
            return await self._delivery(webhook, new.id)
        if not await self.slots.take_within(webhook.tenant_id, webhook.id, self.slot_wait_seconds):
            await self.store.release([new.id], self.owner)
            return await self._delivery(webhook, new.id)
        try:
            claimed = _claimed(new, webhook, original.body.encode())
            result = await self.attempter.attempt(claimed)
            observe(claimed, result)
            await self.store.record([result], self.failures)
        finally:
            self.slots.release(webhook.tenant_id, webhook.id)
        return await self._delivery(webhook, new.id)

    async def _delivery(self, webhook: Webhook, delivery_id: str) -> Delivery:
        found = await self.store.get_delivery(webhook.tenant_id, webhook.id, delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id} of webhook {webhook.id}")
        return found


def _claimed(new: NewDelivery, webhook: Webhook, body: bytes) -> Claimed:
    return Claimed(
        delivery_id=new.id,
        tenant_id=new.tenant_id,
        webhook_id=webhook.id,
        event_id=new.event_id,
        triggered_at=new.triggered_at,
        body=body,
        attempt_count=0,
        webhook_enabled=webhook.enabled,
        url=webhook.url,
        headers=webhook.headers,
        sealed_secret=webhook.sealed_secret,
        sealed_encrypted_headers=webhook.sealed_encrypted_headers,
        encrypted_header_names=webhook.encrypted_header_names,
        check_revocation=webhook.check_certificate_revocation,
        sealed_previous_secret=webhook.sealed_previous_secret,
        secret_rotating_until=webhook.secret_rotating_until,
        # Resends are rare and made by hand, often once an endpoint is fixed: the record
        # of each success checks whether it ends a failing run.
        may_recover=True,
    )
