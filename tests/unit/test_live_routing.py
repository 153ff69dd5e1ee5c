"""Where ``realtime.publish`` applies a live event: this worker's tabs here, another worker's
tabs through that worker (forwarding), and here again when the forward fails, so no tab
misses an event because a worker is gone or Redis hiccups; a tab with no socket anywhere is
forgotten. Reflex's app and token manager are stand-ins here (no server runs); the real
two-worker path is tests/e2e/test_scaleout.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from care_messaging.realtime import connections, delivery, forwarding, registry
from care_messaging.realtime.live_event import LiveEvent, LiveKind

HERE, THERE, GONE = "worker-here", "worker-there", "worker-gone"


class _Registry:
    def __init__(self, tabs):
        self.tabs = tabs
        self.unregistered: list[str] = []

    async def targets(self, user_ids):
        return [t for t in self.tabs if t[0] in user_ids]

    async def unregister(self, client_token):
        self.unregistered.append(client_token)


@pytest.fixture
def routed(monkeypatch):
    tabs = [(1, "local-tab", "s"), (2, "remote-tab", "s"), (2, "gone-worker-tab", "s"),
            (3, "closed-tab", "s")]
    owners = {"local-tab": HERE, "remote-tab": THERE, "gone-worker-tab": GONE}
    fake_registry = _Registry(tabs)
    app = SimpleNamespace(event_namespace=SimpleNamespace(
        _token_manager=SimpleNamespace(instance_id=HERE, token_to_socket={"local-tab": 1})))
    monkeypatch.setattr(connections, "app", lambda: app)
    monkeypatch.setattr(registry, "get_registry", lambda: fake_registry)

    async def owners_of(_app, tokens):
        return {t: owners[t] for t in tokens if t in owners}

    monkeypatch.setattr(connections, "owners", owners_of)
    here: list[tuple[str, bool | None]] = []

    async def deliver_here(user_id, token, state_name, event, *, connected=None):
        here.append((token, connected))
        if connected is False:
            await fake_registry.unregister(token)

    monkeypatch.setattr(delivery, "_deliver", deliver_here)
    forwarded: list[tuple[str, list]] = []
    return SimpleNamespace(here=here, forwarded=forwarded, registry=fake_registry)


async def _publish(routed, monkeypatch, send) -> None:
    monkeypatch.setattr(forwarding, "send", send)
    event = LiveEvent(kind=LiveKind.MESSAGE, conversation_id=7, seq=3, actor_user_id=9)
    assert await delivery.publish(event, user_ids=[1, 2, 3]) == 4
    await asyncio.sleep(0)  # the spawned deliveries run
    await asyncio.sleep(0)


async def test_each_tab_is_served_by_the_worker_holding_its_socket(routed, monkeypatch):
    async def send(instance_id, event, tabs):
        routed.forwarded.append((instance_id, [t[1] for t in tabs]))
        return instance_id == THERE  # nobody listens for the worker that is gone

    await _publish(routed, monkeypatch, send)
    assert sorted(routed.forwarded) == [(GONE, ["gone-worker-tab"]), (THERE, ["remote-tab"])]
    # Here: our own tab, the tab whose worker did not answer (Reflex routes its delta), and
    # the closed tab only to be forgotten.
    assert sorted(routed.here) == [("closed-tab", False), ("gone-worker-tab", True),
                                   ("local-tab", True)]
    assert routed.registry.unregistered == ["closed-tab"]


async def test_a_forward_that_fails_is_served_here(routed, monkeypatch):
    async def send(instance_id, event, tabs):
        raise ConnectionError("Redis went away")

    await _publish(routed, monkeypatch, send)
    assert ("remote-tab", True) in routed.here and ("gone-worker-tab", True) in routed.here


async def test_an_events_audience_and_their_sockets_come_in_one_round_trip(monkeypatch):
    """Scaled out, ``publish`` finds the users' tabs (the registry's hashes) and the worker
    holding each tab's socket (Reflex's socket records) in one Redis round trip, with the same
    answer as the two separate lookups: this worker's tabs, another worker's, a record naming
    this worker with no socket here (a leftover: left out), and a tab with no record."""
    import pickle
    import uuid

    from reflex.utils.token_manager import SocketRecord

    from tests.unit.test_realtime import REDIS_URL, require_redis

    require_redis()
    reg = registry.RedisRegistry(REDIS_URL)
    prefix = f"test_socket_record_{uuid.uuid4().hex}_"
    users = [10**12 + uuid.uuid4().int % 10**12 for _ in range(3)]
    tabs = {name: f"tab-{uuid.uuid4().hex}" for name in ("here", "there", "stale", "closed")}
    try:
        await reg.register(users[0], tabs["here"], "state.a")
        await reg.register(users[1], tabs["there"], "state.b")
        await reg.register(users[1], tabs["stale"], "state.b")
        await reg.register(users[1], tabs["closed"], "state.c")
        for name, instance in (("here", HERE), ("there", THERE), ("stale", HERE)):
            await reg._raw.set(prefix + tabs[name],
                               pickle.dumps(SocketRecord(instance_id=instance, sid="s")))
        manager = SimpleNamespace(instance_id=HERE, token_to_socket={tabs["here"]: 1},
                                  redis=reg._raw, _token_socket_record_prefix=prefix,
                                  _get_redis_key=lambda token: prefix + token)
        app = SimpleNamespace(event_namespace=SimpleNamespace(_token_manager=manager))
        monkeypatch.setattr(registry, "get_registry", lambda: reg)
        await delivery._audience(app, users)  # the first call loads the script into Redis
        # What goes on the wire, counted where redis-py writes it.
        from redis.asyncio.connection import AbstractConnection

        sent: list[object] = []
        real_send = AbstractConnection.send_packed_command

        async def counted(connection, command, *args, **kwargs):
            sent.append(command)
            return await real_send(connection, command, *args, **kwargs)

        monkeypatch.setattr(AbstractConnection, "send_packed_command", counted)
        found, owners = await delivery._audience(app, users)
        assert len(sent) == 1  # one command on the wire: the script
        monkeypatch.undo()
        by_token = {token: (user, state) for user, token, state in found}
        assert by_token == {tabs["here"]: (users[0], "state.a"),
                            tabs["there"]: (users[1], "state.b"),
                            tabs["stale"]: (users[1], "state.b"),
                            tabs["closed"]: (users[1], "state.c")}
        assert owners == {tabs["here"]: HERE, tabs["there"]: THERE}
        # The same answer as the registry's hashes and an MGET of the records.
        assert sorted(found) == sorted(await reg.targets(users))
        assert owners == await connections.owners(app, list(by_token))
    finally:
        keys = ([reg._key(u) for u in users] + [f"care:live:token:{t}" for t in tabs.values()]
                + [prefix + t for t in tabs.values()])
        await reg._raw.delete(*keys)
        await reg._raw.aclose()
        await reg._redis.aclose()


def test_redis_replies_are_parsed_in_c():
    """The live path and Reflex's state manager read every Redis reply through redis-py's
    parser: hiredis's C parser (pyproject.toml), not the pure-Python one."""
    from redis.asyncio.connection import DefaultParser

    assert DefaultParser.__name__ == "_AsyncHiredisParser"
