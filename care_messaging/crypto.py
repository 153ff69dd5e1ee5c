"""AES-256-GCM encryption for PHI at rest, with key ids so keys can rotate.

Stored form: 12-byte random nonce || ciphertext+tag. The associated data binds a ciphertext to
its place, so a ciphertext copied to another row fails to decrypt instead of showing someone
else's text: a message body to its conversation, sequence number and sender
(``message_aad``), a file to its conversation and attachment id (``attachment_aad``). The
first scheme bound only the conversation (bodies or senders could be swapped between messages
of one conversation unnoticed); migration 0005 re-encrypted what it had stored.

Every associated-data string is built here and nowhere else (``*_aad`` below): a ciphertext
decrypts only under the exact string it was sealed with, so a second spelling elsewhere is a
bug waiting to happen. ``decrypt_body`` lives here too, so readers of message text (search,
previews, key rotation) need not import the sending service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from care_messaging.settings import get_settings

log = logging.getLogger(__name__)

NONCE_BYTES = 12
TAMPERED_TEXT = "This message could not be verified and is hidden. The incident has been logged."
_WORD = re.compile(r"[\w]+", re.UNICODE)


class TamperedDataError(Exception):
    """A ciphertext failed authentication: it was altered or belongs elsewhere."""


def message_aad(conversation_id: int, seq: int, sender_user_id: int) -> str:
    return f"msg:v2:{conversation_id}:{seq}:{sender_user_id}"


def revision_aad(conversation_id: int, message_id: int, revision_no: int,
                 editor_user_id: int) -> str:
    """A correction's text, bound to its message, its place among the revisions and editor."""
    return f"rev:v1:{conversation_id}:{message_id}:{revision_no}:{editor_user_id}"


def draft_aad(user_id: int, conversation_id: int) -> str:
    """A draft, bound to its writer and conversation (never shown to anyone else)."""
    return f"draft:v1:{user_id}:{conversation_id}"


def attachment_aad(conversation_id: int, attachment_id: int) -> str:
    return f"att:v2:{conversation_id}:{attachment_id}"


def note_aad(conversation_id: int, note_id: int, author_user_id: int) -> str:
    """A staff-only note is bound to its conversation, row and author (never valid as a
    message body: a different prefix)."""
    return f"note:v1:{conversation_id}:{note_id}:{author_user_id}"


def totp_aad(user_id: int | None) -> str:
    """A two-step sign-in secret, bound to its account."""
    return f"totp:{user_id}"


def reflex_state_aad() -> str:
    """A Reflex state pickled into Redis (state/sealed_redis.py)."""
    return "reflex-state:v1"


def live_forward_aad() -> str:
    """A live event handed to the worker that holds a tab's socket (realtime/forwarding.py)."""
    return "live-forward:v1"


def new_key_text(key_id: str) -> str:
    """A fresh ``id:base64`` key entry for CARE_ENCRYPTION_KEYS or a key file."""
    return f"{key_id}:{base64.urlsafe_b64encode(os.urandom(32)).decode()}"


def encrypt(plaintext: bytes, *, aad: str, key_id: str | None = None) -> tuple[bytes, str]:
    """Encrypt under the active key (or ``key_id``); returns (blob, key_id)."""
    settings = get_settings()
    key_id = key_id or settings.active_key_id
    nonce = os.urandom(NONCE_BYTES)
    blob = nonce + AESGCM(settings.encryption_keys[key_id]).encrypt(nonce, plaintext, aad.encode())
    return blob, key_id


def decrypt(blob: bytes, *, aad: str, key_id: str) -> bytes:
    """Decrypt and authenticate; raises TamperedDataError on any mismatch."""
    keys = get_settings().encryption_keys
    if key_id not in keys or len(blob) <= NONCE_BYTES:
        raise TamperedDataError("ciphertext cannot be authenticated")
    try:
        return AESGCM(keys[key_id]).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad.encode())
    except InvalidTag as exc:
        raise TamperedDataError("ciphertext failed authentication") from exc


def encrypt_text(text: str, *, aad: str) -> tuple[bytes, str]:
    return encrypt(text.encode("utf-8"), aad=aad)


def decrypt_text(blob: bytes, *, aad: str, key_id: str) -> str:
    return decrypt(blob, aad=aad, key_id=key_id).decode("utf-8")


def _search_key() -> bytes:
    settings = get_settings()
    return hmac.new(settings.active_key, b"care-messaging blind index v1", hashlib.sha256).digest()


def search_terms(text: str) -> set[str]:
    """Keyed hashes of the distinct lower-cased words of ``text`` (the blind index)."""
    key = _search_key()
    words = {w.lower() for w in _WORD.findall(text) if len(w) >= 2}
    return {hmac.new(key, w.encode(), hashlib.sha256).hexdigest()[:32] for w in words}


def outbox_owner(user_id: int) -> str:
    """A keyed, stable name for a user's browser outbox (assets/outbox.js): it tells one
    signed-in user's unsent messages from another's in a shared tab without putting the user
    id in the page. (After a key rotation the name changes and an outbox left over from before
    it is dropped as someone else's.)"""
    key = hmac.new(get_settings().active_key, b"care-messaging outbox owner v1", hashlib.sha256)
    return hmac.new(key.digest(), str(user_id).encode(), hashlib.sha256).hexdigest()[:24]


class SealedBody(Protocol):
    """What ``decrypt_body`` reads of a message (a ``Message`` row or a just-inserted copy)."""

    @property
    def id(self) -> int | None: ...
    @property
    def conversation_id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def sender_user_id(self) -> int: ...
    @property
    def body_ct(self) -> bytes: ...
    @property
    def key_id(self) -> str: ...


def decrypt_body(message: SealedBody) -> tuple[str, bool]:
    """The plaintext, or a fixed notice when the ciphertext fails authentication (altered, or
    moved from another message: another conversation, place in it or sender)."""
    try:
        aad = message_aad(message.conversation_id, message.seq, message.sender_user_id)
        return decrypt_text(message.body_ct, aad=aad, key_id=message.key_id), False
    except TamperedDataError:
        log.error("message %s failed authentication", message.id)
        return TAMPERED_TEXT, True
