"""accept small, expand later: events keep their payload and wait for fan-out; deliveries
reference them (no body of their own); due_webhooks for fair claims; publish_quotas

Revision ID: 0004
Revises: 0003

Existing deliveries keep their bodies: each event's payload is read back from one of its
deliveries' bodies (either envelope), and each delivery remembers which envelope it had.
"""

from datetime import datetime
from itertools import groupby
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_LEGACY_IDS = {"ownerId", "userId", "spaceId", "topLevelResourceId"}
_CLOUD_IDS = {
    "userid": "userId",
    "ownerid": "ownerId",
    "spaceid": "spaceId",
    "toplevelresourceid": "topLevelResourceId",
}
_CLOUD_OWN = {"id", "source", "specversion", "type", "time", "datacontenttype", "data"}


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("fanout_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_events_fanout",
            ["fanout_at"],
            unique=False,
            postgresql_where=sa.text("fanout_at IS NOT NULL"),
            sqlite_where=sa.text("fanout_at IS NOT NULL"),
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cloud_events", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _move_bodies(op.get_bind())
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("payload", existing_type=sa.Text(), nullable=False)
    _partial = {
        "postgresql_where": sa.text("next_attempt_at IS NOT NULL"),
        "sqlite_where": sa.text("next_attempt_at IS NOT NULL"),
    }
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("cloud_events", existing_type=sa.Boolean(), server_default=None)
        batch_op.drop_column("body")
        batch_op.drop_index("ix_deliveries_due", **_partial)
        batch_op.create_index("ix_deliveries_due", ["webhook_id", "next_attempt_at"], **_partial)

    op.create_table(
        "due_webhooks",
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_due_webhooks_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("webhook_id", name=op.f("pk_due_webhooks")),
    )
    with op.batch_alter_table("due_webhooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_due_webhooks_due_at"), ["due_at"], unique=False)
    op.execute(
        "INSERT INTO due_webhooks (webhook_id, tenant_id, due_at)"
        " SELECT webhook_id, min(tenant_id), min(next_attempt_at) FROM deliveries"
        " WHERE next_attempt_at IS NOT NULL GROUP BY webhook_id"
    )

    op.create_table(
        "publish_quotas",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("events", sa.Float(), nullable=False),
        sa.Column("bytes", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_publish_quotas_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_publish_quotas")),
    )


def _move_bodies(conn: sa.Connection) -> None:
    """Give every event the payload read from one of its deliveries' bodies (a legacy one
    if it has any: CloudEvents lower-cased the extensions' names), and every delivery its
    envelope. A delivery whose event was purged before (0003 purged events as old as
    their deliveries, and a resend outlived its event) gets its event back; an event none
    of whose deliveries remain keeps an empty payload."""
    rows = conn.execute(
        sa.text(
            "SELECT d.id, d.tenant_id, d.event_id, d.event_type, d.triggered_at, d.body"
            " FROM deliveries d ORDER BY d.tenant_id, d.event_id"
        )
    )
    cloud: list[dict[str, Any]] = []
    for (tenant_id, event_id), group in groupby(rows, key=lambda row: (row[1], row[2])):
        best: dict[str, Any] | None = None
        event_type, latest = "", None
        for delivery_id, _, _, kind, triggered_at, body in group:
            event_type = kind
            envelope = orjson.loads(body)
            if "specversion" in envelope:
                cloud.append({"id": delivery_id})
            if best is None or ("specversion" in best and "specversion" not in envelope):
                best = envelope
            latest = triggered_at if latest is None else max(latest, triggered_at)
        values = {"payload": _payload(best or {}), "t": tenant_id, "e": event_id}
        updated = conn.execute(
            sa.text("UPDATE events SET payload = :payload WHERE tenant_id = :t AND id = :e"),
            values,
        )
        if updated.rowcount == 0:
            conn.execute(
                sa.text(
                    "INSERT INTO events (tenant_id, id, type, received_at, payload)"
                    " VALUES (:t, :e, :type, :at, :payload)"
                ),
                {**values, "type": event_type, "at": latest},
            )
    if cloud:
        conn.execute(sa.text("UPDATE deliveries SET cloud_events = true WHERE id = :id"), cloud)
    conn.execute(
        sa.text("UPDATE events SET payload = :payload WHERE payload IS NULL"),
        {"payload": _payload({})},
    )


def _payload(envelope: dict[str, Any]) -> str:
    """The stored payload (hookline.events.to_record) of a rendered envelope."""
    if "specversion" in envelope:
        ids = {name: envelope.get(attribute) for attribute, name in _CLOUD_IDS.items()}
        extensions = {
            name: value
            for name, value in envelope.items()
            if name not in _CLOUD_OWN and name not in _CLOUD_IDS and name != "tenantid"
        }
        time, source = envelope.get("time"), envelope.get("source")
    else:
        given = dict(envelope.get("extensions") or {})
        ids = {name: given.pop(name, None) for name in _LEGACY_IDS}
        given.pop("tenantId", None)
        extensions = given
        time, source = envelope.get("eventTime"), envelope.get("source")
    moment = datetime.fromisoformat(time) if time else datetime(1970, 1, 1)
    record = {
        "time": moment,
        "source": source or "hookline",
        "data": envelope.get("data", {}),
        **ids,
        "extensions": extensions,
    }
    return orjson.dumps(record, option=orjson.OPT_NAIVE_UTC).decode()


def downgrade() -> None:
    raise NotImplementedError("hookline does not migrate back past 0004")
