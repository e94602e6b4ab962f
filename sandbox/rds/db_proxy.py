"""A TCP proxy in front of the real PostgreSQL: the emulated RDS endpoint.

While ``accepting()`` is False (the emulated failover window) the proxy resets new
connections as soon as they arrive and kills the established ones, as clients of a
failing-over RDS instance see; once it is True again it serves again (the emulated
instance is now "in the other AZ", it is the same database). ``accepting`` is polled
every ``poll_interval`` seconds and on every new connection, so it must be cheap (for
example ``lambda: rds_failover.is_available(db_id)``).

``reachable()`` says whether the client's packets reach the instance (the NACL of the
writer's subnet, :mod:`sandbox.rds.reachability`). While it is False nothing answers,
as a client whose packets a NACL drops sees it: a new connection is accepted and held
without an answer (its first bytes kept) until the packets pass again (then it is
served, as a retransmitted SYN would be), the client gives up, or ``dropped_hold_s``
passes; the bytes of an established connection wait undelivered meanwhile.
"""

from __future__ import annotations

import logging
import select
import socket
import struct
import threading
import time
from collections.abc import Callable

from sandbox.ec2 import nacl
from sandbox.lifecycle import Lifecycle

__all__ = ["DbProxy", "DROPPED_HOLD_S"]

log = logging.getLogger(__name__)

# How long a connection whose packets are dropped is held (as the ALB nodes hold one)
DROPPED_HOLD_S = nacl.DROPPED_HOLD_S


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), the way a dead endpoint's connections end."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class _Pair:
    """One client connection and its upstream connection, pumped by two threads."""

    def __init__(self, proxy: DbProxy, client: socket.socket, upstream: socket.socket) -> None:
        self.proxy, self.client, self.upstream = proxy, client, upstream
        self._closed = threading.Event()

    def start(self) -> None:
        for source, sink, name in (
            (self.client, self.upstream, "db-proxy-up"),
            (self.upstream, self.client, "db-proxy-down"),
        ):
            threading.Thread(target=self._pump, args=(source, sink), name=name, daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if not self.proxy.wait_reachable(self._closed):
                    break
                sink.sendall(data)
        except OSError:
            pass
        self.close(kill=False)

    def close(self, kill: bool) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        if kill:
            _reset(self.client)
        else:
            try:
                self.client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.client.close()
        try:
            self.upstream.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.upstream.close()
        self.proxy._forget(self)


class DbProxy(Lifecycle):
    """Proxy ``host:port`` (port 0: a free one) to the PostgreSQL at ``upstream``.

    ``upstream`` is a unix socket path (``upstream_port`` None, e.g.
    ``PostgresBackend.socket_path``) or a host name with ``upstream_port``.
    Counters: ``accepted``, ``refused`` (reset at arrival), ``killed``.
    """

    def __init__(
        self,
        upstream: str,
        upstream_port: int | None = None,
        accepting: Callable[[], bool] = lambda: True,
        *,
        reachable: Callable[[], bool] = lambda: True,
        dropped_hold_s: float = DROPPED_HOLD_S,
        host: str = "127.0.0.1",
        port: int = 0,
        poll_interval: float = 0.05,
        max_connections: int = 100,
        connect_timeout: float = 5.0,
    ) -> None:
        self.upstream, self.upstream_port = upstream, upstream_port
        self.accepting = accepting
        self.reachable = reachable
        self.dropped_hold_s = dropped_hold_s
        self._bind = (host, port)
        self.poll_interval = poll_interval
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._pairs: set[_Pair] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.accepted = self.refused = self.killed = self.held = 0
        self._holding = 0  # connections held right now (bounded by max_connections)
        # reachable() evaluates NACLs in moto: the relay asks it at most once per poll
        # interval, not once per chunk
        self._reach_lock = threading.Lock()
        self._reach: tuple[float, bool] | None = None

    def start(self) -> tuple[str, int]:
        """Listen and serve in a thread; returns (host, port)."""
        if self._listener is None:
            listener = socket.create_server(self._bind, backlog=64)
            listener.settimeout(self.poll_interval)
            self._listener = listener
            self._stop.clear()
            self._thread = threading.Thread(target=self._serve, name="db-proxy", daemon=True)
            self._thread.start()
            log.info("DB proxy on %s:%s -> %s", *self.address, self._upstream_text())
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        if self._listener is None:
            raise RuntimeError("DbProxy not started")
        host, port = self._listener.getsockname()[:2]
        return str(host), int(port)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self.kill_all()

    def active_connections(self) -> int:
        with self._lock:
            return len(self._pairs)

    def kill_all(self) -> int:
        """Reset every established connection; returns how many."""
        with self._lock:
            pairs = list(self._pairs)
        for pair in pairs:
            pair.close(kill=True)
        return len(pairs)

    def _forget(self, pair: _Pair) -> None:
        with self._lock:
            self._pairs.discard(pair)

    def _upstream_text(self) -> str:
        if self.upstream_port is None:
            return self.upstream
        return f"{self.upstream}:{self.upstream_port}"

    def _connect_upstream(self) -> socket.socket:
        if self.upstream_port is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.connect_timeout)
            try:
                sock.connect(self.upstream)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection(
                (self.upstream, self.upstream_port), timeout=self.connect_timeout
            )
        sock.settimeout(None)
        return sock

    def _is_accepting(self) -> bool:
        try:
            return bool(self.accepting())
        except Exception:  # a broken predicate must not kill the proxy: treat as down
            log.warning("accepting() raised; treating the database as unavailable", exc_info=True)
            return False

    def _is_reachable(self, cached: bool = False) -> bool:
        """``reachable()``; with ``cached`` (the relay of each chunk, a hot path) the
        answer of at most one poll interval ago."""
        now = time.monotonic()
        with self._reach_lock:
            if cached and self._reach is not None and now - self._reach[0] < self.poll_interval:
                return self._reach[1]
        try:
            value = bool(self.reachable())
        except Exception:  # a broken predicate must not kill the proxy: treat as dropped
            log.warning("reachable() raised; treating the packets as dropped", exc_info=True)
            value = False
        with self._reach_lock:
            self._reach = (now, value)
        return value

    def wait_reachable(self, closed: threading.Event) -> bool:
        """Until the packets pass (True), or the connection or the proxy ends (False)."""
        while not self._is_reachable(cached=True):
            if closed.wait(self.poll_interval) or self._stop.is_set():
                return False
        return True

    def _held(self, client: socket.socket) -> None:
        try:
            self._hold(client)
        finally:
            with self._lock:
                self._holding -= 1

    def _hold(self, client: socket.socket) -> None:
        """A connection whose packets are dropped: no answer until they pass again (then
        served, with what the client sent meanwhile), the client leaves, or the hold ends.

        A failover window seen meanwhile makes it stale: its packets went to the old
        writer's address, which the endpoint no longer names once the standby took over
        (RDS user guide, "Failover process for Amazon RDS": the DNS record is switched),
        so it is never served and the client times out, as on AWS; only a connection
        made after the switch reaches the new writer."""
        deadline = time.monotonic() + self.dropped_hold_s
        early = b""
        stale = False
        while not self._stop.is_set() and time.monotonic() < deadline:
            stale = stale or not self._is_accepting()
            if not stale and self._is_reachable():
                self._admit(client, early)
                return
            readable, _, _ = select.select([client], [], [], self.poll_interval)
            if readable:
                try:
                    data = client.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    break  # the client gave up
                early += data
        client.close()

    def _admit(self, client: socket.socket, early: bytes = b"") -> None:
        """Refuse (RST) in a failover window or when full, else pair with the upstream."""
        if not self._is_accepting() or self.active_connections() >= self.max_connections:
            self.refused += 1
            _reset(client)
            return
        try:
            upstream = self._connect_upstream()
            if early:
                upstream.sendall(early)
        except OSError:
            log.warning("DB proxy: upstream %s unreachable", self._upstream_text())
            self.refused += 1
            _reset(client)
            return
        pair = _Pair(self, client, upstream)
        with self._lock:
            self._pairs.add(pair)
        self.accepted += 1
        pair.start()

    def _serve(self) -> None:
        assert self._listener is not None
        listener = self._listener
        while not self._stop.is_set():
            if not self._is_accepting():
                killed = self.kill_all()
                if killed:
                    self.killed += killed
                    log.info("DB proxy: killed %d connections (not accepting)", killed)
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stop.is_set():
                    break
                raise
            client.settimeout(None)
            if not self._is_reachable():
                with self._lock:
                    full = self._holding + len(self._pairs) >= self.max_connections
                    self._holding += 0 if full else 1
                if full:  # bounded: no thread per retry beyond max_connections
                    self.refused += 1
                    _reset(client)
                    continue
                self.held += 1
                threading.Thread(
                    target=self._held, args=(client,), name="db-proxy-held", daemon=True
                ).start()
                continue
            self._admit(client)
