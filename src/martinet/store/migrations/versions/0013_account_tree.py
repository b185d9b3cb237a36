"""The account tree of resellers: operator accounts, closed sub-accounts, inherited limits, sender IDs, key
expiry, and the reference and counterparty of credit transfers in the ledger.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        # A plain-text default ('0' reads as false on both databases): with an SQL expression as default, Alembic
        # copies the table on SQLite, which the foreign keys pointing at accounts forbid once there are rows.
        batch_op.add_column(sa.Column("operator", sa.Boolean(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("closed_at", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("allowed_lanes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("allowed_countries", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("sender_policy", sa.String(length=8), server_default="any", nullable=False))
        batch_op.add_column(sa.Column("profile", sa.Text(), nullable=True))
    # Outside the batch: on SQLite an index created inside one makes Alembic copy the table, which foreign keys
    # pointing at accounts forbid once there are rows.
    op.create_index("ix_accounts_parent_id", "accounts", ["parent_id"], unique=False)
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reference", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("counterparty_id", sa.Integer(), nullable=True))
    op.create_table(
        "sender_ids",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(length=11), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("decided_at", sa.BigInteger(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_sender_ids_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_ids")),
        sa.UniqueConstraint("account_id", "sender", name=op.f("uq_sender_ids_account_id_sender")),
    )


def downgrade() -> None:
    op.drop_table("sender_ids")
    with op.batch_alter_table("ledger", schema=None) as batch_op:
        batch_op.drop_column("counterparty_id")
        batch_op.drop_column("reference")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    op.drop_index("ix_accounts_parent_id", table_name="accounts")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("profile")
        batch_op.drop_column("sender_policy")
        batch_op.drop_column("allowed_countries")
        batch_op.drop_column("allowed_lanes")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("operator")
