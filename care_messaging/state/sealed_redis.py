"""Reflex's Redis state manager, with what it writes to Redis encrypted under the app's key.

When scaled out, each tab's state tree lives in Redis: the page states hold PHI (list rows,
message text, a patient's profile) and Reflex's root state holds the tab's request headers,
the session cookie included. Reflex pickles each state to one Redis value; this manager seals
every such value with AES-256-GCM (``care_messaging.crypto``, the key ring of the database's
PHI, so key rotation by listing a new key first applies here too).

The sealed value is itself a tiny pickle whose loading opens the seal, so Reflex's own reading
code (``BaseState._deserialize``) is unchanged: it gets back the pair it pickled. A value that
fails authentication (a wrong key, an altered or foreign value) raises inside that load, which
Reflex treats like a state from an older schema: the tab starts from empty state.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import TYPE_CHECKING, Any

from reflex.istate.manager.redis import StateManagerRedis

from care_messaging import crypto

if TYPE_CHECKING:
    from reflex.app import App
    from reflex.istate.manager.token import BaseStateToken
    from reflex.state import BaseState

AAD = crypto.reflex_state_aad()


def open_sealed(blob: bytes, key_id: str) -> Any:
    """What pickle calls while Reflex loads a sealed state: the (schema, state) it stored."""
    return pickle.loads(crypto.decrypt(blob, aad=AAD, key_id=key_id))


class _Sealed:
    __slots__ = ("blob", "key_id")

    def __init__(self, blob: bytes, key_id: str) -> None:
        self.blob, self.key_id = blob, key_id

    def __reduce__(self) -> tuple[Any, tuple[bytes, str]]:
        return open_sealed, (self.blob, self.key_id)


def seal(payload: bytes) -> bytes:
    blob, key_id = crypto.encrypt(payload, aad=AAD)
    return pickle.dumps(_Sealed(blob, key_id), protocol=pickle.HIGHEST_PROTOCOL)


@dataclasses.dataclass
class SealedStateManagerRedis(StateManagerRedis):
    """Every state write (both of Reflex's write paths collect them here) is sealed.

    It also reads the tab-owner mark (``state/tab_owner.py``, checked before every event) in
    the same MGET as the event's own states, instead of a second round trip per event.
    """

    def _get_required_state_classes(
        self,
        target_state_cls: type[BaseState],
        subclasses: bool = False,
        required_state_classes: set[type[BaseState]] | None = None,
    ) -> set[type[BaseState]]:
        top_level = required_state_classes is None
        required = super()._get_required_state_classes(
            target_state_cls, subclasses=subclasses,
            required_state_classes=required_state_classes)
        if top_level:
            from care_messaging.state.tab_owner import TabOwnerState

            required.add(TabOwnerState)
        return required

    def _collect_state_writes(
        self, token: BaseStateToken, base_state: BaseState
    ) -> list[tuple[str, bytes]]:
        return [(key, seal(payload))
                for key, payload in super()._collect_state_writes(token, base_state)]


def seal_redis_states(app: App) -> None:
    """Swap the app's Redis state manager (made by ``rx.App``) for the sealing one."""
    manager = app._state_manager
    if isinstance(manager, StateManagerRedis) and not isinstance(manager,
                                                                  SealedStateManagerRedis):
        # Reflex's StateManagerRedis redefines get_state/set_state/modify_state under
        # conditions, which mypy (on a cold cache) reads as abstract: the class is concrete.
        app._state_manager = SealedStateManagerRedis(  # type: ignore[abstract]
            redis=manager.redis,
            token_expiration=manager.token_expiration,
            lock_expiration=manager.lock_expiration,
            lock_warning_threshold=manager.lock_warning_threshold,
            oplock_hold_time_ms=manager.oplock_hold_time_ms,
        )
