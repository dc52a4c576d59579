"""recover and replay: the tasks table, the task that made a delivery, and the indexes a
recover walks (a tenant's events by time, a webhook's deliveries by event)

Revision ID: 0010
Revises: 0009

Existing deliveries were made by no task (``task_id`` NULL). The two indexes are built over
the existing rows: on a large history, expect the upgrade to take a while.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_UNFINISHED = sa.text("finished_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(36), nullable=False),
        sa.Column("webhook_id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("only", sa.String(10), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("recovered", sa.Integer(), nullable=False),
        sa.Column("cursor_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cursor_id", sa.String(200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_user_id", sa.String(200), nullable=False),
        sa.Column("stepped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_tasks_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
    )
    op.create_index("ix_tasks_webhook_id_created_at", "tasks", ["webhook_id", "created_at"])
    op.create_index(
        "ix_tasks_unfinished",
        "tasks",
        ["tenant_id", "stepped_at"],
        postgresql_where=_UNFINISHED,
        sqlite_where=_UNFINISHED,
    )
    op.create_index("ix_tasks_finished_at", "tasks", ["finished_at"])
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("task_id", sa.String(36), nullable=True))
        batch_op.create_index("ix_deliveries_webhook_id_event_id", ["webhook_id", "event_id"])
    op.create_index(
        "ix_events_fanned_out",
        "events",
        ["tenant_id", "received_at", "id"],
        postgresql_where=sa.text("fanout_at IS NULL"),
        sqlite_where=sa.text("fanout_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_fanned_out", table_name="events")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_webhook_id_event_id")
        batch_op.drop_column("task_id")
    op.drop_index("ix_tasks_finished_at", table_name="tasks")
    op.drop_index("ix_tasks_unfinished", table_name="tasks")
    op.drop_index("ix_tasks_webhook_id_created_at", table_name="tasks")
    op.drop_table("tasks")
