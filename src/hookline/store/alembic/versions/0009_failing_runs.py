"""operational events: each webhook keeps its failing run (when it began, its failed
deliveries, those not yet counted by a hookline.delivery.exhausted event, and the latest
such event)

Revision ID: 0009
Revises: 0008

Every existing webhook starts outside any run: no failing_since, counts 0.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("run_failures", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(
            sa.Column("run_unreported", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(
            sa.Column("exhausted_event_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("exhausted_event_at")
        batch_op.drop_column("run_unreported")
        batch_op.drop_column("run_failures")
        batch_op.drop_column("failing_since")
