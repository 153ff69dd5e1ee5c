"""Build data in the running test app's database through the real services (encrypted with the
app's key, as its own sends are), for browser tests that need a known conversation."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import Session, select

from care_messaging import settings
from care_messaging.db import make_engine
from care_messaging.models import Patient, User
from care_messaging.services.actors import Actor, actor_for_user


@contextmanager
def app_session(app_server) -> Iterator[Session]:
    """A session on the running app's database with its key, data and attachment dirs and
    notification settings in force (restored afterwards)."""
    keys = ("CARE_ENCRYPTION_KEYS", "CARE_DATA_DIR", "DATABASE_URL", "CARE_NOTIFY_DELAY_SECONDS",
            "CARE_PUBLIC_ORIGIN")
    saved = {k: os.environ.get(k) for k in (*keys, "CARE_ATTACHMENT_DIR")}
    os.environ.update({k: app_server.env[k] for k in keys if k in app_server.env})
    os.environ["CARE_ATTACHMENT_DIR"] = os.path.join(app_server.env["CARE_DATA_DIR"],
                                                     "attachments")
    settings.get_settings.cache_clear()
    engine = make_engine(app_server.env["DATABASE_URL"])
    try:
        with Session(engine, expire_on_commit=False) as s:
            yield s
    finally:
        engine.dispose()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        settings.get_settings.cache_clear()


def actor(s: Session, email: str) -> Actor:
    return actor_for_user(s, s.exec(select(User).where(User.email == email)).one())


def patient_id(s: Session, email: str) -> int:
    user_id = s.exec(select(User.id).where(User.email == email)).one()
    return s.exec(select(Patient.id).where(Patient.user_id == user_id)).one()
