"""Every public event handler of the app is role-guarded by construction (state/guarded.py),
or named here with the reason it may run without a signed-in user of the page's role.

Reflex makes every public method of a state callable from the browser with any arguments:
a handler added without ``@guarded`` fails this test until it is guarded or allow-listed.
"""

from __future__ import annotations

import inspect
import threading

import pytest
import reflex as rx
from reflex.state import BaseState
from reflex_base.event import resolve_upload_handler_param

import care_messaging.care_messaging  # noqa: F401  (every page and its states)
from care_messaging.pages.dashboard_state import DashboardState
from care_messaging.services.actors import Actor
from care_messaging.state.auth import AuthState
from care_messaging.state.guarded import PAGE_ROLE, guard_of, guarded
from care_messaging.web import offloop
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, make_state, redirect_path, sign_in_token

# Handler name -> why it needs no role guard. Names, not classes: the thread-page mixins put
# the same handler on the dashboard and the portal states.
ALLOWED = {
    "setvar": "Reflex's built-in: it only calls `set_<name>`, and every such setter is a "
              "public handler checked here (auto setters are off; see the setter test)",
    "redirect_if_signed_in": "the sign-in page: it runs without a session by design and only "
                             "redirects a tab that has one to its landing page",
    "go_home": "`/` inside the app: resolves the session itself and only redirects",
    "cancel_correct": "only empties this tab's own correction box; reads and writes nothing",
    "close_history": "only closes this tab's own history dialog; reads and writes nothing",
    "outbox_unavailable": "only sets a fixed error line (the outbox script did not load)",
    "close_chat": "only navigates to /portal, whose load is guarded",
    "restore_for_hydrate": "rebuilds a restarted tab's view: resolves the session itself "
                           "without touching it, checks the page's role and two-step "
                           "enrolment, re-checks the conversation, and writes nothing",
    "stay_signed_in": "the idle-timeout warning: touches the session it resolves itself, for "
                      "any role (also one still setting up two-step sign-in); shows no data",
    "watch": "the idle-timeout watcher (background): reads only the session's time left and "
             "signs the tab out when it ends; shows no data",
}
# Handlers whose name is shared with guarded ones elsewhere: allowed on one state only.
PER_STATE = {
    ("LoginState", "load"): "the sign-in page itself: runs signed out by design, and empties "
                            "the tab of a session that ended",
}


def _app_states() -> list[type[BaseState]]:
    found: set[type[BaseState]] = set()
    todo = list(BaseState.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("care_messaging.") and not cls._mixin:
            found.add(cls)
    return sorted(found, key=lambda c: c.get_full_name())


def _handlers():
    for cls in _app_states():
        for name, handler in cls.event_handlers.items():
            if not name.startswith("_"):
                yield cls, name, handler


def test_every_public_handler_is_guarded_or_allowed_with_a_reason():
    walked = {f"{cls.__name__}.{name}" for cls, name, _ in _handlers()}
    assert {"DashboardState.send_reply", "PortalState.load", "AdminState.export"} <= walked
    unguarded = [f"{cls.__name__}.{name}" for cls, name, handler in _handlers()
                 if guard_of(handler.fn) is None and name not in ALLOWED
                 and (cls.__name__, name) not in PER_STATE]
    assert unguarded == [], f"guard these with @guarded (state/guarded.py): {unguarded}"
    assert all(reason.strip() for reason in [*ALLOWED.values(), *PER_STATE.values()])


def test_the_allow_list_names_only_handlers_that_exist_unguarded():
    """A stale entry would silently allow a future handler of that name."""
    unguarded_names = {name for _, name, h in _handlers() if guard_of(h.fn) is None}
    assert set(ALLOWED) <= unguarded_names
    assert {name for _, name in PER_STATE} <= unguarded_names


def test_page_role_handlers_sit_on_states_that_name_their_role():
    for cls, name, handler in _handlers():
        guard = guard_of(handler.fn)
        if guard is not None and PAGE_ROLE in guard.roles:
            assert getattr(cls, "ROLE", ""), f"{cls.__name__}.{name}: PAGE_ROLE without ROLE"


def test_setvar_reaches_only_checked_handlers():
    """``setvar(name, value)`` from the browser calls ``set_<name>``: each must be a public
    handler the walk above checks (or Reflex's own hydration flag)."""
    for cls in _app_states():
        for attr in dir(cls):
            if attr.startswith("set_") and attr != "set_is_hydrated":
                assert attr in cls.event_handlers, f"{cls.__name__}.{attr}"


def test_the_browser_sees_the_handler_signature_without_the_actor():
    handler = DashboardState.event_handlers["assign_to"]
    assert list(inspect.signature(handler.fn).parameters) == ["self", "user_id"]
    assert "actor" not in handler._get_type_hints()
    assert DashboardState.assign_to("7").args  # an EventSpec with the one argument
    # The upload handler is still recognised by its list[rx.UploadFile] parameter.
    assert resolve_upload_handler_param(DashboardState.event_handlers["handle_upload"])[0] == "files"


# ----- every handler shape Reflex allows -----
BODY_THREADS: list[int] = []  # where the *_where bodies ran

class GuardShapesState(AuthState):
    """A test-only page state with one guarded handler of each shape."""

    ROLE = "provider"
    seen: str = ""

    @guarded(PAGE_ROLE)
    def plain(self, actor: Actor, word: str, times: int = 1):
        self.seen = f"plain {actor.display_name} {word * times}"

    @guarded(PAGE_ROLE)
    def generator(self, actor: Actor, word: str):
        self.seen = f"generator {actor.display_name} {word}"
        yield
        yield rx.redirect("/after")

    @guarded(PAGE_ROLE)
    async def coroutine(self, actor: Actor, word: str):
        self.seen = f"coroutine {actor.display_name} {word}"
        return rx.redirect("/after")

    @guarded(PAGE_ROLE)
    async def async_generator(self, actor: Actor, word: str):
        self.seen = f"async_generator {actor.display_name} {word}"
        yield rx.redirect("/after")

    @guarded(PAGE_ROLE, background=True)
    async def in_background(self, actor: Actor, word: str):
        async with self:
            self.seen = f"in_background {actor.display_name} {word}"

    @guarded(PAGE_ROLE)
    def plain_where(self, actor: Actor):
        BODY_THREADS.append(threading.get_ident())

    @guarded(PAGE_ROLE)
    def generator_where(self, actor: Actor):
        BODY_THREADS.append(threading.get_ident())
        yield
        BODY_THREADS.append(threading.get_ident())

    @guarded("provider", "admin", silent=True)
    def quiet(self, actor: Actor):
        self.seen = f"quiet {actor.display_name}"


SHAPES = ["plain", "generator", "coroutine", "async_generator", "in_background"]


def test_shapes_keep_their_kind_for_reflex():
    """The guard awaits the session check (off the loop on PostgreSQL), so a plain body
    becomes a coroutine and a generator an async generator; each still yields like its body."""
    fns = {name: GuardShapesState.event_handlers[name].fn for name in SHAPES}
    assert inspect.isasyncgenfunction(fns["generator"])
    assert inspect.iscoroutinefunction(fns["coroutine"])
    assert inspect.isasyncgenfunction(fns["async_generator"])
    assert GuardShapesState.event_handlers["in_background"].is_background
    assert inspect.iscoroutinefunction(fns["plain"])
    assert list(inspect.signature(fns["plain"]).parameters) == ["self", "word", "times"]


@pytest.mark.parametrize("shape", SHAPES)
async def test_each_shape_runs_for_the_page_role_with_the_actor(session, shape):
    people = clinic(session)
    state = make_state(GuardShapesState, token=sign_in_token(session, people["lee"].email,
                                                             PASSWORD))
    await call(state, shape, "hi")
    assert state.seen == f"{shape} Dr. Lee hi"


@pytest.mark.parametrize("shape", SHAPES)
async def test_each_shape_refuses_without_running_the_body(session, shape):
    people = clinic(session)
    signed_out = make_state(GuardShapesState)
    assert redirect_path(await call(signed_out, shape, "hi")).startswith("/login")
    patient = make_state(GuardShapesState, token=sign_in_token(session, people["maria"].email,
                                                               PASSWORD))
    assert redirect_path(await call(patient, shape, "hi")) == "/portal"
    assert signed_out.seen == patient.seen == ""


async def test_arguments_pass_through_and_silent_refuses_quietly(session):
    people = clinic(session)
    state = make_state(GuardShapesState, token=sign_in_token(session, people["lee"].email,
                                                             PASSWORD))
    await call(state, "plain", "ab", 2)
    assert state.seen == "plain Dr. Lee abab"
    patient = make_state(GuardShapesState, token=sign_in_token(session, people["maria"].email,
                                                               PASSWORD))
    assert await call(patient, "quiet") == [] and patient.seen == ""


def test_a_guarded_handler_must_take_the_actor_and_a_background_one_be_async():
    with pytest.raises(TypeError):
        guarded("provider")(lambda self, value: None)
    with pytest.raises(TypeError):
        def not_async(self, actor): ...
        guarded("provider", background=True)(not_async)


@pytest.mark.parametrize("server_database", [False, True])
async def test_plain_bodies_run_off_the_loop_when_the_database_is_a_server(
        session, monkeypatch, server_database):
    """On PostgreSQL (every statement a network round trip) a plain or generator body runs in
    the bounded database pool, each step of a generator too; on the SQLite default inline."""
    monkeypatch.setattr(offloop, "db_inline", lambda: not server_database)
    people = clinic(session)
    state = make_state(GuardShapesState, token=sign_in_token(session, people["lee"].email,
                                                             PASSWORD))
    loop_thread = threading.get_ident()
    BODY_THREADS.clear()
    await call(state, "plain_where")
    assert len(await call(state, "generator_where")) == 1  # the bare yield: one update
    assert len(BODY_THREADS) == 3
    if server_database:
        assert loop_thread not in BODY_THREADS
    else:
        assert set(BODY_THREADS) == {loop_thread}
