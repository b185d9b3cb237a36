"""Which status changes an account is called back for: every reportable one (smsmode's way) or only final ones.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("callback_statuses", sa.String(length=8), nullable=False, server_default="all"))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("callback_statuses")
