"""the deliveries leased now, by webhook: a claim counts the attempts other processes hold
for a webhook, so its concurrency bound holds across every process on the database

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PARTIAL = {
    "postgresql_where": sa.text("lease_owner IS NOT NULL"),
    "sqlite_where": sa.text("lease_owner IS NOT NULL"),
}


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_leased", ["webhook_id", "lease_owner", "lease_until"], **_PARTIAL
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_leased", **_PARTIAL)
