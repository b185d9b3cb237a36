"""Kept receipts remember the handset they name and, while their connector is still learning how its carrier
writes message IDs, which reading of the ID each row stands for.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("unmatched_receipts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handset", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reading", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("receipt_key", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_unmatched_receipts_received", ["received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("unmatched_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_unmatched_receipts_received")
        batch_op.drop_column("receipt_key")
        batch_op.drop_column("reading")
        batch_op.drop_column("handset")
