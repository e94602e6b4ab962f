"""The load balancer nodes of an emulated ALB: one listener per enabled Availability Zone.

AWS ("How Elastic Load Balancing works", ELB user guide): enabling an Availability Zone
for a load balancer creates a load balancer node in it; the load balancer's DNS name
resolves to the IP addresses of its nodes (A records with a 60 s TTL), and the client
picks one. The twin gives each node a loopback address of its own (picked by
:func:`sandbox.loopback_address.bind_free_loopback`, so two sandboxes on one machine
take different ones) with a listener on the ALB's port; a request received there is
answered by :meth:`sandbox.elbv2.http.AlbEmulator.handle` as that node:

- the client reaches the node only if the NACL of the node's subnet lets the packets
  through (``nacl.connection_allowed``); if it does not, the packets are dropped
  (VPC user guide, "Control subnet traffic with network access control lists": a
  deny rule drops the traffic) and the client gets no answer until its own timeout;
- the node forwards from its own subnet to any target of any AZ (cross-zone load
  balancing is always on at the ALB level, ELB user guide, "Cross-zone load
  balancing").

What ELB does with the DNS record of a node whose subnet drops client traffic: AWS
documents nothing for that case. ELB removes a zone's node addresses from DNS only for
target health ("Target group health", ALB user guide: DNS failover when the healthy
targets of a zone fall below the threshold, default 1), and with cross-zone load
balancing on a zone counts as healthy while each target group has a healthy target
in any zone (AWS re:Post knowledge center, "elb-dns-cross-zone-balance-configuration").
So every node keeps its address in DNS, the blackholed one included, and a client
that picked it times out.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

from sandbox.lifecycle import Lifecycle
from sandbox.loopback_address import bind_free_loopback
from sandbox.loopback_http import LoopbackHttpServer, QuietHandler

if TYPE_CHECKING:
    from sandbox.elbv2.http import AlbEmulator

__all__ = ["AlbNodes"]

log = logging.getLogger(__name__)


class _NodeFront:
    """The owner a node's HTTP server hands requests to: the ALB, as the node of ``az``."""

    def __init__(self, alb: AlbEmulator, az: str) -> None:
        self.alb, self.az = alb, az

    def handle(self, handler: QuietHandler, body: bytes) -> None:
        self.alb.handle(handler, body, node_az=self.az)


class AlbNodes(Lifecycle):
    """One node listener per enabled AZ of ``alb``'s load balancer (its subnets' AZs at
    start), each on a loopback address of its own and ``port`` (the listener's port;
    default: the port ``alb`` listens on). ``start`` returns None: the nodes listen on
    several addresses, see :meth:`addresses`."""

    def __init__(
        self, alb: AlbEmulator, port: int | None = None, rng: random.Random | None = None
    ) -> None:
        self.alb = alb
        self._port = port
        self._rng = rng
        self._servers: dict[str, LoopbackHttpServer] = {}

    def start(self) -> None:
        if self._servers:
            return
        from sandbox.elbv2.http import AlbRequestHandler

        port = self._port if self._port is not None else self.alb.address[1]
        for az in self.alb.node_azs():
            front = _NodeFront(self.alb, az)

            def serve(host: str, front: Any = front) -> LoopbackHttpServer:
                server = LoopbackHttpServer(AlbRequestHandler, front, host, port)
                server.start(f"alb-node-{front.az}")
                return server

            try:
                self._servers[az] = bind_free_loopback(serve, rng=self._rng)
            except OSError:
                self.stop()
                raise
            log.info("ALB node %s on %s:%s", az, *self._servers[az].address)

    def stop(self, timeout: float = 5.0) -> None:
        servers, self._servers = self._servers, {}
        for server in servers.values():
            server.stop(timeout)

    def by_az(self) -> dict[str, str]:
        """{AZ: the node's loopback address}, in AZ order."""
        return {az: server.address[0] for az, server in sorted(self._servers.items())}

    def addresses(self) -> list[str]:
        """The nodes' addresses, in AZ order: what the load balancer's DNS name answers."""
        return list(self.by_az().values())
