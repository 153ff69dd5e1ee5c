"""Conversations and what they hold: messages, their revisions and drafts, read
states, attachments, staff-only notes, the daily counters and the search index.

PHI that the product does not need to query on (message bodies, attachment bytes) is stored
only as AES-GCM ciphertext; see ``care_messaging.crypto``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, Integer, LargeBinary, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from care_messaging.models.common import (
    Category,
    ConversationStatus,
    Medium,
    Priority,
    utcnow,
)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        # Covers the list's page-id query (ordered by attention, then activity), its count and
        # unread sums (last_seq) without loading conversation rows: a provider's 10,000
        # conversations are sorted index-only.
        Index("ix_conversations_patient_activity", "patient_id", "last_message_at", "last_seq",
              "attention"),
        Index("ix_conversations_activity", "last_message_at"),
        # The list's order: raised conversations (red flag, overdue) first, then activity.
        Index("ix_conversations_attention_activity", "attention", "last_message_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patients.id")
    topic: str = Field(max_length=200)
    status: str = Field(default=ConversationStatus.ACTIVE, max_length=20)
    priority: str = Field(default=Priority.ROUTINE, max_length=20)
    category: str = Field(default=Category.CHECK_IN, max_length=30)
    medium: str = Field(default=Medium.SECURE_MESSAGE, max_length=20)
    reason: str = Field(default="", max_length=300)
    created_by_user_id: int = Field(foreign_key="users.id")
    # The provider the patient sees as "who this is with": the starter, or the first to reply.
    provider_user_id: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    last_message_at: datetime = Field(default_factory=utcnow)
    # Denormalised counters keep list pages O(page) instead of O(history).
    last_seq: int = Field(default=0)
    last_message_id: int | None = Field(default=None)
    first_provider_reply_at: datetime | None = None
    # Who on the care team is handling it (services/assignment.py; migration 0008): None until
    # a provider takes it or is assigned. Not a foreign key: SQLite cannot add one to an
    # existing table without rebuilding it; the service admits only active providers on the
    # patient's care team.
    assignee_user_id: int | None = Field(default=None, index=True)

    # Care-team triage (migration 0009, services/reply_by.py and services/red_flags.py):
    # when the oldest unanswered patient message expects a reply (cleared by a provider's
    # reply), when the reply-by job escalated it, when a red-flag phrase flagged it, and the
    # list's sort rank (2 red flag, 1 overdue, 0 normal) that raises those to the top.
    reply_by_at: datetime | None = None
    escalated_at: datetime | None = None
    red_flag_at: datetime | None = None
    attention: int = Field(default=0)


class InternalNote(SQLModel, table=True):
    """A staff-only note inside a conversation (services/internal_notes.py; migration 0008).

    A table of its own, never a kind of message: nothing that reads messages (the thread, the
    list preview, unread counts, search, emails) can ever pick a note up. The text is stored
    only as AES-GCM ciphertext bound to (conversation, note id, author) (``crypto.note_aad``).
    """

    __tablename__ = "internal_notes"
    __table_args__ = (Index("ix_internal_notes_conversation_created", "conversation_id",
                            "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id")
    author_user_id: int = Field(foreign_key="users.id")
    body_ct: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    key_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_message_conversation_seq"),
        UniqueConstraint("sender_user_id", "client_msg_id", name="uq_message_sender_client_id"),
        Index("ix_messages_sender_created", "sender_user_id", "created_at"),
        Index("ix_messages_created", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id")
    sender_user_id: int = Field(foreign_key="users.id")
    seq: int
    client_msg_id: str = Field(max_length=64)
    body_ct: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    key_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    # Retract and correct (migration 0010; services/message_changes.py): the original body
    # above never changes; these say at a glance (no query) whether a revision row applies.
    retracted_at: datetime | None = None
    corrected_at: datetime | None = None


class MessageRevision(SQLModel, table=True):
    """One retraction or correction of a message, in order. Append-only by design: the
    original body stays in ``messages`` and every correction's text stays here, encrypted
    and bound to (conversation, message, revision number, editor) (``crypto.revision_aad``)."""

    __tablename__ = "message_revisions"
    __table_args__ = (
        UniqueConstraint("message_id", "revision_no", name="uq_message_revision_no"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="messages.id")
    conversation_id: int = Field(foreign_key="conversations.id")
    revision_no: int
    kind: str = Field(max_length=10)
    editor_user_id: int = Field(foreign_key="users.id")
    # A correction's new text; empty for a retraction.
    body_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    key_id: str = Field(default="", max_length=32)
    created_at: datetime = Field(default_factory=utcnow)


class MessageDraft(SQLModel, table=True):
    """Unsent composer text of one user in one conversation (services/drafts.py), encrypted
    and bound to both (``crypto.draft_aad``). Deleted when that user sends there."""

    __tablename__ = "message_drafts"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", primary_key=True)
    body_ct: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    key_id: str = Field(max_length=32)
    updated_at: datetime = Field(default_factory=utcnow)


class MessageDailyCount(SQLModel, table=True):
    """Messages per patient per UTC day (migration 0004): the dashboard's 30-day chart sums
    at most 30 rows per visible patient instead of counting a month of messages."""

    __tablename__ = "message_daily_counts"

    patient_id: int = Field(foreign_key="patients.id", primary_key=True)
    day: date = Field(primary_key=True)
    messages: int = Field(default=0)


# Message search (migration 0003): a full-text index over the blind-index tokens of each
# message (``crypto.search_terms``: keyed hashes, never plaintext); the document is the
# space-joined hashes and the row id is the message id. On SQLite it is a contentless FTS5
# virtual table; SQLite keeps it in the shadow tables below, declared here only so that schema
# comparison matches what the migration creates. Never ``create_all`` these: the migration
# owns them (on PostgreSQL ``message_fts`` is a table with a GIN-indexed tsvector instead).
MESSAGE_FTS = "message_fts"
message_fts = Table(MESSAGE_FTS, SQLModel.metadata, Column("terms", Text),
                    info={"virtual": "fts5"})
for _name, _columns in (
    ("config", (Column("k", Text, primary_key=True), Column("v", Text))),
    ("data", (Column("id", Integer, primary_key=True, nullable=True),
              Column("block", LargeBinary))),
    ("idx", (Column("segid", Text, primary_key=True), Column("term", Text, primary_key=True),
             Column("pgno", Text))),
):
    Table(f"{MESSAGE_FTS}_{_name}", SQLModel.metadata, *_columns, info={"fts5_shadow": True})


class ReadState(SQLModel, table=True):
    __tablename__ = "read_states"
    # Receipts look up a conversation's readers; the primary key leads with the user.
    __table_args__ = (Index("ix_read_states_conversation_user", "conversation_id", "user_id"),)

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", primary_key=True)
    last_read_seq: int = Field(default=0)
    last_delivered_seq: int = Field(default=0)
    read_at: datetime | None = None
    delivered_at: datetime | None = None


class Attachment(SQLModel, table=True):
    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="messages.id", index=True)
    uploader_user_id: int = Field(foreign_key="users.id")
    display_name: str = Field(max_length=255)
    stored_name: str = Field(max_length=64, unique=True)
    content_type: str = Field(max_length=100)
    size_bytes: int
    sha256: str = Field(max_length=64)
    key_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
