"""A real SMTP server on localhost for the notification tests (aiosmtpd), keeping every email
it accepts."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    to: list[str]
    message: Message

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    @property
    def body(self) -> str:
        return self.message.get_payload(decode=True).decode()


class _Handler:
    def __init__(self, box: SmtpCapture) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope) -> str:
        received = Received(list(envelope.rcpt_tos), email.message_from_bytes(envelope.content))
        with self.box.lock:
            self.box.received.append(received)
            count = len(self.box.received)
        if self.box.on_receive is not None:
            self.box.on_receive(count)
        return "250 Message accepted for delivery"


class SmtpCapture:
    def __init__(self, on_receive: Callable[[int], None] | None = None) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.on_receive = on_receive
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> SmtpCapture:
        self._controller.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._controller.stop()

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.to]

    def wait_for(self, count: int, address: str | None = None, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = len(self.to(address)) if address else len(self.received)
            if got >= count:
                return
            time.sleep(0.1)
        raise TimeoutError(f"expected {count} emails, got {len(self.received)}")
