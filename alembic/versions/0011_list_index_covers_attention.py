"""The list's covering index gains ``attention``.

Since triage (0009) the list is ordered by ``attention`` first; the page-id query's index
``ix_conversations_patient_activity`` (patient_id, last_message_at, last_seq) did not hold it,
so sorting a provider's 10,000 conversations read every one of their rows again (the list
query went from 5.8 to 9 ms in the bench). With ``attention`` in the index the page ids, the
count and the unread sums are index-only once more.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_patient_activity")
        batch_op.create_index("ix_conversations_patient_activity",
                              ["patient_id", "last_message_at", "last_seq", "attention"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_patient_activity")
        batch_op.create_index("ix_conversations_patient_activity",
                              ["patient_id", "last_message_at", "last_seq"], unique=False)
