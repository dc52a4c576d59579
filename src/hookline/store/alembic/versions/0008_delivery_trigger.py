"""what made each delivery: an event, a resend or a test send

Revision ID: 0008
Revises: 0007

Every existing delivery was made by an event or a resend, which were not told apart: they
all become "event".
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("trigger", sa.String(length=10), server_default="event", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("trigger")
