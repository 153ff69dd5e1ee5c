"""Index (term, message_id) so newest-first message search stops after one page.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_search_term_message", "message_search_terms", ["term", "message_id"])


def downgrade() -> None:
    op.drop_index("ix_search_term_message", table_name="message_search_terms")
