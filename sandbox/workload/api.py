"""The ticket API: one small HTTP server per Availability Zone, behind the ALB.

Routes: ``GET /api/tickets`` (200, JSON with the instance, AZ, region and the tickets
it holds), ``POST /api/tickets`` (201, stores the JSON body in memory), ``GET /health``
(200 ``ok <az>``; 503 after ``set_healthy(False)``). Every answer carries
``X-Served-By: <az>``. Tickets live in the instance's memory (last 1000 kept): the API
tier is stateless in the reference architecture, durable state is the database's job.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import deque

from sandbox.lifecycle import Lifecycle
from sandbox.loopback_http import LoopbackHttpServer, QuietHandler

__all__ = ["ApiInstance"]

log = logging.getLogger(__name__)


class _ApiHandler(QuietHandler):
    server_version = "tickets-api/1.0"

    @property
    def instance(self) -> ApiInstance:
        return self.server.owner  # type: ignore[attr-defined,no-any-return]

    def _json(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        headers = {"X-Served-By": self.instance.az}
        self.send_body(status, body, "application/json", headers)

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def do_GET(self) -> None:  # noqa: N802
        instance = self.instance
        path = self._path()
        if path == "/health":
            ok = instance.healthy
            body = f"{'ok' if ok else 'unhealthy'} {instance.az}\n".encode()
            self.send_body(200 if ok else 503, body, headers={"X-Served-By": instance.az})
        elif path == "/api/tickets":
            self._json(200, instance.describe() | {"tickets": instance.tickets()})
        else:
            self._json(404, {"error": "not found", "path": path})

    do_HEAD = do_GET  # noqa: N815

    def do_POST(self) -> None:  # noqa: N802
        if self._path() != "/api/tickets":
            self._json(404, {"error": "not found"})
            return
        raw = self.read_body()
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            self._json(400, {"error": "body is not JSON"})
            return
        self._json(201, self.instance.add_ticket(data))


class ApiInstance(Lifecycle):
    """One API instance in ``az`` of ``region``, on ``host:port`` (port 0: a free one)."""

    def __init__(
        self, name: str, region: str, az: str, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.name, self.region, self.az = name, region, az
        self._server = LoopbackHttpServer(_ApiHandler, self, host, port)
        self._lock = threading.Lock()
        self._tickets: deque[dict[str, object]] = deque(maxlen=1000)
        self._ids = itertools.count(1)
        self.healthy = True

    def start(self) -> tuple[str, int]:
        """Start serving; returns (host, port)."""
        address = self._server.start(f"api-{self.name}")
        log.info("API instance %s (%s) on %s:%s", self.name, self.az, *address)
        return address

    def stop(self) -> None:
        self._server.stop()

    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    def set_healthy(self, healthy: bool) -> None:
        """Make ``/health`` answer 200 (True) or 503 (False)."""
        self.healthy = healthy

    def describe(self) -> dict[str, object]:
        return {"instance": self.name, "az": self.az, "region": self.region}

    def add_ticket(self, data: object) -> dict[str, object]:
        with self._lock:
            ticket = {"id": f"{self.name}-{next(self._ids)}", "data": data} | self.describe()
            self._tickets.append(ticket)
        return ticket

    def tickets(self) -> list[dict[str, object]]:
        with self._lock:
            return list(self._tickets)
