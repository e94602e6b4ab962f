"""A threaded HTTP server on a loopback address that starts and stops cleanly."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["LoopbackHttpServer", "QuietHandler"]

log = logging.getLogger(__name__)


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler that logs through ``logging`` (debug) instead of stderr."""

    protocol_version = "HTTP/1.1"
    timeout = 10  # idle keep-alive connections close after this many seconds

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), format % args)

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self, limit: int = 1 << 20) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, limit)) if length > 0 else b""


class _Server(ThreadingHTTPServer):
    """One thread per connection, at most ``max_connections`` at once (more are closed
    on arrival, as an overloaded endpoint resets them)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    max_connections = 256

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._slots = threading.BoundedSemaphore(self.max_connections)

    def process_request(self, request: object, client_address: object) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("%s: connection limit reached, closing", self.server_address)
            self.shutdown_request(request)  # type: ignore[arg-type]
            return
        super().process_request(request, client_address)  # type: ignore[arg-type]

    def process_request_thread(self, request: object, client_address: object) -> None:
        try:
            super().process_request_thread(request, client_address)  # type: ignore[arg-type]
        finally:
            self._slots.release()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client resetting its connection is normal traffic, not a traceback."""
        log.debug("error serving %s", client_address, exc_info=True)


class LoopbackHttpServer:
    """Serve ``handler_class`` on ``host:port`` (port 0: a free one) in a thread.

    The handler reaches its owner through ``self.server.owner``.
    """

    def __init__(
        self, handler_class: type[BaseHTTPRequestHandler], owner: object, host: str, port: int
    ) -> None:
        self._handler_class = handler_class
        self._owner = owner
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, name: str) -> tuple[str, int]:
        if self._server is not None:
            return self.address
        server = _Server((self._host, self._port), self._handler_class)
        server.owner = self._owner  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )
        self._thread.start()
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout)
