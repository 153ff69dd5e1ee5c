"""All tables. Schema changes go through Alembic (``alembic/versions``), never ``create_all``.

PHI that the product does not need to query on (message bodies, attachment bytes, TOTP
secrets) is stored only as AES-GCM ciphertext; see ``care_messaging.crypto``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Integer, LargeBinary, Table, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """Aware UTC now: every timestamp in the database is UTC."""
    return datetime.now(UTC)


class Role(StrEnum):
    PATIENT = "patient"
    PROVIDER = "provider"
    ADMIN = "admin"


class ConversationStatus(StrEnum):
    ACTIVE = "active"
    NEEDS_ATTENTION = "needs_attention"
    COMPLETED = "completed"


class Priority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"
    HIGH = "high"


class Category(StrEnum):
    TEST_RESULTS = "test_results"
    APPOINTMENT = "appointment"
    MEDICATION = "medication"
    CARE_INSTRUCTIONS = "care_instructions"
    HEALTH_EDUCATION = "health_education"
    CHECK_IN = "check_in"
    ADMINISTRATIVE = "administrative"


class Medium(StrEnum):
    SECURE_MESSAGE = "secure_message"
    PORTAL = "portal"
    PHONE = "phone"
    EMAIL = "email"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(index=True, unique=True, max_length=254)
    display_name: str = Field(max_length=120)
    role: str = Field(max_length=16, index=True)
    password_hash: str = Field(max_length=255)
    is_active: bool = Field(default=True)
    totp_secret_ct: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    totp_key_id: str = Field(default="", max_length=32)
    totp_enabled: bool = Field(default=False)
    totp_required: bool = Field(default=False)
    # Time step of the last TOTP code accepted: a code is never accepted twice (replay).
    totp_last_step: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Patient(SQLModel, table=True):
    __tablename__ = "patients"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True)
    mrn: str = Field(unique=True, index=True, max_length=20)
    first_name: str = Field(max_length=80)
    last_name: str = Field(max_length=80, index=True)
    date_of_birth: date | None = None
    phone: str = Field(default="", max_length=40)
    preferred_medium: str = Field(default=Medium.SECURE_MESSAGE, max_length=20)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Provider(SQLModel, table=True):
    __tablename__ = "providers"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True)
    title: str = Field(default="", max_length=20)
    specialty: str = Field(default="", max_length=80)
    # A clinic lead sees the response-times page (aggregates only; migration 0009).
    is_lead: bool = Field(default=False)


class CareTeamMember(SQLModel, table=True):
    """Which providers may see which patient: the single source of PHI visibility."""

    __tablename__ = "care_team_members"
    __table_args__ = (
        UniqueConstraint("patient_id", "provider_id", name="uq_care_team_member"),
        Index("ix_care_team_provider_patient", "provider_id", "patient_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    patient_id: int = Field(foreign_key="patients.id")
    provider_id: int = Field(foreign_key="providers.id")
    added_at: datetime = Field(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        # Covers the list's page-id query, its count and unread sums (last_seq) without
        # loading conversation rows: a provider's 10,000 conversations are sorted index-only.
        Index("ix_conversations_patient_activity", "patient_id", "last_message_at", "last_seq"),
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


class MessageRevisionKind(StrEnum):
    RETRACT = "retract"
    CORRECT = "correct"


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


class AuditEvent(SQLModel, table=True):
    """Append-only: database triggers refuse UPDATE and DELETE (see the migration)."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_at", "at"),
        Index("ix_audit_actor_at", "actor_user_id", "at"),
        Index("ix_audit_patient_at", "patient_id", "at"),
        Index("ix_audit_object", "object_type", "object_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    actor_user_id: int | None = Field(default=None)
    actor_label: str = Field(default="", max_length=254)
    action: str = Field(max_length=40)
    object_type: str = Field(default="", max_length=30)
    object_id: str = Field(default="", max_length=64)
    patient_id: int | None = Field(default=None)
    outcome: str = Field(max_length=20)
    client_ip: str = Field(default="", max_length=64)
    detail: str = Field(default="", max_length=500)


class AuthSession(SQLModel, table=True):
    """A server-side sign-in session. Only a SHA-256 of the token is stored."""

    __tablename__ = "auth_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str = Field(default="", max_length=40)
    client_ip: str = Field(default="", max_length=64)
    # One-time hand-off ticket: the login handler gets it, the cookie route exchanges it.
    handoff_hash: str | None = Field(default=None, unique=True, max_length=64)
    handoff_expires_at: datetime | None = None


class LoginThrottle(SQLModel, table=True):
    """Failed-login counter per normalised email, kept for unknown emails too."""

    __tablename__ = "login_throttles"

    key: str = Field(primary_key=True, max_length=254)
    failures: int = Field(default=0)
    window_started_at: datetime = Field(default_factory=utcnow)
    locked_until: datetime | None = None


class Job(SQLModel, table=True):
    """A durable background job on the embedded default (care_messaging/jobs/embedded.py).

    ``dedupe_key``: at most one *queued* job per key (a partial unique index), so a burst of
    messages schedules one notification check, not one per message.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due", "status", "run_at"),
        Index("uq_jobs_queued_dedupe", "dedupe_key", unique=True,
              sqlite_where=text("status = 'queued'"),
              postgresql_where=text("status = 'queued'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40)
    args: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="queued", max_length=12)  # queued, running, done, failed
    run_at: datetime = Field(default_factory=utcnow)
    attempts: int = Field(default=0)
    max_attempts: int = Field(default=8)
    locked_by: str = Field(default="", max_length=64)
    locked_until: datetime | None = None
    dedupe_key: str | None = Field(default=None, max_length=200)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class SentNotification(SQLModel, table=True):
    """One email the app decided to send: claimed (``sending``) before the SMTP conversation
    and marked ``sent`` after it, under a unique key, so a job run again never sends it twice.
    Holds no PHI: who, what kind, which conversation id."""

    __tablename__ = "sent_notifications"
    __table_args__ = (Index("ix_sent_notifications_user_at", "user_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(unique=True, max_length=200)
    user_id: int = Field(foreign_key="users.id")
    kind: str = Field(max_length=20)  # new_message, reminder, digest
    conversation_id: int | None = Field(default=None)
    up_to_seq: int = Field(default=0)
    status: str = Field(default="sending", max_length=10)  # sending, sent, failed
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None


class NotificationPreference(SQLModel, table=True):
    """Email choices of one user (no row: both on). The portal shows everything regardless."""

    __tablename__ = "notification_preferences"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    email_on: bool = Field(default=True)
    digest_on: bool = Field(default=True)
    updated_at: datetime = Field(default_factory=utcnow)


class QuickReply(SQLModel, table=True):
    """A reusable reply text with placeholders (services/quick_replies.py). ``owner_user_id``
    None: clinic-wide (the admin's); otherwise one provider's own. Templates hold no PHI:
    the patient's name is filled in only when one is inserted into a reply."""

    __tablename__ = "quick_replies"
    __table_args__ = (Index("ix_quick_replies_owner", "owner_user_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    owner_user_id: int | None = Field(default=None, foreign_key="users.id")
    name: str = Field(max_length=40)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class ClinicSetting(SQLModel, table=True):
    """Clinic-wide settings the admin edits (reply-by targets, working hours, time zone);
    a key without a row has its default (services/reply_by.py)."""

    __tablename__ = "clinic_settings"

    key: str = Field(primary_key=True, max_length=40)
    value: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow)
