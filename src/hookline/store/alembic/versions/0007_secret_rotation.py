"""secret rotation with a grace period: a webhook keeps the secret its current one replaced
(sealed) until the grace period ends

Revision ID: 0007
Revises: 0006

Both columns are empty for every existing webhook: none is rotating.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sealed_previous_secret", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("secret_rotating_until", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.drop_column("secret_rotating_until")
        batch_op.drop_column("sealed_previous_secret")
