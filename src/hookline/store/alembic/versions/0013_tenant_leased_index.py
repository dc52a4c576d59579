"""the deliveries leased now, by tenant: a claim counts the attempts other processes hold
for a tenant, so HOOKLINE_TENANT_CONCURRENCY holds across every process on the database

Revision ID: 0013
Revises: 0012

The index holds only the rows leased at any moment, a handful, but building it reads the
whole deliveries table once: on a large history, expect the upgrade to take a while.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_LEASED = sa.text("lease_owner IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_tenant_leased",
        "deliveries",
        ["tenant_id", "lease_owner", "lease_until"],
        postgresql_where=_LEASED,
        sqlite_where=_LEASED,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_tenant_leased", table_name="deliveries")
