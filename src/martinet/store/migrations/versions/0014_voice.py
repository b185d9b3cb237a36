"""Voice sends: the channel of a send ("sms" or "voice"), and the title and language a voice send is read with.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.add_column(sa.Column("channel", sa.String(length=8), nullable=False, server_default="sms"))
        batch.add_column(sa.Column("voice_title", sa.Text(), nullable=True))
        batch.add_column(sa.Column("voice_language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sends") as batch:
        batch.drop_column("voice_language")
        batch.drop_column("voice_title")
        batch.drop_column("channel")
