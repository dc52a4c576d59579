"""Webhooks for store tests, valid and complete, with only what a test cares about given."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

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
