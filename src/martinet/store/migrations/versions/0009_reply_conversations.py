"""Reply numbers are held per conversation: which account talks to a phone from which reply number.

Filled from the messages already sent from a reply number: each (number, phone) pair goes to the account that
used it last, which is where its replies went so far.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_conversations",
        sa.Column("msisdn", sa.String(length=20), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_reply_conversations_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("msisdn", "number", name=op.f("pk_reply_conversations")),
    )
    op.execute(
        """
        INSERT INTO reply_conversations (msisdn, number, account_id, last_at)
        SELECT m.msisdn, REPLACE(m.reply_from, '+', ''), m.account_id, m.updated_at
        FROM messages m
        WHERE m.id IN (
            SELECT MAX(id) FROM messages WHERE reply_from IS NOT NULL GROUP BY REPLACE(reply_from, '+', ''), msisdn
        )
        """
    )


def downgrade() -> None:
    op.drop_table("reply_conversations")
