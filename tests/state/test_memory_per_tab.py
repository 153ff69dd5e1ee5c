"""Memory per open tab (bench/profiles/memory.md).

Reflex's memory state manager builds every state class of the app for every tab, and the
hydrate snapshot stores every var of every state, so what each state holds is paid once per
connected tab: equal values are one shared object, empty lists and dicts are the shared
immutable ones (state/shared_values.py), and a page's part (the quick-reply editors, the
reply-by settings, the help page) is a mixin of its page state rather than a state of its own.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import reflex as rx

import care_messaging.care_messaging  # noqa: F401  (every page and its states, as in the app)
from care_messaging.pages.dashboard import DashboardState
from care_messaging.state.shared_values import NO_FIELDS, NO_ROWS, shared_rows
from tests.factories import PASSWORD, clinic
from tests.state.helpers import call, hydrate, make_state, sign_in_token

ROOT = Path(__file__).resolve().parents[2]

# The app's states, each built for every tab (~0.7 KB empty; ~2 KB past 29 stored vars, where
# CPython stops sharing an instance dict's keys between the instances of a class).
APP_STATES = {
    "AuthState", "TabOwnerState", "SessionTimerState", "LoginState", "DashboardState",
    "PortalState", "PatientProfileState", "MessageSearchState", "AccountState", "AdminState",
    "ResponseTimesState",
}

# Retained bytes per hydrated dashboard tab of one provider (bench/state_memory.py: 60 tabs
# after 20; tracemalloc, so this Python and Reflex). 18.2 KB at the time of writing; the
# previous round's code 18.7 KB, before the care-team states were folded into their pages and
# empty values shared 23.7 KB.
RETAINED_BYTES_PER_TAB = 19_500


def _tree(state: Any) -> list[Any]:
    out = [state]
    for sub in state.substates.values():
        out.extend(_tree(sub))
    return out


def _app_state_classes(cls: type[rx.State] = rx.State) -> list[type[rx.State]]:
    found = []
    for sub in cls.get_substates():
        if sub.__module__.startswith("care_messaging."):
            found.append(sub)
        found.extend(_app_state_classes(sub))
    return found


def test_every_tab_builds_only_the_page_states():
    root = rx.State(_reflex_internal_init=True)
    built = {type(s).__name__ for s in _tree(root)
             if type(s).__module__.startswith("care_messaging.")}
    assert built == APP_STATES, (
        "Reflex builds every state class for every open tab: make a page's part a mixin of "
        "its page state (like QuickReplyEditorState), or add it here knowingly "
        f"(bench/profiles/memory.md). New: {built - APP_STATES}, gone: {APP_STATES - built}")


def test_list_and_dict_vars_default_to_the_shared_empty_values():
    """An ``rx.field(default_factory=list)`` would give every tab an empty list of its own for
    that var (the hydrate snapshot stores every default): ``no_rows``/``no_fields`` instead."""
    own_copies = []
    for cls in _app_state_classes():
        for name, field in cls.__fields__.items():
            if field._owner is not cls:
                continue
            value = field.default_value()
            if isinstance(value, list | dict) and value is not NO_ROWS and value is not NO_FIELDS:
                own_copies.append(f"{cls.__name__}.{name}")
    assert own_copies == [], f"default these to state/shared_values.py's: {own_copies}"


def test_a_shared_value_cannot_be_changed_in_place():
    """Shared between tabs: a change in place would show in every tab, so it raises instead."""
    row = {"id": "1"}
    page = shared_rows([row])
    for change in (lambda: NO_ROWS.append(row), lambda: NO_ROWS.extend([row]),
                   lambda: NO_ROWS.insert(0, row), lambda: NO_ROWS.__setitem__(slice(0, 0), [row]),
                   lambda: page.pop(), lambda: page.remove(row), lambda: page.clear(),
                   lambda: page.sort(), lambda: page.__delitem__(0),
                   lambda: NO_FIELDS.__setitem__("id", "1"), lambda: NO_FIELDS.update(row),
                   lambda: NO_FIELDS.setdefault("id", "1")):
        with pytest.raises(TypeError):
            change()
    rows = NO_ROWS
    with pytest.raises(TypeError):
        rows += [row]
    fields = NO_FIELDS
    with pytest.raises(TypeError):
        fields |= row
    assert NO_ROWS == [] and NO_FIELDS == {} and page == [row]
    # Through a state's var (Reflex's change-tracking proxy) the same.
    state = make_state(DashboardState, path="/dashboard")
    with pytest.raises(TypeError):
        state.notes.append(row)
    assert state.notes == [] and NO_ROWS == []
    # Equal to the plain values; copied or pickled (Redis state), the same value again.
    assert [*NO_ROWS, row] == [row] and {**NO_FIELDS, **row} == row
    for value in (NO_ROWS, NO_FIELDS):
        assert copy.deepcopy(value) is value and pickle.loads(pickle.dumps(value)) is value
    assert pickle.loads(pickle.dumps(page)) == [row] and shared_rows([]) is NO_ROWS


async def test_tabs_of_one_provider_hold_no_empty_value_or_text_of_their_own(session):
    p = clinic(session)
    token = sign_in_token(session, p["lee"].email, PASSWORD)
    tabs, roots = [], []
    for _ in range(2):
        state = make_state(DashboardState, token=token, path="/dashboard")
        roots.append(await hydrate(state))
        await call(state, "load")
        tabs.append(state)
    own_empties = [f"{type(s).__name__}.{key}" for s in _tree(roots[0])
                   for key, value in s.__dict__.items()
                   if isinstance(value, list | dict) and not value
                   and value is not NO_ROWS and value is not NO_FIELDS]
    assert own_empties == [], f"use state/shared_values.py's NO_ROWS/NO_FIELDS: {own_empties}"
    first, second = tabs
    for name in ("user_name", "user_role", "outbox_owner"):
        assert first.get_value(name) and first.get_value(name) is second.get_value(name), name


def test_retained_bytes_per_hydrated_tab_stay_under_the_bound():
    """bench/state_memory.py in a fresh interpreter (only the app's states in the tree)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARE_", "DATABASE_URL"))}
    done = subprocess.run([sys.executable, "-m", "bench.state_memory", "60", "--warm", "20",
                           "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["code"] == str(ROOT)
    assert figures["retained_bytes_per_tab"] <= RETAINED_BYTES_PER_TAB, (
        f"each hydrated dashboard tab now keeps {figures['retained_bytes_per_tab']} B "
        f"(bound {RETAINED_BYTES_PER_TAB}): `python -m bench.state_memory` lists what each "
        "var and state costs (bench/profiles/memory.md)")
