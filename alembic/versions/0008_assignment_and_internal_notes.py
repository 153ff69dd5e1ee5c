"""Who is handling a conversation, and staff-only notes.

- ``conversations.assignee_user_id``: the provider on the care team handling it (NULL: nobody
  yet). A plain indexed column: SQLite cannot add a foreign key to an existing table without
  rebuilding it, and the service admits only active providers on the patient's care team.
- ``internal_notes``: notes the care team writes inside a conversation, never shown to the
  patient; the text is AES-GCM ciphertext bound to (conversation, note id, author).

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("conversations", sa.Column("assignee_user_id", sa.Integer(), nullable=True))
    op.create_index("ix_conversations_assignee_user_id", "conversations", ["assignee_user_id"])
    op.create_table(
        "internal_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=False),
        sa.Column("body_ct", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["author_user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_internal_notes_conversation_created", "internal_notes",
                    ["conversation_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_internal_notes_conversation_created", table_name="internal_notes")
    op.drop_table("internal_notes")
    op.drop_index("ix_conversations_assignee_user_id", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("assignee_user_id")
