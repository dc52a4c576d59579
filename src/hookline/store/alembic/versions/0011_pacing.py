"""pacing: a webhook's rate limit and ordering, the sends a rate-limited webhook had
lately, and the indexes an ordered webhook's queue is read by

Revision ID: 0011
Revises: 0010

Every existing webhook keeps today's behaviour: no rate limit, ordering "none".
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rate_limit", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("ordering", sa.String(length=10), server_default="none", nullable=False)
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fifo_position", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_deliveries_fifo",
        "deliveries",
        ["webhook_id", "fifo_position", "id"],
        postgresql_where=sa.text("fifo_position IS NOT NULL"),
        sqlite_where=sa.text("fifo_position IS NOT NULL"),
    )
    op.create_index(
        "ix_events_waiting",
        "events",
        ["tenant_id", "received_at"],
        postgresql_where=sa.text("fanout_at IS NOT NULL"),
        sqlite_where=sa.text("fanout_at IS NOT NULL"),
    )
    op.create_table(
        "webhook_sends",
        sa.Column("webhook_id", sa.String(length=36), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_sends_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("webhook_id", "sent_at", name=op.f("pk_webhook_sends")),
    )


def downgrade() -> None:
    op.drop_table("webhook_sends")
    op.drop_index("ix_events_waiting", table_name="events")
    op.drop_index("ix_deliveries_fifo", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("fifo_position")
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("ordering")
        batch_op.drop_column("rate_limit")
