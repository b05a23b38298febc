"""Run an ASGI app with uvicorn on a loopback ephemeral port in a background thread."""

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn


class ServerThread:
    """``with ServerThread(app) as server: httpx.get(server.url + "/path")``."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> "ServerThread":
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def hold(released: threading.Event, seconds: float | None) -> bool:
    """A fake server's hanging answer: wait ``seconds`` (None: forever); False if ``released``
    (the fake began to stop) first, so a stopping server is never kept up by its own hang."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while not released.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            return True
        await asyncio.sleep(0.05)
    return False
