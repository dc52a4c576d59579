"""Webhooks, events, deliveries and outcomes for store tests, valid and complete, with only
what a test cares about given."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from hookline.deliveries import Attempt, Claimed, Disable, NewDelivery, Result
from hookline.events import Event
from hookline.fanout import delivery
from hookline.webhooks import Webhook

START = datetime(2026, 1, 1, tzinfo=UTC)


def webhook(tenant_id: str, number: int = 0, **fields: Any) -> Webhook:
    moment = START + timedelta(minutes=number)
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "name": f"hook-{number:03d}",
        "description": "",
        "url": f"https://h{number:03d}.example.com/in",
        "event_types": ("com.qlik.v1.app.created",),
        "headers": {},
        "encrypted_header_names": (),
        "sealed_secret": None,
        "sealed_encrypted_headers": None,
        "enabled": True,
        "filter": None,
        "level": "tenant",
        "owner_id": "admin",
        "origin": "api",
        "check_certificate_revocation": False,
        "enable_cloud_event_delivery": False,
        "disabled_reason": None,
        "disabled_reason_code": None,
        "created_at": moment,
        "updated_at": moment,
        "created_by_user_id": "admin",
        "updated_by_user_id": "admin",
    }
    values.update(fields)
    return Webhook(**values)


# Events, deliveries and outcomes for the delivery queue tests ----------------------------

APP_CREATED = "com.qlik.v1.app.created"


def event(tenant_id: str, event_id: str | None = None, **fields: Any) -> Event:
    values: dict[str, Any] = {
        "id": event_id or str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "type": APP_CREATED,
        "time": START,
        "source": "tests",
        "data": {},
    }
    values.update(fields)
    return Event(**values)


def new_delivery(
    new: Event,
    hook: Webhook,
    *,
    triggered_at: datetime,
    next_attempt_at: datetime | None,
    delivery_id: str | None = None,
) -> NewDelivery:
    """The delivery of ``new`` to ``hook`` as fan-out makes it, at the times given."""
    made = delivery(new, hook, triggered_at)
    return dataclasses.replace(made, id=delivery_id or made.id, next_attempt_at=next_attempt_at)


def outcome(
    claimed: Claimed,
    *,
    number: int = 1,
    status: Literal["success", "fail"] = "fail",
    next_attempt_at: datetime | None = None,
    started_at: datetime = START,
    disable: Disable | None = None,
) -> Result:
    """The result of attempt ``number`` of a claimed delivery: a 200 answer for a success,
    else a 500."""
    code = 200 if status == "success" else 500
    return Result(
        delivery_id=claimed.delivery_id,
        tenant_id=claimed.tenant_id,
        webhook_id=claimed.webhook_id,
        triggered_at=claimed.triggered_at,
        attempt=Attempt(number, started_at, 12.5, code, None),
        status=status,
        status_message=f"attempt {number} answered {code}",
        next_attempt_at=next_attempt_at,
        request_url="https://receiver.example.com/in",
        request_headers={"Content-Type": "application/json", "X-Tok": "**OMITTED**"},
        response_status=code,
        response_headers={"Content-Type": "text/plain"},
        response_body=f"answer {number}",
        disable=disable,
        may_recover=claimed.may_recover,
    )
