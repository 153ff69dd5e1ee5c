"""The protocol-level attack server (tests/security/edge_server.py), one per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.edge_server import EdgeServer


@pytest.fixture(scope="session")
def edge_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EdgeServer]:
    server = EdgeServer(tmp_path_factory.mktemp("edge-app")).start()
    yield server
    server.stop()
