"""The address book (contacts, groups, memberships) and the per-message text, sender and reference of
personalised sends (group templates, CSV campaigns).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_contact_groups_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_groups")),
        sa.UniqueConstraint("account_id", "name", name=op.f("uq_contact_groups_account_id_name")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("msisdn", sa.String(length=20), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("last_name", sa.String(length=100), nullable=False, server_default=""),
        sa.Column("first_name", sa.String(length=100), nullable=False, server_default=""),
        sa.Column("company", sa.String(length=100), nullable=False, server_default=""),
        sa.Column("birth_date", sa.String(length=10), nullable=True),
        sa.Column("other", sa.Text(), nullable=False, server_default=""),
        sa.Column("fields", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_contacts_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("account_id", "msisdn", name=op.f("uq_contacts_account_id_msisdn")),
    )
    op.create_index("ix_contacts_account_name", "contacts", ["account_id", "last_name", "id"])
    op.create_table(
        "contact_group_members",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["contact_groups.id"], name=op.f("fk_contact_group_members_group_id_contact_groups")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_group_members_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("group_id", "contact_id", name=op.f("pk_contact_group_members")),
    )
    op.create_index("ix_contact_group_members_contact", "contact_group_members", ["contact_id"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("text", sa.Text(), nullable=True))
        batch.add_column(sa.Column("sender", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("ref_client", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("segments", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("segments")
        batch.drop_column("ref_client")
        batch.drop_column("sender")
        batch.drop_column("text")
    op.drop_index("ix_contact_group_members_contact", table_name="contact_group_members")
    op.drop_table("contact_group_members")
    op.drop_index("ix_contacts_account_name", table_name="contacts")
    op.drop_table("contacts")
    op.drop_table("contact_groups")
