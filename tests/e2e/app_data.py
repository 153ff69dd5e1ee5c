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
    """A session on the app's database with the app's encryption key in force."""
    saved = os.environ.get("CARE_ENCRYPTION_KEYS")
    os.environ["CARE_ENCRYPTION_KEYS"] = app_server.env["CARE_ENCRYPTION_KEYS"]
    settings.get_settings.cache_clear()
    engine = make_engine(app_server.env["DATABASE_URL"])
    try:
        with Session(engine, expire_on_commit=False) as s:
            yield s
    finally:
        engine.dispose()
        if saved is None:
            os.environ.pop("CARE_ENCRYPTION_KEYS", None)
        else:
            os.environ["CARE_ENCRYPTION_KEYS"] = saved
        settings.get_settings.cache_clear()


def actor(s: Session, email: str) -> Actor:
    return actor_for_user(s, s.exec(select(User).where(User.email == email)).one())


def patient_id(s: Session, email: str) -> int:
    user_id = s.exec(select(User.id).where(User.email == email)).one()
    return s.exec(select(Patient.id).where(Patient.user_id == user_id)).one()
