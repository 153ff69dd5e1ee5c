"""Outgoing email: SMTP when ``CARE_SMTP_URL`` is set, else appended to ``data/mail.log``.

``smtp://host:port`` (STARTTLS when the server offers it), ``smtps://host:port`` (TLS from the
first byte); a user and password in the URL log in. Runs on a job thread, never on the event
loop (``smtplib`` blocks).
"""

from __future__ import annotations

import smtplib
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from care_messaging.settings import get_settings

SMTP_TIMEOUT_SECONDS = 30
_log_lock = threading.Lock()


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    # Stable per notification (its dedupe key): a receiving system can drop a duplicate.
    message_id: str


def _message(email: Email, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = email.message_id
    message.set_content(email.body)
    return message


def send(email: Email) -> None:
    """Send one email (raises on failure, so the job retries)."""
    settings = get_settings()
    message = _message(email, settings.mail_from)
    if not settings.smtp_url:
        settings.mail_log.parent.mkdir(parents=True, exist_ok=True)
        with _log_lock, settings.mail_log.open("a", encoding="utf-8") as log:
            log.write(message.as_string() + "\n" + "=" * 72 + "\n")
        return
    url = urlsplit(settings.smtp_url)
    host, user = url.hostname or "localhost", unquote(url.username or "")
    password = unquote(url.password or "")
    if url.scheme == "smtps":
        client: smtplib.SMTP = smtplib.SMTP_SSL(host, url.port or 465, timeout=SMTP_TIMEOUT_SECONDS,
                                                context=ssl.create_default_context())
    elif url.scheme == "smtp":
        client = smtplib.SMTP(host, url.port or 25, timeout=SMTP_TIMEOUT_SECONDS)
    else:
        raise ValueError("CARE_SMTP_URL must start with smtp:// or smtps://")
    with client:
        if url.scheme == "smtp":
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
        if user:
            client.login(user, password)
        client.send_message(message)
