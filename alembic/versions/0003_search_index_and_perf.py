"""Full-text message search over blind-index tokens; indexes for clinic-scale reads.

Indexes: ``ix_conversations_patient_activity`` gains ``last_seq`` (conversation lists, counts
and unread sums become index-only); ``ix_read_states_conversation_user`` serves receipts.

Replaces the row-per-term ``message_search_terms`` table (one row per word per message, and a
query that had to sort every match) with one document per message:

- SQLite: a contentless FTS5 table ``message_fts(terms)``; rowid = message id, document = the
  space-joined HMAC tokens. ``ORDER BY rowid DESC LIMIT n`` walks the posting lists newest
  first and stops after n hits.
- PostgreSQL: a table ``message_fts(rowid, terms tsvector)`` with a GIN index.

Existing terms are carried over, so search keeps working for old messages.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # detail=none: whole-token membership is all search needs (no phrases, no positions),
        # which keeps the index a fraction of the size; columnsize=0 drops the docsize table.
        op.execute(
            "CREATE VIRTUAL TABLE message_fts USING fts5("
            "terms, content='', detail='none', columnsize=0, tokenize='ascii')"
        )
        op.execute(
            "INSERT INTO message_fts(rowid, terms) "
            "SELECT message_id, group_concat(term, ' ') FROM message_search_terms "
            "GROUP BY message_id"
        )
    else:
        op.execute(
            "CREATE TABLE message_fts (rowid BIGINT PRIMARY KEY "
            "REFERENCES messages(id), terms TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_message_fts_terms ON message_fts USING GIN (terms)")
        op.execute(
            "INSERT INTO message_fts(rowid, terms) "
            "SELECT message_id, array_to_tsvector(array_agg(term)) FROM message_search_terms "
            "GROUP BY message_id"
        )
    with op.batch_alter_table("message_search_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_search_term_conversation")
        batch_op.drop_index(batch_op.f("ix_message_search_terms_message_id"))
    op.drop_table("message_search_terms")
    with op.batch_alter_table("read_states", schema=None) as batch_op:
        batch_op.create_index(
            "ix_read_states_conversation_user", ["conversation_id", "user_id"], unique=False
        )
    # The list's page ids, count and unread sums come from this index alone (last_seq added).
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_patient_activity")
        batch_op.create_index(
            "ix_conversations_patient_activity",
            ["patient_id", "last_message_at", "last_seq"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_patient_activity")
        batch_op.create_index(
            "ix_conversations_patient_activity", ["patient_id", "last_message_at"], unique=False
        )
    with op.batch_alter_table("read_states", schema=None) as batch_op:
        batch_op.drop_index("ix_read_states_conversation_user")
    op.create_table(
        "message_search_terms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("term", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("message_search_terms", schema=None) as batch_op:
        batch_op.create_index("ix_search_term_conversation", ["term", "conversation_id"])
        batch_op.create_index(batch_op.f("ix_message_search_terms_message_id"), ["message_id"])
    # The tokens cannot be recovered from a contentless FTS5 index: re-index after downgrade.
    op.execute("DROP TABLE message_fts")
