"""history in day partitions: events, deliveries and delivery attempts range-partitioned by
day on PostgreSQL; an attempt carries its delivery's day and no foreign key, a delivery its
event's arrival (both databases)

Revision ID: 0012
Revises: 0011

On PostgreSQL each table is rebuilt: the old one is renamed, a partitioned one with the
same columns, keys (with the partition column added) and indexes takes its name, with a
default partition and one partition for every day its rows fall on up to a few days ahead,
and the rows are copied over. This copies the whole history once: on a large database,
plan for the time a copy of the three tables takes (docs/deployment.md). SQLite keeps its
tables and gains the two columns (a delivery's event arrival stays unknown there: NULL).
"""

import re

import sqlalchemy as sa
from alembic import op

from hookline.store import partitions

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_KEYS = {
    partitions.EVENTS: "tenant_id, id, received_at",
    partitions.DELIVERIES: "id, triggered_at",
    partitions.ATTEMPTS: "delivery_id, number, delivery_triggered_at",
}
_FOREIGN_KEYS = {
    partitions.EVENTS: ("fk_events_tenant_id_tenants", "tenant_id", "tenants"),
    partitions.DELIVERIES: ("fk_deliveries_webhook_id_webhooks", "webhook_id", "webhooks"),
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Attempts first: their foreign key holds the deliveries' primary key.
        order = (partitions.ATTEMPTS, partitions.DELIVERIES, partitions.EVENTS)
        indexes = {history: _set_aside(bind, history) for history in order}
        for history in order:
            _partition(bind, history, indexes[history])
        for history in order:
            op.drop_table(f"{history.table}_0011")
    else:
        with op.batch_alter_table("delivery_attempts") as batch_op:
            batch_op.drop_constraint(
                "fk_delivery_attempts_delivery_id_deliveries", type_="foreignkey"
            )
            batch_op.add_column(
                sa.Column("delivery_triggered_at", sa.DateTime(timezone=True), nullable=True)
            )
        op.execute(
            "UPDATE delivery_attempts SET delivery_triggered_at = (SELECT d.triggered_at"
            " FROM deliveries d WHERE d.id = delivery_attempts.delivery_id)"
        )
        with op.batch_alter_table("delivery_attempts") as batch_op:
            batch_op.alter_column("delivery_triggered_at", nullable=False)
        op.add_column(
            "deliveries",
            sa.Column("event_received_at", sa.DateTime(timezone=True), nullable=True),
        )


def _set_aside(bind: sa.Connection, history: partitions.History) -> list[str]:
    """Rename the table and free the names of its constraints and indexes for the new one;
    return the definitions of its indexes other than the primary key's."""
    old = f"{history.table}_0011"
    op.rename_table(history.table, old)
    constraints = bind.execute(
        sa.text(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:table)"
            " ORDER BY contype = 'p'"
        ),
        {"table": old},
    ).scalars()
    for name in list(constraints):
        op.execute(f"ALTER TABLE {old} DROP CONSTRAINT {name}")
    indexes = bind.execute(
        sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :table"),
        {"table": old},
    ).all()
    for name, _ in indexes:
        op.execute(f"DROP INDEX {name}")
    return [definition for _, definition in indexes]


def _partition(bind: sa.Connection, history: partitions.History, indexes: list[str]) -> None:
    table, old = history.table, f"{history.table}_0011"
    if history == partitions.ATTEMPTS:
        extra = ", delivery_triggered_at timestamp with time zone NOT NULL"
        source = (
            f"SELECT a.*, d.triggered_at FROM {old} a"  # noqa: S608 (names are ours)
            " JOIN deliveries_0011 d ON d.id = a.delivery_id"
        )
        day_column = "triggered_at"
    elif history == partitions.DELIVERIES:
        extra = ", event_received_at timestamp with time zone"
        source = (
            f"SELECT d.*, e.received_at FROM {old} d"  # noqa: S608 (names are ours)
            " LEFT JOIN events_0011 e ON e.tenant_id = d.tenant_id AND e.id = d.event_id"
        )
        day_column = history.column
    else:
        extra, source, day_column = "", f"SELECT * FROM {old}", history.column  # noqa: S608 (names are ours)
    op.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS{extra},"
        f" CONSTRAINT pk_{table} PRIMARY KEY ({_KEYS[history]}))"
        f" PARTITION BY RANGE ({history.column})"
    )
    if history in _FOREIGN_KEYS:
        name, column, parent = _FOREIGN_KEYS[history]
        op.execute(
            f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({column})"
            f" REFERENCES {parent} (id) ON DELETE CASCADE"
        )
    for definition in indexes:
        op.execute(re.sub(r" ON \S+ USING ", f" ON {table} USING ", definition, count=1))
    partitions.create_default(bind, history)
    days = bind.execute(
        sa.text(f"SELECT DISTINCT ({day_column} AT TIME ZONE 'UTC')::date FROM ({source}) AS r")  # noqa: S608 (names are ours)
    ).scalars()
    now = bind.execute(sa.text("SELECT now()")).scalar_one()
    partitions.create_days(bind, history, {*days, *partitions.days_ahead(now)})
    op.execute(f"INSERT INTO {table} {source}")


def downgrade() -> None:
    raise NotImplementedError("0012 cannot be undone: restore a backup taken before it")
