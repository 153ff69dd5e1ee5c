"""Var values every tab can share: one object instead of a copy per tab (memory per tab).

Reflex stores a list or dict var's default per state instance, and the hydrate snapshot reads
every var of every state of the tree, so each ``rx.field(default_factory=list)`` costs every
open tab an empty list of its own, in every page state (bench/profiles/memory.md). These are
one shared empty list and dict instead: the default of such vars (``no_rows``,
``no_fields``) and what a handler assigns to empty one again (``NO_ROWS``, ``NO_FIELDS``).
``shared_rows`` makes a list of the same kind for a memoised page of rows that many tabs show
(the dashboard's sidebar page and chart); ``shared_text`` one string for a text every tab of a
user holds (name, role, outbox name).

They refuse every change in place (a TypeError, never a change another tab would see):
handlers replace a var's value with a new list or dict, as the shared rows already require
(``ThreadPageState._set_changed``). Equal to the plain list or dict, serialised the same, and
pickled (Redis state) as the same value again.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any, NoReturn


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError("a shared value cannot be changed in place: assign a new one")


class SharedRows(list):
    """A list shared between tabs: it cannot be changed in place."""

    __slots__ = ()
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (shared_rows, (tuple(self),)) if self else (no_rows, ())


class _EmptyFields(dict):
    """The shared empty dict (``NO_FIELDS``)."""

    __slots__ = ()
    clear = pop = popitem = setdefault = update = _refuse
    __setitem__ = __delitem__ = __ior__ = _refuse

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return no_fields, ()


NO_ROWS: list[Any] = SharedRows()
NO_FIELDS: dict[str, Any] = _EmptyFields()


def no_rows() -> list[Any]:
    """``default_factory`` of a list var: the shared empty list."""
    return NO_ROWS


def no_fields() -> dict[str, Any]:
    """``default_factory`` of a dict var: the shared empty dict."""
    return NO_FIELDS


def shared_rows(items: Iterable[Any]) -> list[Any]:
    """A list that may be shared between tabs (``NO_ROWS`` when empty). Only for values that
    are themselves never changed in place, like the memoised rows."""
    rows = SharedRows(items)
    return rows if rows else NO_ROWS


def shared_text(text: str) -> str:
    """One string object for a text many tabs hold (a user's name, role, outbox name): each
    tab's copy would otherwise come fresh from the database or a hash (``sys.intern``; freed
    when no tab holds it any more)."""
    return sys.intern(text) if type(text) is str else text
