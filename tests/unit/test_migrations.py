"""The migrations, applied to an empty database, produce exactly the models' schema."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

import care_messaging.models  # noqa: F401
from care_messaging.cli import migrate


def test_upgrade_to_head_matches_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    migrate(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        triggers = conn.execute(text("select name from sqlite_master where type='trigger'")).all()
    assert diff == []
    assert {t[0] for t in triggers} >= {"audit_events_no_update", "audit_events_no_delete"}


def test_seed_is_idempotent_and_large_enough(session):
    from sqlmodel import func, select

    from care_messaging.models import (
        CareTeamMember,
        Conversation,
        Message,
        Patient,
        Provider,
        ReadState,
    )
    from care_messaging.services.seed import seed_demo

    assert seed_demo(session) is True
    assert seed_demo(session) is False
    count = lambda model: session.exec(select(func.count()).select_from(model)).one()  # noqa: E731
    assert count(Provider) >= 4 and count(Patient) >= 30 and count(CareTeamMember) > 30
    assert count(Conversation) == 100 and count(Message) == 1500
    statuses = set(session.exec(select(Conversation.status)).all())
    assert statuses == {"active", "needs_attention", "completed"}
    unread_rows = session.exec(
        select(func.count()).select_from(ReadState).join(
            Conversation, Conversation.id == ReadState.conversation_id
        ).where(ReadState.last_read_seq < Conversation.last_seq)
    ).one()
    assert unread_rows > 0
