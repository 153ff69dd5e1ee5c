"""Ciphertexts bound to their message and file (issue 16, item 10).

With write access to the database, swapping two bodies or two senders between messages of one
conversation, or two files between attachments, must show as "could not be verified", not as
someone else's words under a name. Data stored under the first scheme still reads after the
migration, and key rotation keeps working.
"""

from __future__ import annotations

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlmodel import Session, col, select

from care_messaging import crypto
from care_messaging.models import Message
from care_messaging.services import attachments, message_views
from care_messaging.services import message_sending as sending
from care_messaging.services.conversations import create_conversation
from care_messaging.services.keys import rotate_keys
from care_messaging.settings import PROJECT_ROOT, get_settings
from tests.factories import clinic
from tests.fixtures import files


def _thread(session, people) -> tuple[int, list[Message]]:
    conversation, _ = create_conversation(session, reason="Test follow-up", actor=people["maria"], patient_id=None,
                                          topic="Dose", body="Can I take two tablets?")
    session.commit()
    sending.send_message(session, actor=people["lee"], conversation_id=conversation.id,
                         body="No, only one a day.", client_msg_id="reply-1")
    session.commit()
    sending.send_message(session, actor=people["lee"], conversation_id=conversation.id,
                         body="Call us if the pain gets worse.", client_msg_id="reply-2")
    session.commit()
    rows = session.exec(select(Message).where(Message.conversation_id == conversation.id)
                        .order_by(col(Message.seq))).all()
    return conversation.id, list(rows)


def _views(session, conversation_id: int) -> list[tuple[str, bool]]:
    session.expire_all()
    return [(v.body, v.tampered) for v in message_views.list_messages(
        session, conversation_id=conversation_id)]


def test_swapping_bodies_between_messages_of_one_conversation_is_detected(session):
    people = clinic(session)
    cid, (_first, second, third) = _thread(session, people)
    second.body_ct, third.body_ct = third.body_ct, second.body_ct
    session.add_all([second, third])
    session.commit()
    views = _views(session, cid)
    assert views[0] == ("Can I take two tablets?", False)
    assert views[1] == (crypto.TAMPERED_TEXT, True) and views[2] == (crypto.TAMPERED_TEXT, True)


def test_changing_the_sender_of_a_message_is_detected(session):
    people = clinic(session)
    cid, (first, second, _third) = _thread(session, people)
    # The patient's question made to look like Dr. Lee's words (and his reply like hers).
    first.sender_user_id, second.sender_user_id = second.sender_user_id, first.sender_user_id
    session.add_all([first, second])
    session.commit()
    views = _views(session, cid)
    assert views[0] == (crypto.TAMPERED_TEXT, True) and views[1] == (crypto.TAMPERED_TEXT, True)
    assert views[2] == ("Call us if the pain gets worse.", False)


def test_swapping_files_between_attachments_is_detected(session):
    people = clinic(session)
    conversation, _ = create_conversation(session, reason="Test follow-up", actor=people["maria"], patient_id=None,
                                          topic="Photos", body="Two pictures")
    session.commit()
    one = attachments.store_upload(session, actor=people["maria"],
                                   conversation_id=conversation.id, filename="a.png",
                                   data=files.png())
    session.commit()
    two = attachments.store_upload(session, actor=people["maria"],
                                   conversation_id=conversation.id, filename="b.pdf",
                                   data=files.pdf())
    session.commit()
    folder = get_settings().attachment_dir
    a, b = folder / one.stored_name, folder / two.stored_name
    a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
    a.write_bytes(b_bytes)
    b.write_bytes(a_bytes)
    one.sha256, two.sha256 = two.sha256, one.sha256  # the digests swapped too
    session.add_all([one, two])
    session.commit()
    with pytest.raises(crypto.TamperedDataError):
        attachments.open_attachment(session, actor=people["maria"], attachment_id=one.id)
        session.commit()


def test_rotation_keeps_the_binding(session, monkeypatch):
    people = clinic(session)
    cid, _rows = _thread(session, people)
    stored = attachments.store_upload(session, actor=people["maria"], conversation_id=cid,
                                      filename="a.png", data=files.png())
    session.commit()
    old = get_settings().encryption_keys
    new_key = crypto.new_key_text("k2")
    old_entries = ",".join(f"{k}:{crypto.base64.urlsafe_b64encode(v).decode()}"
                           for k, v in old.items())
    monkeypatch.setenv("CARE_ENCRYPTION_KEYS", f"{new_key},{old_entries}")
    get_settings.cache_clear()
    report = rotate_keys(session)
    session.commit()
    assert report.messages == 3 and report.attachments == 1
    assert [t for _, t in _views(session, cid)] == [False, False, False]
    _, data = attachments.open_attachment(session, actor=people["maria"], attachment_id=stored.id)
    session.commit()
    assert data == files.png()
    get_settings.cache_clear()


def _later_schema(engine):
    """Add what later migrations add (tables, columns) so today's models can write a 0006
    database; the returned function takes it away again before the real upgrade."""
    from sqlalchemy import inspect
    from sqlmodel import SQLModel

    inspector = inspect(engine)
    tables, columns = [], []
    with engine.begin() as conn:
        for table in SQLModel.metadata.sorted_tables:
            if table.info.get("virtual") or table.info.get("fts5_shadow"):
                continue
            if not inspector.has_table(table.name):
                table.create(conn)
                tables.append(table)
                continue
            have = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name not in have:
                    kind = column.type.compile(engine.dialect)
                    default = "" if column.nullable else " NOT NULL DEFAULT 0"
                    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} "
                                      f"{kind}{default}"))
                    columns.append((table.name, column.name))

    def undo() -> None:
        with engine.begin() as conn:
            for table_name, column_name in columns:
                conn.execute(text(f"ALTER TABLE {table_name} DROP COLUMN {column_name}"))
            for table in reversed(tables):
                table.drop(conn)

    return undo


def test_migration_rebinds_what_the_first_scheme_stored(tmp_path, db_url):
    """A database at revision 0006 holding a body and a file under the first scheme
    (``msg:<conversation>`` / ``att:<conversation>``): after the upgrade both read."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = Config(str(PROJECT_ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "alembic"))
    cfg.attributes["url"] = url
    command.upgrade(cfg, "0006")  # the revision before the binding (0007)
    engine = create_engine(url)
    undo = _later_schema(engine)  # today's services write the rows of this old database
    with Session(engine, expire_on_commit=False) as session:
        people = clinic(session)
        conversation, _ = create_conversation(session, reason="Test follow-up", actor=people["maria"], patient_id=None,
                                              topic="Old", body="placeholder")
        session.commit()
        stored = attachments.store_upload(session, actor=people["maria"],
                                          conversation_id=conversation.id, filename="a.png",
                                          data=files.png())
        session.commit()
        cid, att_id, stored_name = conversation.id, stored.id, stored.stored_name
    old_ct, key_id = crypto.encrypt_text("stored before the upgrade", aad=f"msg:{cid}")
    with engine.begin() as conn:
        conn.execute(text("UPDATE messages SET body_ct = :ct WHERE conversation_id = :cid"),
                     {"ct": old_ct, "cid": cid})
    path = get_settings().attachment_dir / stored_name
    path.write_bytes(crypto.encrypt(files.png(), aad=f"att:{cid}", key_id=key_id)[0])
    with Session(engine) as session:  # the first scheme no longer verifies...
        [row] = session.exec(select(Message).where(Message.conversation_id == cid)).all()
        assert crypto.decrypt_body(row)[1] is True
    undo()  # today's model reads today's columns: give them back to their migrations only now
    command.upgrade(cfg, "head")
    with Session(engine) as session:  # ...until the migration re-binds it
        [row] = session.exec(select(Message).where(Message.conversation_id == cid)).all()
        assert crypto.decrypt_body(row) == ("stored before the upgrade", False)
        _, data = attachments.open_attachment(session, actor=people["maria"],
                                              attachment_id=att_id)
        session.commit()
        assert data == files.png()
    engine.dispose()
