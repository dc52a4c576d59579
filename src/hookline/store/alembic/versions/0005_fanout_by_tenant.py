"""the fan-out index leads with the tenant: a fan-out round finds the tenants with waiting
events and takes each one's earliest, at a cost that does not grow with the backlog

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PARTIAL = {
    "postgresql_where": sa.text("fanout_at IS NOT NULL"),
    "sqlite_where": sa.text("fanout_at IS NOT NULL"),
}


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_fanout", **_PARTIAL)
        batch_op.create_index("ix_events_fanout", ["tenant_id", "fanout_at"], **_PARTIAL)


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_fanout", **_PARTIAL)
        batch_op.create_index("ix_events_fanout", ["fanout_at"], **_PARTIAL)
