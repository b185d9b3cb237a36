"""Lanes and validity on the queue, account weights and rate limits, live engines.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight", sa.SmallInteger(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("rate_limit", sa.Float(), nullable=True))
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.add_column(sa.Column("validity", sa.Integer(), nullable=True))
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane", sa.String(length=16), server_default="marketing", nullable=False))
        batch_op.add_column(sa.Column("expires_at", sa.BigInteger(), nullable=True))
    op.execute("UPDATE messages SET lane = (SELECT sends.lane FROM sends WHERE sends.id = messages.send_id)")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_queue")
        batch_op.drop_index("ix_messages_lease")
        batch_op.create_index(
            "ix_messages_scheduled",
            ["due_at", "id"],
            unique=False,
            sqlite_where=sa.text("state = 'scheduled'"),
            postgresql_where=sa.text("state = 'scheduled'"),
        )
        batch_op.create_index(
            "ix_messages_leased",
            ["lease_until"],
            unique=False,
            sqlite_where=sa.text("state = 'submitting'"),
            postgresql_where=sa.text("state = 'submitting'"),
        )
        batch_op.create_index("ix_messages_lane", ["lane", "state", "account_id", "due_at", "id"], unique=False)
        batch_op.create_index(
            "ix_messages_expiry",
            ["expires_at"],
            unique=False,
            sqlite_where=sa.text("state = 'queued'"),
            postgresql_where=sa.text("state = 'queued'"),
        )
    op.create_table(
        "engine_nodes",
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.BigInteger(), nullable=False),
        sa.Column("heartbeat_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner", name=op.f("pk_engine_nodes")),
    )


def downgrade() -> None:
    op.drop_table("engine_nodes")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_expiry")
        batch_op.drop_index("ix_messages_lane")
        batch_op.drop_index("ix_messages_leased")
        batch_op.drop_index("ix_messages_scheduled")
        batch_op.create_index("ix_messages_queue", ["state", "due_at"], unique=False)
        batch_op.create_index("ix_messages_lease", ["state", "lease_until"], unique=False)
        batch_op.drop_column("expires_at")
        batch_op.drop_column("lane")
    with op.batch_alter_table("sends", schema=None) as batch_op:
        batch_op.drop_column("validity")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("rate_limit")
        batch_op.drop_column("weight")
