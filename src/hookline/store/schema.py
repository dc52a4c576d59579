"""The database schema, the single source the migrations are checked against."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps them naive, in UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True),
    sa.Column("user_id", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("description", sa.String(1024), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    sa.Column("headers", sa.JSON, nullable=False),
    sa.Column("encrypted_header_names", sa.JSON, nullable=False),
    sa.Column("sealed_secret", sa.Text, nullable=True),
    sa.Column("sealed_encrypted_headers", sa.Text, nullable=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("filter", sa.Text, nullable=True),
    sa.Column("level", sa.String(10), nullable=False),
    sa.Column("owner_id", sa.String(200), nullable=False),
    sa.Column("origin", sa.String(30), nullable=False),
    sa.Column("check_certificate_revocation", sa.Boolean, nullable=False),
    sa.Column("enable_cloud_event_delivery", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    sa.Column("disabled_reason_code", sa.String(50), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("created_by_user_id", sa.String(200), nullable=False),
    sa.Column("updated_by_user_id", sa.String(200), nullable=False),
    # During a secret rotation's grace period: the secret the current one replaced (sealed),
    # and when it stops signing (hookline.rotation).
    sa.Column("sealed_previous_secret", sa.Text, nullable=True),
    sa.Column("secret_rotating_until", UTCDateTime, nullable=True),
    # The webhook's failing run (hookline.operational.Run), kept by the record of outcomes
    # only: when it began (NULL: not failing), its failed deliveries, how many of those no
    # hookline.delivery.exhausted event has counted yet, and the latest such event.
    sa.Column("failing_since", UTCDateTime, nullable=True),
    sa.Column("run_failures", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("run_unreported", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("exhausted_event_at", UTCDateTime, nullable=True),
    # Deliveries a second at most (NULL: no limit), and "none" or "fifo": one at a time in
    # publish order (hookline.pacing).
    sa.Column("rate_limit", sa.Integer, nullable=True),
    sa.Column("ordering", sa.String(10), nullable=False, server_default="none"),
    sa.Index(None, "tenant_id", "created_at"),
    sa.Index(None, "tenant_id", "owner_id"),
)

webhook_event_types = sa.Table(
    "webhook_event_types",
    metadata,
    sa.Column("webhook_id", sa.ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("event_type", sa.String(255), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Index(None, "tenant_id", "event_type"),
)

# The history tables (events, deliveries and their attempts) are range-partitioned by day
# on PostgreSQL, so that retention drops whole days (hookline.store.partitions). PostgreSQL
# wants the partition key in every unique key: there, each primary key below also holds
# the table's partition column (migration 0012). SQLite keeps plain tables.
events = sa.Table(
    "events",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # The event itself (events.to_record), stored once however many webhooks it reaches.
    sa.Column("payload", sa.Text, nullable=False),
    # Due for fan-out while set and past; NULL once its deliveries are made. A fan-out
    # moves it to the end of its lease, as a claim does with a delivery's due time.
    sa.Column("fanout_at", UTCDateTime, nullable=True),
    sa.Index(None, "received_at"),
    # An ordered webhook's next delivery waits while an event its tenant received before
    # it is still to be fanned out.
    sa.Index(
        "ix_events_waiting",
        "tenant_id",
        "received_at",
        postgresql_where=sa.text("fanout_at IS NOT NULL"),
        sqlite_where=sa.text("fanout_at IS NOT NULL"),
    ),
    # A recover walks a tenant's events of a window in this order (hookline.recover).
    # Partial: the hot path's lookups of events by (tenant, id) cannot take it for the
    # primary key (a planner without statistics did, and scanned a tenant's events).
    sa.Index(
        "ix_events_fanned_out",
        "tenant_id",
        "received_at",
        "id",
        postgresql_where=sa.text("fanout_at IS NULL"),
        sqlite_where=sa.text("fanout_at IS NULL"),
    ),
    # Fan-out finds the tenants with waiting events in it, then each one's earliest.
    sa.Index(
        "ix_events_fanout",
        "tenant_id",
        "fanout_at",
        postgresql_where=sa.text("fanout_at IS NOT NULL"),
        sqlite_where=sa.text("fanout_at IS NOT NULL"),
    ),
    postgresql_partition_by="RANGE (received_at)",
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("webhook_id", sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("event_id", sa.String(200), nullable=False),
    sa.Column("event_type", sa.String(255), nullable=False),
    sa.Column("triggered_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("status_message", sa.Text, nullable=False),
    # The body is the event's, rendered in this envelope (the payload lives in events).
    sa.Column("cloud_events", sa.Boolean, nullable=False),
    # What made it: "event" (fan-out), "resend" or "test" (hookline.deliveries.Trigger).
    sa.Column("trigger", sa.String(10), nullable=False, server_default="event"),
    sa.Column("attempt_count", sa.Integer, nullable=False),
    # Due while set and past. A claim moves it to the end of the lease (lease_until), so a
    # leased row leaves the due range and a crashed worker's delivery falls due by itself.
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    # When the last attempt ended the delivery (success, or failure with no retry left).
    sa.Column("ended_at", UTCDateTime, nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("request_url", sa.String(2048), nullable=True),
    sa.Column("request_headers", sa.JSON, nullable=True),
    sa.Column("response_status", sa.Integer, nullable=True),
    sa.Column("response_headers", sa.JSON, nullable=True),
    sa.Column("response_body", sa.Text, nullable=True),
    # A delivery of an ordered ("fifo") webhook until it ends: its place in the webhook's
    # queue (its event's arrival, or when a resend was made). NULL for every other.
    sa.Column("fifo_position", UTCDateTime, nullable=True),
    # The recover task that made the delivery (hookline.recover); NULL for every other.
    sa.Column("task_id", sa.String(36), nullable=True),
    # Its event's arrival when it was made (hookline.deliveries.NewDelivery), NULL if not
    # known: reads of the event look in that day and later only.
    sa.Column("event_received_at", UTCDateTime, nullable=True),
    sa.Index(
        "ix_deliveries_due",
        "webhook_id",
        "next_attempt_at",
        postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
        sqlite_where=sa.text("next_attempt_at IS NOT NULL"),
    ),
    # The attempts each webhook has in flight anywhere: claims count other processes'.
    sa.Index(
        "ix_deliveries_leased",
        "webhook_id",
        "lease_owner",
        "lease_until",
        postgresql_where=sa.text("lease_owner IS NOT NULL"),
        sqlite_where=sa.text("lease_owner IS NOT NULL"),
    ),
    sa.Index(
        "ix_deliveries_fifo",
        "webhook_id",
        "fifo_position",
        "id",
        postgresql_where=sa.text("fifo_position IS NOT NULL"),
        sqlite_where=sa.text("fifo_position IS NOT NULL"),
    ),
    sa.Index(None, "webhook_id", "triggered_at"),
    sa.Index(None, "webhook_id", "ended_at"),
    # A recover looks up, for each event of a batch, its deliveries to the webhook.
    sa.Index(None, "webhook_id", "event_id"),
    sa.Index(None, "triggered_at"),
    postgresql_partition_by="RANGE (triggered_at)",
)

# The attempts each tenant has in flight anywhere: claims count other processes' against
# HOOKLINE_TENANT_CONCURRENCY as they count a webhook's (migration 0013).
sa.Index(
    "ix_deliveries_tenant_leased",
    deliveries.c.tenant_id,
    deliveries.c.lease_owner,
    deliveries.c.lease_until,
    postgresql_where=sa.text("lease_owner IS NOT NULL"),
    sqlite_where=sa.text("lease_owner IS NOT NULL"),
)

# The webhooks that have deliveries with a due time, and a lower bound of the earliest:
# claims walk this small table (oldest first, fairly between tenants) instead of the queue.
due_webhooks = sa.Table(
    "due_webhooks",
    metadata,
    sa.Column("webhook_id", sa.ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("due_at", UTCDateTime, nullable=False),
    sa.Index(None, "due_at"),
)

# What claims took of each rate-limited webhook lately: a claim takes no more than the
# webhook's rate limit less what was taken within the last window (hookline.pacing).
webhook_sends = sa.Table(
    "webhook_sends",
    metadata,
    sa.Column("webhook_id", sa.ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("sent_at", UTCDateTime, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# Each tenant's publishing allowance (token buckets, refilled by elapsed time): in the
# database, so the quota holds across every process publishing for the tenant.
publish_quotas = sa.Table(
    "publish_quotas",
    metadata,
    sa.Column("tenant_id", sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("events", sa.Float, nullable=False),
    sa.Column("bytes", sa.Float, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# Work a webhook's owner asked for that runs in the background, resumably: a recover
# (hookline.recover) walks the tenant's events of a window in (received_at, id) order, and
# its cursor is the last one it looked at. A runner holds a lease on the task while it
# works on it; ``stepped_at`` is when it last had a turn.
tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("tenant_id", sa.String(36), nullable=False),
    sa.Column("webhook_id", sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("only", sa.String(10), nullable=False),
    sa.Column("since", UTCDateTime, nullable=False),
    sa.Column("until", UTCDateTime, nullable=False),
    sa.Column("total", sa.Integer, nullable=True),
    sa.Column("done", sa.Integer, nullable=False),
    sa.Column("recovered", sa.Integer, nullable=False),
    sa.Column("cursor_at", UTCDateTime, nullable=True),
    sa.Column("cursor_id", sa.String(200), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by_user_id", sa.String(200), nullable=False),
    sa.Column("stepped_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.Column("lease_owner", sa.String(64), nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Index(None, "webhook_id", "created_at"),
    # The unfinished tasks: what runners take turns on, and what the caps count.
    sa.Index(
        "ix_tasks_unfinished",
        "tenant_id",
        "stepped_at",
        postgresql_where=sa.text("finished_at IS NULL"),
        sqlite_where=sa.text("finished_at IS NULL"),
    ),
    sa.Index(None, "finished_at"),
)

# No foreign key to deliveries: on PostgreSQL it would make dropping a day of deliveries
# scan the attempts. Attempts go with their delivery's day instead (their partition column
# is its triggered_at), and a deleted webhook's are deleted with it.
delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("delivery_id", sa.String(36), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),
    sa.Column("delivery_triggered_at", UTCDateTime, nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    postgresql_partition_by="RANGE (delivery_triggered_at)",
)
