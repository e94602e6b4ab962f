"""A DNS server on loopback (UDP and TCP, same port) answering from a callable.

``records(qname, qtype)`` returns ``[(value, ttl), ...]`` (NOERROR; an empty list is a
NOERROR answer without records) or None (NXDOMAIN). Types: A, AAAA, CNAME, TXT, NS; any
other type gets an empty answer. ``failover_routing.route53_failover_resolver`` builds
such a callable from moto's route53 backend.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from dnslib import AAAA, CNAME, NS, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, TCPServer, UDPServer

from sandbox.lifecycle import Lifecycle

__all__ = ["FailoverDnsServer"]

log = logging.getLogger(__name__)

Records = Callable[[str, str], list[tuple[str, int]] | None]
_RDATA = {"A": A, "AAAA": AAAA, "CNAME": CNAME, "NS": NS, "TXT": TXT}


class _Resolver(BaseResolver):
    def __init__(self, records: Records) -> None:
        self.records = records

    def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
        reply = request.reply()
        qname = str(request.q.qname)
        qtype = QTYPE.get(request.q.qtype, str(request.q.qtype))
        try:
            answers = self.records(qname, qtype)
        except Exception:
            log.warning("DNS records(%s, %s) failed", qname, qtype, exc_info=True)
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if answers is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        rdata = _RDATA.get(qtype)
        if rdata is None:
            return reply
        for value, ttl in answers:
            reply.add_answer(RR(qname, request.q.qtype, rdata=rdata(value), ttl=int(ttl)))
        return reply


class _QuietLogger:
    """dnslib prints every query by default; send them to debug logging instead."""

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args: log.debug("dns %s", name)


class FailoverDnsServer(Lifecycle):
    """Serve ``records`` on ``host`` UDP and TCP (``port`` 0: a free port, the same for
    both protocols)."""

    def __init__(self, records: Records, host: str = "127.0.0.1", port: int = 0) -> None:
        self.records = records
        self._host, self._port = host, port
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []

    def start(self, attempts: int = 10) -> tuple[str, int]:
        """Start both servers; returns (host, port)."""
        if self._servers:
            return self.address
        resolver = _Resolver(self.records)
        for _ in range(attempts):
            udp = UDPServer((self._host, self._port), DNSHandler)
            port = udp.server_address[1]
            try:
                tcp = TCPServer((self._host, port), DNSHandler)
            except OSError:
                udp.server_close()
                if self._port:
                    raise
                continue
            break
        else:
            raise OSError(f"no port free for both UDP and TCP on {self._host}")
        for server in (udp, tcp):
            server.resolver = resolver
            server.logger = _QuietLogger()
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        log.info("DNS server on %s:%s (udp, tcp)", *self.address)
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        if not self._servers:
            raise RuntimeError("FailoverDnsServer not started")
        host, port = self._servers[0].server_address[:2]
        return str(host), int(port)

    def stop(self, timeout: float = 5.0) -> None:
        servers, threads = self._servers, self._threads
        self._servers, self._threads = [], []
        for server in servers:
            server.shutdown()
            server.server_close()
        for thread in threads:
            thread.join(timeout)
