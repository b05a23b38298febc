"""A TCP proxy in front of the API that cuts the first event stream after its first event.

Stands in for what no test can cause on demand: a network (a load balancer, Wi-Fi) dropping a
long-lived connection mid-stream. Bytes pass through unchanged; once a response that is an event
stream has relayed one complete event (a blank line after ``data:``), that connection is closed on
both sides. Later connections pass untouched, so a client that resumes with Last-Event-ID gets
the rest.
"""

import contextlib
import socket
import threading
from types import TracebackType


class CuttingProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> "CuttingProxy":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._relay, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._relay, args=(server, client, True), daemon=True).start()

    def _relay(self, source: socket.socket, target: socket.socket, from_server: bool) -> None:
        seen = b""
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
                if from_server and self._should_cut(seen := (seen + chunk)[-65536:]):
                    break
        except OSError:
            pass
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _should_cut(self, seen: bytes) -> bool:
        """The first stream that has carried one whole event is cut (once)."""
        stream = seen.find(b"text/event-stream")
        headers_end = seen.find(b"\r\n\r\n", stream) if stream >= 0 else -1
        if headers_end < 0:
            return False
        data = seen.find(b"data:", headers_end)
        if data < 0 or not (b"\r\n\r\n" in seen[data:] or b"\n\n" in seen[data:]):
            return False
        with self._lock:
            if self.cuts:
                return False
            self.cuts += 1
            return True
