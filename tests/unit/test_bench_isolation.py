"""The bench measures what it means to. Each server it starts on Redis begins with an empty
database: what an earlier server left there (tab states, the live registry, the index of
signed-in sessions) would be swept by the new one's 30-second task, seconds of CPU inside
whichever scenario was being measured. Against the real Redis on 127.0.0.1 (a database of the
tests' own). And a send's instructions are counted under callgrind (``bench.instructions``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.unit.test_messages import pg_engine  # noqa: F401 - fixture
from tests.unit.test_realtime import REDIS_URL, require_redis

# Emptied by the test: not the database the realtime tests use.
BENCH_TEST_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/14"


def test_a_bench_server_starts_on_an_empty_redis_database(monkeypatch, tmp_path: Path):
    require_redis()
    import redis

    from bench import server as bench_server

    client = redis.Redis.from_url(BENCH_TEST_REDIS_URL)
    client.set("left-by-an-earlier-server", b"tab state")
    seen: list[int] = []

    def no_process(*_args, **_kwargs):  # what the server would find in Redis when it starts
        seen.append(client.dbsize())
        raise RuntimeError("not starting a server in this test")

    monkeypatch.setattr(subprocess, "Popen", no_process)
    server = bench_server.Server(database_url="sqlite://", key_text="k", data_dir=tmp_path,
                                 redis_url=BENCH_TEST_REDIS_URL)
    with pytest.raises(RuntimeError):
        server.start()
    assert seen == [0]
    client.close()


def test_the_bench_uses_a_redis_database_of_its_own():
    from urllib.parse import urlparse

    from bench.__main__ import _args

    assert urlparse(_args(["run"]).redis_url).path.strip("/") not in ("", "0")


def test_instructions_per_send_are_counted_under_callgrind():
    """``python -m bench.instructions``: a send's user-space instructions, counted (not timed)
    so that a change of a few percent shows on a noisy VM."""
    import shutil

    if shutil.which("valgrind") is None:
        pytest.skip("valgrind not installed (Debian's package): bench.instructions needs it")
    from bench import instructions

    per_send = instructions.count("sqlite", 20, "")
    assert 500_000 < per_send < 20_000_000, per_send


def test_a_servers_cpu_is_reported_per_process(tmp_path: Path):
    """The sustained steps report each worker's share (``worker_cpu_pct``): a parent that
    idles and a child that spins are told apart, and the total is their sum."""
    import os
    import signal
    import sys
    import time

    from bench import server as bench_server

    server = bench_server.Server(database_url="sqlite://", key_text="k", data_dir=tmp_path)
    spin = ("import time\nend = time.process_time() + 0.5\n"
            "while time.process_time() < end: pass\ntime.sleep(30)")
    server.process = subprocess.Popen(
        [sys.executable, "-c",
         f"import subprocess, sys; subprocess.run([sys.executable, '-c', {spin!r}])"],
        start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            by_process = server.cpu_seconds_by_process()
            children = {pid: s for pid, s in by_process.items() if pid != server.process.pid}
            if (children and max(children.values()) >= 0.45) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert len(children) == 1 and max(children.values()) >= 0.45
        assert by_process[server.process.pid] < 0.3
        assert abs(server.cpu_seconds() - sum(server.cpu_seconds_by_process().values())) < 0.05
    finally:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


def test_the_cpu_window_outlasts_a_redis_lease():
    """A tab's Redis lease is written back when its hold ends: the quiet spells around the CPU
    window must be longer, or the write-backs of the leases the tabs took while connecting
    (twelve states each) count as a cost of the window's messages."""
    import rxconfig
    from bench.scenarios_live import QUIET_SECONDS

    assert QUIET_SECONDS * 1000 > rxconfig.OPLOCK_HOLD_MS


def test_a_bench_server_starts_on_a_vacuumed_postgresql_database(pg_engine):  # noqa: F811
    """The data set is reused between runs and this machine's PostgreSQL runs without
    autovacuum: the dead rows earlier runs left must be gone before a server is measured."""
    import psycopg

    from bench.server import vacuum_postgres
    from care_messaging.db import libpq_conninfo

    with psycopg.connect(libpq_conninfo(pg_engine.url), autocommit=True) as connection:
        connection.execute("CREATE TABLE churn (id int PRIMARY KEY, n int)")
        connection.execute("INSERT INTO churn SELECT g, 0 FROM generate_series(1, 200) g")
        for _ in range(5):
            connection.execute("UPDATE churn SET n = n + 1")

        def dead_rows() -> int:
            # This backend's counts reach the shared statistics when it flushes them.
            connection.execute("SELECT pg_stat_force_next_flush()")
            connection.execute("SELECT 1")
            return connection.execute("SELECT n_dead_tup FROM pg_stat_user_tables "
                                      "WHERE relname = 'churn'").fetchone()[0]

        assert dead_rows() >= 200  # five updates of 200 rows (page pruning removes some)
        vacuum_postgres(pg_engine.url.render_as_string(hide_password=False))
        assert dead_rows() == 0
