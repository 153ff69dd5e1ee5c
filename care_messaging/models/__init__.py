"""All tables, in modules by concern; every name is re-exported here, so
``from care_messaging.models import X`` works for any of them.

Schema changes go through Alembic (``alembic/versions``), never ``create_all``; importing this
package registers every table on ``SQLModel.metadata`` (alembic/env.py relies on it).

PHI that the product does not need to query on (message bodies, attachment bytes, TOTP
secrets) is stored only as AES-GCM ciphertext; see ``care_messaging.crypto``.
"""

from __future__ import annotations

from care_messaging.models.clinic import (
    ClinicSetting,
    QuickReply,
)
from care_messaging.models.common import (
    Category,
    ConversationStatus,
    Medium,
    MessageRevisionKind,
    Priority,
    Role,
    id_of,
    table_of,
    utcnow,
)
from care_messaging.models.conversations import (
    MESSAGE_FTS,
    Attachment,
    Conversation,
    InternalNote,
    Message,
    MessageDailyCount,
    MessageDraft,
    MessageRevision,
    ReadState,
    message_fts,
)
from care_messaging.models.jobs import (
    Job,
    NotificationPreference,
    SentNotification,
)
from care_messaging.models.people import (
    CareTeamMember,
    Patient,
    Provider,
    User,
    patient_name,
)
from care_messaging.models.security import (
    AuditEvent,
    AuthSession,
    LoginThrottle,
)

__all__ = [
    "MESSAGE_FTS",
    "Attachment",
    "AuditEvent",
    "AuthSession",
    "CareTeamMember",
    "Category",
    "ClinicSetting",
    "Conversation",
    "ConversationStatus",
    "InternalNote",
    "Job",
    "LoginThrottle",
    "Medium",
    "Message",
    "MessageDailyCount",
    "MessageDraft",
    "MessageRevision",
    "MessageRevisionKind",
    "NotificationPreference",
    "Patient",
    "Priority",
    "Provider",
    "QuickReply",
    "ReadState",
    "Role",
    "SentNotification",
    "User",
    "id_of",
    "message_fts",
    "patient_name",
    "table_of",
    "utcnow",
]
