"""A table readiness checks write to, to prove that the store can still commit (a full disk, a read-only
database).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_probes",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("written_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_store_probes")),
    )


def downgrade() -> None:
    op.drop_table("store_probes")
