"""Whether a client's packets reach the RDS writer: the NACL of the writer's subnet.

A network ACL applies to every resource of its subnet, the database's network
interfaces included (VPC user guide, "Control subnet traffic with network access control
lists"), so a client cannot reach a writer whose subnet's NACL drops its traffic; the
instance itself stays healthy and RDS does not fail over for it (a Multi-AZ failover
follows the instance's own failures or a forced reboot, RDS user guide, "Failover
process for Amazon RDS"), so only a forced failover moves the writer out of that subnet.

The writer's subnet is the subnet of its AZ in the DB subnet group (one per AZ in the
sandbox). The client is the sandbox's internet client, outside the VPC (the same
TEST-NET-2 address the ALB emulation serves), so only the writer subnet's NACL filters
it: inbound to the DB port, replies out to an ephemeral port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from moto.backends import get_backend

from sandbox.ec2 import nacl

__all__ = ["WriterReachability", "CLIENT_IP", "WRITER_HOST"]

CLIENT_IP = nacl.INTERNET_CLIENT_IP  # the internet client the ALB emulation serves too
WRITER_HOST = 10  # the writer's address: the .10 of its subnet (RDS describes none)


class WriterReachability:
    """``reachable()`` for :class:`sandbox.rds.db_proxy.DbProxy`: True while the writer
    of ``db_id`` (in the AZ ``writer_az(db_id)`` says) can be reached through its
    subnet's NACL on ``port``. Without a subnet group (nothing to filter): True."""

    def __init__(
        self,
        account_id: str,
        region: str,
        db_id: str,
        writer_az: Callable[[str], str],
        port: int,
        client_ip: str = CLIENT_IP,
    ) -> None:
        self.account_id, self.region, self.db_id = account_id, region, db_id
        self.writer_az, self.port, self.client_ip = writer_az, port, client_ip

    def writer_subnet(self) -> Any | None:
        """The moto subnet of the writer's AZ in the instance's DB subnet group."""
        database = get_backend("rds")[self.account_id][self.region].databases.get(self.db_id)
        group = getattr(database, "db_subnet_group", None)
        if database is None or group is None:
            return None
        zone = self.writer_az(self.db_id)
        return next((s for s in list(group._subnets) if s.availability_zone == zone), None)

    def __call__(self) -> bool:
        subnet = self.writer_subnet()
        if subnet is None:
            return True
        network = ipaddress.ip_network(subnet.cidr_block, strict=False)
        return nacl.connection_allowed(
            get_backend("ec2")[self.account_id][self.region],
            nacl.Endpoint(self.client_ip, None),
            nacl.Endpoint(str(network[WRITER_HOST]), subnet.id),
            6,
            self.port,
        )
