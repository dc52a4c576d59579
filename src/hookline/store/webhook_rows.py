"""Webhooks to and from table rows (webhook_event_types holds the subscriptions)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from hookline.store.schema import webhook_event_types
from hookline.webhooks import Webhook


def with_event_types(conn: sa.Connection, rows: Sequence[Any]) -> list[Webhook]:
    """Webhooks from their rows, with their event types."""
    ids = [row.id for row in rows]
    subscribed: dict[str, list[str]] = {webhook_id: [] for webhook_id in ids}
    if ids:
        result = conn.execute(
            sa.select(webhook_event_types.c.webhook_id, webhook_event_types.c.event_type)
            .where(webhook_event_types.c.webhook_id.in_(ids))
            .order_by(webhook_event_types.c.event_type)
        )
        for webhook_id, event_type in result:
            subscribed[webhook_id].append(event_type)
    return [_webhook(row, subscribed[row.id]) for row in rows]


def webhook_row(webhook: Webhook) -> dict[str, Any]:
    row = dataclasses.asdict(webhook)
    del row["event_types"]  # kept in webhook_event_types
    row["encrypted_header_names"] = list(webhook.encrypted_header_names)
    return row


_WEBHOOK_COLUMNS = [
    field.name for field in dataclasses.fields(Webhook) if field.name != "event_types"
]


def _webhook(row: Any, event_types: list[str]) -> Webhook:
    values = {name: row._mapping[name] for name in _WEBHOOK_COLUMNS}
    values["encrypted_header_names"] = tuple(values["encrypted_header_names"])
    return Webhook(**values, event_types=tuple(event_types))
