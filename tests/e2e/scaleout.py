"""Two app workers on PostgreSQL + Redis behind a Host-routing proxy (see hostproxy.py).

Skipped, with the reason, when PostgreSQL or Redis is not reachable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser import ROOT, AppServer, free_port, server_env, start_server, wait_for
from tests.e2e.hostproxy import HostRoutingProxy

PG_URL = os.environ.get("CARE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CARE_TEST_SCALEOUT_REDIS_URL", "redis://127.0.0.1:6379/13")


@dataclass
class ScaleOut:
    proxy: HostRoutingProxy
    worker_a: AppServer
    worker_b: subprocess.Popen
    worker_b_port: int
    port: int

    @property
    def url_a(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def url_b(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _require_services() -> None:
    psycopg = pytest.importorskip("psycopg")
    redis = pytest.importorskip("redis")
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"scale-out test skipped: PostgreSQL not reachable at {PG_URL}: "
                    f"{str(exc).splitlines()[0]}")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.skip(f"scale-out test skipped: Redis not reachable at {REDIS_URL}: {exc}")


@pytest.fixture(scope="module")
def scaleout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScaleOut]:
    _require_services()
    import psycopg
    import redis

    name = f"care_scaleout_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    database_url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    redis.Redis.from_url(REDIS_URL).flushdb()
    port = free_port()
    extra = {
        "DATABASE_URL": database_url,
        "REFLEX_REDIS_URL": REDIS_URL,
        "CARE_PUBLIC_ORIGIN": f"http://localhost:{port}",
        "CARE_EXTRA_ORIGINS": f"http://127.0.0.1:{port}",
    }
    data_dir = tmp_path_factory.mktemp("scaleout")
    worker_a = start_server(data_dir / "a", extra_env=extra)
    a_port = int(worker_a.base_url.rsplit(":", 1)[1])
    b_port = free_port()
    env_b = server_env(data_dir / "b", b_port, {**extra, "CARE_ENCRYPTION_KEYS":
                                                 worker_a.env["CARE_ENCRYPTION_KEYS"],
                                                 "REFLEX_SKIP_COMPILE": "true",
                                                 "CARE_BACKEND_ONLY": "1"})
    (data_dir / "b").mkdir(parents=True, exist_ok=True)
    log_b = Path(data_dir / "b" / "server.log")
    worker_b = subprocess.Popen(
        [sys.executable, "-m", "reflex", "run", "--env", "prod", "--backend-only",
         "--backend-port", str(b_port), "--loglevel", "info"],
        cwd=ROOT, env=env_b, stdout=log_b.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    proxy = HostRoutingProxy(port, default_port=a_port,
                             event_routes={"localhost": a_port, "127.0.0.1": b_port})
    try:
        wait_for(f"http://127.0.0.1:{b_port}/api/health", timeout=240, process=worker_b)
        proxy.start()
        yield ScaleOut(proxy=proxy, worker_a=worker_a, worker_b=worker_b, worker_b_port=b_port,
                       port=port)
    finally:
        import signal

        if worker_b.poll() is None:
            os.killpg(worker_b.pid, signal.SIGTERM)
            worker_b.wait(20)
        worker_a.stop()
        proxy.stop()  # a no-op when it never started
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
