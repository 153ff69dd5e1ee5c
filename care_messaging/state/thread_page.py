"""What the provider dashboard and the patient portal share: a conversation list and one open
thread with sending, receipts, typing and live updates.

A Reflex state mixin: each page state (``DashboardState``, ``PortalState``) gets its own copy
of these vars and handlers. The page supplies the role, its list refresh, its thread header
and a few hooks (attachments, read-only threads); everything that touches a conversation or
message re-checks access on the server through the services, and the session through
``@guarded`` (handlers: state/guarded.py) or ``live_actor`` (live pushes).
"""

from __future__ import annotations

from care_messaging.state.thread_live import ThreadLiveState
from care_messaging.state.thread_reading import ThreadReadingState
from care_messaging.state.thread_sending import ThreadSendingState


class ThreadPageState(ThreadLiveState, ThreadSendingState, ThreadReadingState, mixin=True):
    """The list and one open thread, composed by concern: the vars, the page's hooks and the
    thread's rows (state/thread_base.py); opening, reading and paging (thread_reading.py);
    sending, the outbox and typing (thread_sending.py); live updates (thread_live.py)."""
