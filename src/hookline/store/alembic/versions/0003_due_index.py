"""the due index covers the webhook: claims skip busy webhooks without reading rows

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_PARTIAL = {
    "postgresql_where": sa.text("next_attempt_at IS NOT NULL"),
    "sqlite_where": sa.text("next_attempt_at IS NOT NULL"),
}


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due", **_PARTIAL)
        batch_op.create_index("ix_deliveries_due", ["next_attempt_at", "webhook_id"], **_PARTIAL)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_due", **_PARTIAL)
        batch_op.create_index("ix_deliveries_due", ["next_attempt_at"], **_PARTIAL)
