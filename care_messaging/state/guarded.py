"""Role-guarded event handlers: the session and the role are checked by construction.

Reflex makes every public method of a state callable from the browser with any arguments, so
every handler that shows or changes anything must first resolve the acting user from the
server-side session and check the role (``AuthState._guard``). Written by hand at the top of
each handler, one forgotten line is a hole; here it is one decorator::

    @guarded(PAGE_ROLE)
    def retract(self, actor: Actor, message_id: str): ...

The handler receives the resolved ``Actor`` as its first argument after ``self``; the browser
never sees that parameter (the signature Reflex reads has it removed). When the tab has no
valid session, owes its second sign-in step or has the wrong role, the handler body does not
run and the guard's redirect is returned (or yielded) instead. Every shape Reflex accepts
works: plain, generator, coroutine, async generator, any arguments, and
``background=True`` (the guard then runs inside ``async with self``, the state's lock).

The guard is a coroutine (``AuthState._guard``: on PostgreSQL the session check is a round
trip, run off the event loop), so every guarded handler is async to Reflex: a plain handler
becomes a coroutine and a generator an async generator. Their bodies are written as plain
code with database sessions of their own, and run through ``offloop.run_db``: inline on the
SQLite default, in the bounded database pool on PostgreSQL (each step of a generator alike),
so no handler written this way holds the loop that carries every websocket while it waits
for the database. Reflex holds the tab's state lock for the whole event, so nothing else
touches the state while the body runs in the pool. A body that needs the loop (``await``)
is written async and puts its own database work through ``offloop``.

``tests/state/test_handler_guards.py`` walks every app state and fails on a public handler
that is neither guarded here nor on its allow-list.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any

import reflex as rx

from care_messaging.web import offloop

# Stands for the page state's own ``ROLE`` class var (the shared thread-page mixins serve the
# provider dashboard and the patient portal with one definition).
PAGE_ROLE = "<the page's ROLE>"
GUARD_ATTRIBUTE = "__care_guard__"
_DONE = object()  # a generator body's end, as ``next`` reports it from the pool


@dataclasses.dataclass(frozen=True)
class Guard:
    """What a guarded handler requires (kept on the function for the guard test)."""

    roles: tuple[str, ...]
    # A user who still has to set up two-step sign-in may use it (the account page only).
    enrolling: bool = False
    # Refused quietly (nothing returned): for a part of a page whose own load redirects.
    silent: bool = False

    async def check(self, state: Any) -> tuple[Any, Any]:
        """(actor, None) when allowed, else (None, what to send the tab instead)."""
        roles = tuple(state.ROLE if role == PAGE_ROLE else role for role in self.roles)
        if not all(roles):
            # Fail closed: an empty role would let any signed-in user through.
            raise TypeError(f"{type(state).__name__} must set ROLE for a PAGE_ROLE handler")
        actor, redirect = await state._guard(*roles, enrolling=self.enrolling)
        return actor, (None if self.silent else redirect)


def guard_of(handler_fn: object) -> Guard | None:
    """The guard a handler function was built with, or None for an unguarded one."""
    fn = handler_fn.func if isinstance(handler_fn, functools.partial) else handler_fn
    return getattr(fn, GUARD_ATTRIBUTE, None)


def _wrap(fn: Callable[..., Any], guard: Guard, background: bool) -> Callable[..., Any]:
    """A function of the same shape as ``fn`` that guards, then calls ``fn(self, actor, ...)``."""

    async def check_async(self: Any) -> tuple[Any, Any]:
        if background:  # a background task changes its state only under the state's lock
            async with self:
                return await guard.check(self)
        return await guard.check(self)

    if inspect.isasyncgenfunction(fn):
        async def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            actor, refusal = await check_async(self)
            if actor is None:
                if refusal is not None:
                    yield refusal
                return
            async for item in fn(self, actor, *args, **kwargs):
                yield item
    elif inspect.iscoroutinefunction(fn):
        async def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            actor, refusal = await check_async(self)
            if actor is None:
                return refusal
            return await fn(self, actor, *args, **kwargs)
    elif background:
        raise TypeError(f"{fn.__qualname__}: a background handler must be async")
    elif inspect.isgeneratorfunction(fn):
        async def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            actor, refusal = await check_async(self)
            if actor is None:
                if refusal is not None:
                    yield refusal
                return
            steps = fn(self, actor, *args, **kwargs)
            while True:  # each step (up to its yield) off the loop on PostgreSQL
                item = await offloop.run_db(next, steps, _DONE)
                if item is _DONE:
                    return
                yield item
    else:
        async def wrapper(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            actor, refusal = await check_async(self)
            if actor is None:
                return refusal
            return await offloop.run_db(fn, self, actor, *args, **kwargs)
    return wrapper


def guarded(*roles: str, enrolling: bool = False, silent: bool = False,
            **event_options: Any) -> Callable[[Callable[..., Any]], Any]:
    """Make ``fn(self, actor, *args)`` a public event handler ``fn(self, *args)`` that runs
    only for a signed-in user with one of ``roles`` (``PAGE_ROLE``: the state's ``ROLE``; no
    roles: any signed-in user). ``event_options`` go to ``rx.event`` (``background=True``...).
    """
    guard = Guard(roles=roles, enrolling=enrolling, silent=silent)

    def decorate(fn: Callable[..., Any]) -> Any:
        signature = inspect.signature(fn)
        params = list(signature.parameters.values())
        if len(params) < 2 or params[1].name != "actor":
            raise TypeError(f"{fn.__qualname__}: a guarded handler takes (self, actor, ...)")
        wrapper = functools.wraps(fn)(_wrap(fn, guard, bool(event_options.get("background"))))
        # What Reflex reads for the browser's arguments: everything but the actor.
        wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[params[0], *params[2:]])
        wrapper.__annotations__ = {name: hint for name, hint in fn.__annotations__.items()
                                   if name != "actor"}
        setattr(wrapper, GUARD_ATTRIBUTE, guard)
        return rx.event(wrapper, **event_options)

    return decorate
