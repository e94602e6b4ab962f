"""The ticket API: one small HTTP server per Availability Zone, behind the ALB.

Routes: ``GET /api/tickets`` (200, JSON with the instance, AZ, region and the tickets
it holds), ``POST /api/tickets`` (201, stores the JSON body in memory), ``GET /health``
(200 ``ok <az>``; 503 after ``set_healthy(False)``). Every answer carries
``X-Served-By: <az>``. The server follows the power state of the EC2 instance it runs
on (:meth:`ApiInstance.follow_power`): while the instance is stopping, stopped or
terminated nothing listens (connection refused); once it is running again it listens on
the same address. Tickets live in the instance's memory (last 1000 kept): the API
tier is stateless in the reference architecture, durable state is the database's job.
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections import deque
from collections.abc import Callable

from sandbox.lifecycle import Lifecycle
from sandbox.loopback_http import LoopbackHttpServer, QuietHandler

__all__ = ["ApiInstance", "POWERED_OFF_STATES"]

# EC2 instance states in which the instance's processes do not run
POWERED_OFF_STATES = frozenset({"stopping", "stopped", "shutting-down", "terminated"})

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
        self._host, self._port = host, port
        self._server = LoopbackHttpServer(_ApiHandler, self, host, port)
        self._power_lock = threading.Lock()
        self._bound: tuple[str, int] | None = None
        self.powered = True
        # told the new address when a restart could not take the old port back
        self.on_moved: Callable[[tuple[str, int]], None] | None = None
        self._lock = threading.Lock()
        self._tickets: deque[dict[str, object]] = deque(maxlen=1000)
        self._ids = itertools.count(1)
        self.healthy = True

    def start(self) -> tuple[str, int]:
        """Start serving; returns (host, port)."""
        address = self._server.start(f"api-{self.name}")
        self._bound = address
        log.info("API instance %s (%s) on %s:%s", self.name, self.az, *address)
        return address

    def stop(self) -> None:
        self._server.stop()

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (or listened last, while powered off)."""
        return self._bound or self._server.address

    def follow_power(self, state: str) -> None:
        """Follow the EC2 instance's state: stop listening when it powers off, listen
        again (same address; a fresh port if another process took it, told to
        ``on_moved``) once it is ``running``; ``pending`` keeps it off."""
        with self._power_lock:
            if state in POWERED_OFF_STATES and self.powered:
                self.powered = False
                self._server.stop()
                log.info("API instance %s (%s) powered off: %s", self.name, self.az, state)
            elif state == "running" and not self.powered:
                self._listen_again()
                self.powered = True
                log.info("API instance %s (%s) serving again", self.name, self.az)

    def _listen_again(self) -> None:
        host, port = self._bound or (self._host, self._port)
        self._server = LoopbackHttpServer(_ApiHandler, self, host, port)
        try:
            self._bound = self._server.start(f"api-{self.name}")
        except OSError:
            self._server = LoopbackHttpServer(_ApiHandler, self, host, 0)
            self._bound = self._server.start(f"api-{self.name}")
            if self.on_moved is not None:
                self.on_moved(self._bound)

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
