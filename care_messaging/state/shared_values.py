"""Empty values every tab shares: one object instead of a copy per tab (memory per tab).

Reflex stores a list or dict var's default per state instance, and the hydrate snapshot reads
every var of every state of the tree, so each ``rx.field(default_factory=list)`` costs every
open tab an empty list of its own, in every page state (bench/profiles/memory.md). These are
one shared empty list and dict instead: the default of such vars (``no_rows``,
``no_fields``) and what a handler assigns to empty one again (``NO_ROWS``, ``NO_FIELDS``).

They refuse every change in place (a TypeError, never a change another tab would see):
handlers replace a var's value with a new list or dict, as the shared rows already require
(``ThreadPageState._set_changed``). Equal to ``[]`` and ``{}``, serialised the same, and
pickled (Redis state) as a reference to the shared object.
"""

from __future__ import annotations

from typing import Any, NoReturn


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError("a shared empty value cannot be changed in place: assign a new one")


class _EmptyRows(list):
    """The shared empty list (``NO_ROWS``)."""

    __slots__ = ()
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return no_rows, ()


class _EmptyFields(dict):
    """The shared empty dict (``NO_FIELDS``)."""

    __slots__ = ()
    clear = pop = popitem = setdefault = update = _refuse
    __setitem__ = __delitem__ = __ior__ = _refuse

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return no_fields, ()


NO_ROWS: list[Any] = _EmptyRows()
NO_FIELDS: dict[str, Any] = _EmptyFields()


def no_rows() -> list[Any]:
    """``default_factory`` of a list var: the shared empty list."""
    return NO_ROWS


def no_fields() -> dict[str, Any]:
    """``default_factory`` of a dict var: the shared empty dict."""
    return NO_FIELDS
