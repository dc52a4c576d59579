"""Delivery history of a webhook: list, read, resend, and test sends — for whoever may see
the webhook."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from hookline.auth import Principal
from hookline.clock import now
from hookline.deliveries import (
    Claimed,
    Delivery,
    FailurePolicy,
    NewDelivery,
    Trigger,
    new_delivery_id,
)
from hookline.dispatcher import Attempter
from hookline.envelopes import render
from hookline.errors import NotFound
from hookline.events import Event
from hookline.examples import example_event, type_to_send
from hookline.pacing import SEND_WITHIN
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
        current URL, headers and secret; its outcome counts like any other's."""
        webhook = await self.registry.get(caller, webhook_id)
        original = await self._delivery(webhook, delivery_id)
        new = _new_delivery(
            webhook, original.event_id, original.event_type, original.cloud_events, "resend"
        )
        return await self._send_now(webhook, new, original.body.encode())

    async def send_test(
        self, caller: Principal, webhook_id: str, event_type: str | None
    ) -> Delivery:
        """A new delivery of an example event (``hookline.examples``) of a type the webhook
        subscribes to, sent now like a resend, with the webhook's current URL, headers and
        secret, whatever its filter, even while it is disabled. It is attempted once, and
        its outcome never disables the webhook nor counts toward disabling it."""
        webhook = await self.registry.get(caller, webhook_id)
        catalog = self.registry.catalog
        chosen = type_to_send(webhook, event_type, catalog)
        example = example_event(webhook, chosen, catalog, now())
        cloud_events = webhook.enable_cloud_event_delivery
        new = _new_delivery(webhook, example.id, example.type, cloud_events, "test")
        body = render(example, cloud_events=cloud_events)
        return await self._send_now(webhook, new, body, example)

    async def _send_now(
        self, webhook: Webhook, new: NewDelivery, body: bytes, example: Event | None = None
    ) -> Delivery:
        """Store ``new`` (and a test's example event) leased to this process, attempt it
        now and record its outcome; answer it.

        It takes a slot like any queued attempt (per webhook, per tenant, in total),
        waiting up to ``slot_wait_seconds`` for one; if none comes free, it joins the
        queue instead and is answered pending. So does a resend to an ordered webhook (it
        goes last in its queue) or one to a rate-limited webhook at its limit, or one that
        could not start within its limit's time (hookline.pacing)."""
        asked = now()
        if not await self.store.add_delivery(
            new, owner=self.owner, lease_seconds=self.lease_seconds, example=example
        ):
            return await self._delivery(webhook, new.id)
        if not await self.slots.take_within(webhook.tenant_id, webhook.id, self.slot_wait_seconds):
            await self.store.release([new.id], self.owner)
            return await self._delivery(webhook, new.id)
        try:
            send_by = asked + SEND_WITHIN if webhook.rate_limit is not None else None
            claimed = _claimed(new, webhook, body, send_by)
            if claimed.late_by(now()) is not None:
                await self.store.release([new.id], self.owner)
                return await self._delivery(webhook, new.id)
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


def _new_delivery(
    webhook: Webhook, event_id: str, event_type: str, cloud_events: bool, trigger: Trigger
) -> NewDelivery:
    at = now()
    return NewDelivery(
        id=new_delivery_id(),
        tenant_id=webhook.tenant_id,
        webhook_id=webhook.id,
        event_id=event_id,
        event_type=event_type,
        cloud_events=cloud_events,
        triggered_at=at,
        next_attempt_at=at,
        trigger=trigger,
    )


def _claimed(new: NewDelivery, webhook: Webhook, body: bytes, send_by: datetime | None) -> Claimed:
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
        test=new.trigger == "test",
        send_by=send_by,
    )
