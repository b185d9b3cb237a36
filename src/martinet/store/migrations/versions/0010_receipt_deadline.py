"""Each submitted part has a receipt deadline: past it, with no final receipt, the engine asks the carrier or
concludes that the outcome is unknown. Parts already waiting get their submission time plus four hours.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_FOUR_HOURS_MS = 4 * 3600 * 1000


def upgrade() -> None:
    with op.batch_alter_table("parts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_due", sa.BigInteger(), nullable=True))
    waiting = sa.text("UPDATE parts SET receipt_due = submitted_at + :delay WHERE state = 'sent'")
    op.execute(waiting.bindparams(delay=_FOUR_HOURS_MS))
    op.create_index(
        "ix_parts_receipt_due",
        "parts",
        ["receipt_due"],
        unique=False,
        sqlite_where=sa.text("state = 'sent'"),
        postgresql_where=sa.text("state = 'sent'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_parts_receipt_due",
        table_name="parts",
        sqlite_where=sa.text("state = 'sent'"),
        postgresql_where=sa.text("state = 'sent'"),
    )
    with op.batch_alter_table("parts", schema=None) as batch_op:
        batch_op.drop_column("receipt_due")
