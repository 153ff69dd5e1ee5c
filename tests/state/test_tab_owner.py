"""The tab-owner check at state level: what the middleware and the sign-in page wipe."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from care_messaging import realtime
from care_messaging.models import AuthSession, utcnow
from care_messaging.pages.dashboard import DashboardState
from care_messaging.pages.login import LoginState
from care_messaging.services import auth
from care_messaging.state.tab_owner import TabOwnerMiddleware, TabOwnerState
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, make_state, sign_in_token


async def _no_registry(**_) -> None:
    return None


async def _loaded_dashboard(session, monkeypatch):
    monkeypatch.setattr(realtime, "register", _no_registry)
    people = clinic(session)
    from care_messaging.services import conversations as conv

    conv.create_conversation(session, reason="Test follow-up", actor=people["maria"], patient_id=None, topic="Refill",
                             body="Out of pills")
    session.commit()
    token = sign_in_token(session, people["lee"].email, PASSWORD)
    state = make_state(DashboardState, token=token, path="/dashboard")
    root = state._get_root_state()
    await TabOwnerMiddleware().preprocess(None, root, None)  # the tab is claimed
    await call(state, "load")
    assert state.conversations and state.user_name
    return people, token, state, root


async def test_same_session_keeps_the_tree_another_cookie_empties_it(session, monkeypatch):
    people, _token, state, root = await _loaded_dashboard(session, monkeypatch)
    await TabOwnerMiddleware().preprocess(None, root, None)
    assert state.conversations  # the same session: nothing lost
    other = sign_in_token(session, people["maria"].email, PASSWORD)
    root.router_data = {**root.router_data, "headers": {"cookie": f"care_session={other}"}}
    root.router = type(root.router).from_router_data(root.router_data)
    await TabOwnerMiddleware().preprocess(None, root, None)
    assert state.conversations == [] and state.user_name == "" and state.list_loaded is False
    mark = await root.get_state(TabOwnerState)
    assert mark._owner and mark._owner != "none"


async def test_the_sign_in_page_empties_the_tab_of_a_session_that_timed_out(session,
                                                                            monkeypatch):
    _people, token, state, root = await _loaded_dashboard(session, monkeypatch)
    row = session.exec(select(AuthSession).where(
        AuthSession.token_hash == auth.hash_token(token))).one()
    row.last_seen_at = utcnow() - timedelta(hours=1)  # idle far past the limit
    session.add(row)
    session.commit()
    login = await root.get_state(LoginState)
    await call(login, "load")
    assert state.conversations == [] and state.user_name == ""


def test_the_sweep_finds_sessions_that_ended_while_no_tab_looked(session):
    """Signed out, revoked, idle past the limit, past the absolute lifetime, or unknown: their
    tabs are wiped by the sweep; a live session's are left alone."""
    from care_messaging.state.tab_owner import _ended

    people = clinic(session)
    tokens = {name: sign_in_token(session, people["lee"].email, PASSWORD)
              for name in ("live", "signed_out", "idle", "expired")}
    auth.logout(session, token=tokens["signed_out"])
    session.commit()
    now = utcnow()
    for name, field, value in (("idle", "last_seen_at", now - timedelta(hours=1)),
                               ("expired", "expires_at", now - timedelta(seconds=1))):
        row = session.exec(select(AuthSession).where(
            AuthSession.token_hash == auth.hash_token(tokens[name]))).one()
        setattr(row, field, value)
        session.add(row)
    session.commit()
    hashes = {name: auth.hash_token(t) for name, t in tokens.items()} | {"unknown": "f" * 64}
    ended = set(_ended(list(hashes.values())))
    assert ended == {hashes[n] for n in ("signed_out", "idle", "expired", "unknown")}
