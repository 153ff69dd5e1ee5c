"""With database work in threads (PostgreSQL), the loop gets the GIL back within 0.5 ms
instead of CPython's 5 ms (web/offloop.py, bench/profiles/scaleout.md); on SQLite, where the
database work runs on the loop, the interpreter's default is kept."""

from __future__ import annotations

import sys

import pytest

from care_messaging.web import offloop


@pytest.fixture
def restore_switch_interval():
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.parametrize(("database_url", "expected"), [
    ("postgresql://postgres@127.0.0.1:5432/test", offloop.POOL_SWITCH_INTERVAL_SECONDS),
    ("sqlite:///data/care.db", 0.005),
])
def test_the_switch_interval_follows_where_database_work_runs(
        database_url, expected, monkeypatch, restore_switch_interval):
    from tests.conftest import reset_caches

    sys.setswitchinterval(0.005)
    monkeypatch.setenv("DATABASE_URL", database_url)
    reset_caches()
    try:
        offloop.shorten_gil_switch()
        assert sys.getswitchinterval() == pytest.approx(expected)
    finally:
        monkeypatch.undo()
        reset_caches()


def test_the_app_registers_it():
    from care_messaging.care_messaging import app

    assert offloop.shorten_gil_switch in app.get_lifespan_tasks()
