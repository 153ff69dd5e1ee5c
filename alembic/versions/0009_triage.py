"""Care-team triage: reply-by times, red flags, quick replies, clinic settings, clinic leads.

- ``conversations``: ``reply_by_at`` (the oldest unanswered patient message's reply-by time),
  ``escalated_at`` (the reply-by job escalated it), ``red_flag_at`` (a red-flag phrase in a
  patient message), ``attention`` (the list's sort rank: red flag 2, overdue 1, else 0) with
  the index that keeps the list's order index-driven.
- ``providers.is_lead``: a clinic lead sees the response-times page.
- ``quick_replies``: reusable reply texts, clinic-wide (no owner) or a provider's own.
- ``clinic_settings``: key/value settings the admin edits (defaults live in the code).

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of the table): other tables reference these by foreign
    # key, and SQLite adds a column with a constant default in place.
    for name in ("reply_by_at", "escalated_at", "red_flag_at"):
        op.add_column("conversations", sa.Column(name, sqlmodel.sql.sqltypes.UTCDateTime(),
                                                 nullable=True))
    op.add_column("conversations", sa.Column("attention", sa.Integer(), nullable=False,
                                             server_default="0"))
    op.create_index("ix_conversations_attention_activity", "conversations",
                    ["attention", "last_message_at"])
    op.add_column("providers", sa.Column("is_lead", sa.Boolean(), nullable=False,
                                         server_default=sa.false()))
    op.create_table(
        "quick_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["owner_user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_quick_replies_owner", "quick_replies", ["owner_user_id", "name"])
    op.create_table(
        "clinic_settings",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("clinic_settings")
    op.drop_index("ix_quick_replies_owner", table_name="quick_replies")
    op.drop_table("quick_replies")
    with op.batch_alter_table("providers") as batch:
        batch.drop_column("is_lead")
    op.drop_index("ix_conversations_attention_activity", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("attention")
        batch.drop_column("red_flag_at")
        batch.drop_column("escalated_at")
        batch.drop_column("reply_by_at")
