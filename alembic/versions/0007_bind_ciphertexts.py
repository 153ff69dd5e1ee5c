"""Ciphertexts bound to their message and file, not only to their conversation.

Message bodies were encrypted with the associated data ``msg:<conversation_id>``, files with
``att:<conversation_id>``: with write access to the database one could swap bodies or senders
between messages of one conversation, or files between attachments, and each still verified.
From now on a body is bound to (conversation, sequence number, sender) and a file to
(conversation, attachment id) (``care_messaging.crypto.message_aad`` / ``attachment_aad``).

This re-encrypts what is stored under the new scheme, each row under the key it already had
(``rotate-keys`` moves rows to a new key as before). It needs the application's keys
(CARE_ENCRYPTION_KEYS or the key file) only when there is something to re-encrypt. A body
that fails to verify under the old scheme is left as it is: it was already shown as "could
not be verified", and stays so.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def _reencrypt_messages(bind, crypto) -> None:
    last_id = 0
    select = sa.text("SELECT id, conversation_id, seq, sender_user_id, body_ct, key_id "
                     "FROM messages WHERE id > :last ORDER BY id LIMIT :batch")
    update = sa.text("UPDATE messages SET body_ct = :ct WHERE id = :id")
    while rows := bind.execute(select, {"last": last_id, "batch": BATCH}).all():
        changes = []
        for row in rows:
            try:
                plain = crypto.decrypt(bytes(row.body_ct), aad=f"msg:{row.conversation_id}",
                                       key_id=row.key_id)
            except crypto.TamperedDataError:
                continue
            aad = crypto.message_aad(row.conversation_id, row.seq, row.sender_user_id)
            changes.append({"id": row.id,
                            "ct": crypto.encrypt(plain, aad=aad, key_id=row.key_id)[0]})
        if changes:
            bind.execute(update, changes)
        last_id = rows[-1].id


def _reencrypt_files(bind, crypto, attachment_dir) -> None:
    import os

    rows = bind.execute(sa.text(
        "SELECT id, conversation_id, stored_name, key_id FROM attachments")).all()
    for row in rows:
        path = attachment_dir / row.stored_name
        try:
            data = crypto.decrypt(path.read_bytes(), aad=f"att:{row.conversation_id}",
                                  key_id=row.key_id)
        except (OSError, crypto.TamperedDataError):
            continue  # missing or failing already: the download route reports it
        blob, _ = crypto.encrypt(data, aad=crypto.attachment_aad(row.conversation_id, row.id),
                                 key_id=row.key_id)
        tmp = path.with_suffix(".rebinding")
        tmp.write_bytes(blob)
        os.replace(tmp, path)


def upgrade() -> None:
    bind = op.get_bind()
    has_messages = bind.execute(sa.text("SELECT 1 FROM messages LIMIT 1")).first()
    has_files = bind.execute(sa.text("SELECT 1 FROM attachments LIMIT 1")).first()
    if not (has_messages or has_files):
        return
    from care_messaging import crypto
    from care_messaging.settings import get_settings

    if has_messages:
        _reencrypt_messages(bind, crypto)
    if has_files:
        _reencrypt_files(bind, crypto, get_settings().attachment_dir)


def downgrade() -> None:
    raise NotImplementedError("ciphertexts are not re-bound to the older, weaker scheme")
