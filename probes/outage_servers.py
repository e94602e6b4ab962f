"""Local targets that go down and up on command (tests, the RTO bench, demos).

:class:`SwitchableServer` listens on a loopback address and answers HTTP ``200 ok``;
``down()`` closes the listening socket (clients get "connection refused"), ``up()``
binds the same port again, ``hang()`` accepts and never answers, ``fail()`` answers
503. Every change is stamped with ``time.monotonic()`` in ``transitions`` (the ground
truth the measurement is compared with). :class:`OutageSwitch` is a tiny HTTP endpoint
``GET /outage?seconds=S`` that takes a server down for S seconds (what an experiment's
``http`` action can call).
"""

from __future__ import annotations

import logging
import select
import socket
import threading
import time
from urllib.parse import parse_qs, urlsplit

__all__ = ["SwitchableServer", "OutageSwitch"]

logger = logging.getLogger(__name__)

_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
_FAIL = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\ndown"


class SwitchableServer:
    """An HTTP/TCP target on ``host`` whose state the caller controls."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, body: bytes = _OK) -> None:
        self.host, self.port, self.body = host, port, body
        self.mode = "down"
        self.transitions: list[tuple[float, str]] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self._held: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/health"

    def _bind(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._thread = threading.Thread(target=self._serve, args=(listener,), daemon=True)
        self._thread.start()

    def _serve(self, listener: socket.socket) -> None:
        while True:
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    if listener.fileno() < 0:
                        return
                    continue
                conn, _ = listener.accept()
            except (OSError, ValueError):
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with self._lock:
            mode = self.mode
            self.requests += 1
        if mode == "hang":
            with self._lock:
                self._held.append(conn)
            return
        try:
            conn.settimeout(2)
            conn.recv(65536)
            conn.sendall(self.body if mode == "up" else _FAIL)
        except OSError:
            pass
        finally:
            conn.close()

    def _set(self, mode: str) -> float:
        now = time.monotonic()
        with self._lock:
            self.mode = mode
            self.transitions.append((now, mode))
        return now

    def start(self) -> SwitchableServer:
        self._bind()
        self._set("up")
        return self

    def up(self) -> float:
        """Listen again (same port) and answer 200; returns the monotonic time."""
        if self._listener is None:
            self._bind()
        return self._set("up")

    def down(self) -> float:
        """Close the listening socket: connection refused. Returns the monotonic time."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:  # stop listening now, even while the serve thread is in select()
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        stamp = self._set("down")
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            conn.close()
        return stamp

    def hang(self) -> float:
        """Accept connections but never answer."""
        if self._listener is None:
            self._bind()
        return self._set("hang")

    def fail(self) -> float:
        """Answer 503."""
        if self._listener is None:
            self._bind()
        return self._set("fail")

    def down_for(self, seconds: float) -> float:
        """Go down now and come back up after ``seconds`` (a timer thread)."""
        stamp = self.down()
        self._timer = threading.Timer(seconds, self.up)
        self._timer.daemon = True
        self._timer.start()
        return stamp

    def outages(self) -> list[tuple[float, float | None]]:
        """(went down, came back) monotonic pairs from the transitions."""
        spans: list[tuple[float, float | None]] = []
        down_at: float | None = None
        for stamp, mode in self.transitions:
            if mode != "up" and down_at is None:
                down_at = stamp
            elif mode == "up" and down_at is not None:
                spans.append((down_at, stamp))
                down_at = None
        if down_at is not None:
            spans.append((down_at, None))
        return spans

    def stop(self) -> None:
        if self._timer:
            self._timer.cancel()
        self.down()


class OutageSwitch:
    """``GET /outage?seconds=S`` takes ``server`` down for S seconds, then answers 200."""

    def __init__(self, server: SwitchableServer, host: str = "127.0.0.1") -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        switch = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                parts = urlsplit(self.path)
                if parts.path != "/outage":
                    self.send_error(404)
                    return
                seconds = float(parse_qs(parts.query).get("seconds", ["1"])[0])
                switch.server.down_for(seconds)
                self.send_response(200)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"down")

            def log_message(self, *args: object) -> None:
                return

        self.server = server
        self.http = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.http.server_address[1]}/outage"
        self._thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def start(self) -> OutageSwitch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()
