"""Other patients' data by id, through services, handlers and HTTP: nothing, and a denied row."""

from __future__ import annotations

import json

import pytest
from reflex_base.utils.format import json_dumps as reflex_json
from sqlmodel import func, select

from care_messaging.models import AuditEvent, Message, User
from care_messaging.pages.admin import AdminState
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.patient_profile import PatientProfileState
from care_messaging.pages.portal import PortalState
from care_messaging.services import auth, conversation_list
from care_messaging.services import conversations as conv
from care_messaging.services import message_sending as sending
from care_messaging.services.errors import NotFoundError
from care_messaging.state.auth import AuthState
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, make_state, redirect_path, sign_in_token, thread

SECRET = "Biopsy result: benign (SECRET-7731)"


@pytest.fixture
def world(session):
    people = clinic(session)
    secret, _ = conv.create_conversation(session, actor=people["lee"],
                                         patient_id=people["maria_patient"].id,
                                         reason="Test", topic="Biopsy", body=SECRET)
    session.commit()
    return people, secret.id


def _denied(session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(AuditEvent)
                        .where(AuditEvent.outcome == "denied")).one()


@pytest.mark.parametrize("who", ["james", "outsider"])
def test_services_refuse_and_audit(session, world, who):
    people, cid = world
    before = _denied(session)
    for attempt in (
        lambda: sending.send_message(session, actor=people[who], conversation_id=cid, body="x",
                                     client_msg_id="x1"),
        lambda: conv.set_status(session, actor=people[who], conversation_id=cid,
                                status="completed"),
        lambda: conversation_list.get_row(session, actor=people[who], conversation_id=cid),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    assert _denied(session) >= before + 2
    page = conversation_list.list_conversations(session, actor=people[who], search="Biopsy")
    session.commit()
    assert page.total == 0 and page.rows == []


@pytest.mark.parametrize(("who", "state_cls", "path"), [
    ("james", PortalState, "/portal"),
    ("outsider", DashboardState, "/dashboard"),
])
async def test_handlers_with_forged_ids_return_nothing(session, world, who, state_cls, path):
    people, cid = world
    token = sign_in_token(session, people[who].email, PASSWORD)
    before = _denied(session)
    state = make_state(state_cls, token=token, path=path, query=f"c={cid}")
    await call(state, "load")
    assert state.thread_error == "Conversation not found." and thread(state) == []
    assert _denied(session) == before + 1
    state.open_id = str(cid)  # forge the open conversation and try to write into it
    await call(state, "send_reply", {"body": "forged", "client_msg_id": "forged-1"})
    assert state.send_error == "Conversation not found."
    assert SECRET not in json.dumps(state.dict(), default=str)
    assert session.exec(select(func.count()).select_from(Message)
                        .where(Message.client_msg_id == "forged-1")).one() == 0


async def test_outside_provider_cannot_open_the_patient_profile(session, world):
    people, _cid = world
    token = sign_in_token(session, people["outsider"].email, PASSWORD)
    state = make_state(PatientProfileState, token=token, path="/patients",
                       query=f"id={people['maria_patient'].id}")
    await call(state, "load")
    assert "Maria" not in json.dumps(state.dict(), default=str)


@pytest.mark.parametrize("state_cls", [DashboardState, PortalState, AdminState])
async def test_signed_out_handlers_only_redirect(session, world, state_cls):
    _people, cid = world
    state = make_state(state_cls, path="/x", query=f"c={cid}")
    assert redirect_path(await call(state, "load")).startswith("/login")
    assert SECRET not in json.dumps(state.dict(), default=str)


async def test_forged_arguments_cannot_change_who_sends(session, world):
    people, cid = world
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    state = make_state(PortalState, token=token, path="/portal", query=f"c={cid}")
    await call(state, "load")
    forged = {"body": "who am I", "client_msg_id": "f-1", "sender_user_id": people["lee"].user_id,
              "user_id": people["lee"].user_id, "role": "provider", "patient_id": 999}
    await call(state, "send_reply", forged)
    session.expire_all()
    stored = session.exec(select(Message).where(Message.client_msg_id == "f-1")).one()
    assert stored.sender_user_id == people["maria"].user_id
    assert state.user_role == "patient"


def test_no_public_handler_sets_identity_and_auto_setters_are_off():
    import rxconfig

    assert rxconfig.config.state_auto_setters is False
    assert rxconfig.config.cors_allowed_origins == ["http://localhost:3000"] or all(
        o.startswith(("http://localhost", "http://127.0.0.1", "https://"))
        for o in rxconfig.config.cors_allowed_origins)
    assert "*" not in rxconfig.config.cors_allowed_origins
    identity = {"user_name", "user_role", "signed_in"}
    for cls in (AuthState, DashboardState, PortalState, AdminState, PatientProfileState):
        for var in identity:
            # Reflex's built-in `setvar` only dispatches to an existing `set_<var>` method.
            assert not hasattr(cls, f"set_{var}"), (cls, var)
    # Both only redirect (and clear the identity when there is no session): neither sets it.
    assert set(AuthState.event_handlers) <= {"redirect_if_signed_in", "go_home", "setvar"}


async def test_setvar_cannot_promote_the_browser(session, world):
    people, _cid = world
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    state = make_state(PortalState, token=token, path="/portal")
    await call(state, "load")
    with pytest.raises(AttributeError):
        await call(state, "setvar", "user_role", "admin")
    assert state.user_role == "patient"


async def test_browser_state_holds_no_token_hash_or_foreign_body(session, world):
    people, _cid = world
    james_topic, _ = conv.create_conversation(session, actor=people["james"], patient_id=None,
                                              reason="Test", topic="James only", body="JAMES-PRIVATE-99")
    session.commit()
    assert james_topic.id
    token = sign_in_token(session, people["maria"].email, PASSWORD)
    state = make_state(PortalState, token=token, path="/portal")
    await call(state, "load")
    root = state
    while root.parent_state is not None:
        root = root.parent_state
    shipped = reflex_json(root.dict())  # what Reflex would send to the browser
    password_hash = session.get(User, people["maria"].user_id).password_hash
    assert token not in shipped and auth.hash_token(token) not in shipped
    assert password_hash not in shipped and "$argon2id$" not in shipped
    assert "JAMES-PRIVATE-99" not in shipped
    assert SECRET in shipped or "Biopsy" in shipped  # her own data is there (sanity check)
