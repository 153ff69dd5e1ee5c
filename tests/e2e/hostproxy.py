"""A tiny TCP proxy that routes websocket connections by Host header, for scale-out tests.

The compiled frontend always opens its websocket on the port it was built for, with the page's
own hostname. Pages opened at ``localhost:P`` and at ``127.0.0.1:P`` therefore both connect to
port P; this proxy sends ``/_event`` connections for each hostname to a different app worker
(all other HTTP goes to the first), so two users' sessions are held by two different
processes, deterministically. It records where each websocket went, so tests can assert it.
"""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import parse_qs, urlsplit


class HostRoutingProxy:
    def __init__(self, listen_port: int, default_port: int, event_routes: dict[str, int]):
        self.listen_port = listen_port
        self.default_port = default_port
        self.event_routes = event_routes  # hostname -> backend port for /_event
        self.websocket_routes: list[tuple[str, int]] = []
        self.failovers: list[tuple[str, int]] = []
        # Reflex tab tokens whose websocket is refused (closed before the handshake, as a
        # dropped line or a dead server looks to the browser); their pages still load.
        self.refused_tokens: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("proxy did not start")

    def stop(self) -> None:
        if not self._ready.is_set():
            return

        async def shutdown() -> None:
            if self._server:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.listen_port)
        )
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        path = request_line.split(" ")[1] if " " in request_line else "/"
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (line.partition(":") for line in header_lines if ":" in line)
        }
        hostname = headers.get("host", "").rsplit(":", 1)[0]
        port = self.default_port
        if path.startswith("/_event") and hostname in self.event_routes:
            port = self.event_routes[hostname]
        if path.startswith("/_event"):
            self.websocket_routes.append((hostname, port))
            token = parse_qs(urlsplit(path).query).get("token", [""])[0]
            if token in self.refused_tokens:
                writer.close()
                return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if port == self.default_port:
                writer.close()
                return
            # A load balancer takes a dead worker out of rotation: the tab reconnects to the
            # one that is left (its state is in Redis).
            self.failovers.append((hostname, port))
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1",
                                                                     self.default_port)
            except OSError:
                writer.close()
                return
        up_writer.write(head)
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer),
                             return_exceptions=True)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
