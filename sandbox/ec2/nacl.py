"""Network ACL evaluation over moto's EC2 models (pure functions, no I/O).

AWS semantics copied here:

- every subnet is associated with exactly one network ACL (the VPC's default one unless
  replaced); a subnet moto left without an association (``replace_network_acl_association``
  to a missing NACL) is treated as associated with the VPC's default NACL;
- entries of one direction are evaluated lowest rule number first; the first entry whose
  protocol, port range and CIDR match decides; nothing matching hits the implicit ``*``
  deny;
- protocol ``-1`` matches everything (ports ignored); TCP (6) and UDP (17) entries match
  their port range (an entry without a range matches every port); other protocols match
  on the protocol number alone (ICMP type/code are not evaluated);
- an IPv4 entry (``CidrBlock``) never matches an IPv6 peer and the reverse;
- NACLs are stateless and filter only traffic crossing a subnet boundary: a connection
  needs the request allowed out of the source subnet and into the destination subnet,
  and the reply (to the client's ephemeral port) out of the destination and back in
  (``connection_allowed``). Traffic inside one subnet is never filtered.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

# TEST-NET-2 (RFC 5737): the address the emulated internet clients come from (outside
# every VPC: only the NACL of the subnet they reach filters them).
INTERNET_CLIENT_IP = "198.51.100.10"
# How long a connection whose packets a NACL drops is held without an answer: until the
# client gives up, at most as long as a Linux client keeps retransmitting an unanswered
# SYN (tcp_syn_retries = 6: about 127 s, tcp(7)). Client side, so not scaled.
DROPPED_HOLD_S = 127.0

__all__ = [
    "EPHEMERAL_PORT",
    "Endpoint",
    "allowed",
    "connection_allowed",
    "network_acl_for_subnet",
    "subnet_for_ip",
]

# The client port a reply is sent to. Linux picks ephemeral ports in 32768-60999 and
# the AWS documentation recommends allowing 1024-65535 for replies; one representative
# port of that range is evaluated.
EPHEMERAL_PORT = 40000

_PROTOCOL_NUMBERS = {"-1": -1, "all": -1, "icmp": 1, "tcp": 6, "udp": 17, "icmpv6": 58}
_PORTED = {6, 17}


def _protocol_number(protocol: str | int) -> int:
    text = str(protocol).strip().lower()
    if text in _PROTOCOL_NUMBERS:
        return _PROTOCOL_NUMBERS[text]
    return int(text)


def network_acl_for_subnet(ec2_backend: Any, subnet_id: str) -> Any:
    """The moto ``NetworkAcl`` associated with ``subnet_id`` (the VPC default if none)."""
    acls = list(ec2_backend.network_acls.values())
    for acl in acls:
        if any(assoc.subnet_id == subnet_id for assoc in list(acl._associations.values())):
            return acl
    vpc_id = ec2_backend.get_subnet(subnet_id).vpc_id
    for acl in acls:
        if acl.default and acl.vpc_id == vpc_id:
            return acl
    raise LookupError(f"no network ACL for {subnet_id} and no default NACL in {vpc_id}")


def _entry_matches(entry: Any, peer: ipaddress._BaseAddress, protocol: int, port: int) -> bool:
    entry_protocol = _protocol_number(entry.protocol)
    if entry_protocol != -1:
        if entry_protocol != protocol:
            return False
        if entry_protocol in _PORTED and (
            entry.port_range_from is not None or entry.port_range_to is not None
        ):
            low = int(entry.port_range_from if entry.port_range_from is not None else 0)
            high = int(entry.port_range_to if entry.port_range_to is not None else 65535)
            if not low <= port <= high:
                return False
    cidr = entry.cidr_block if peer.version == 4 else entry.ipv6_cidr_block
    if not cidr:
        return False
    return peer in ipaddress.ip_network(cidr, strict=False)


def allowed(
    ec2_backend: Any,
    subnet_id: str,
    direction: str,
    peer_ip: str,
    protocol: str | int,
    port: int,
) -> bool:
    """Whether the subnet's NACL lets one packet through.

    ``direction`` is ``"ingress"`` (packet from ``peer_ip`` entering the subnet, ``port``
    its destination port) or ``"egress"`` (packet leaving for ``peer_ip``, ``port`` its
    destination port). ``protocol`` is a number or name (``-1``, ``6``, ``"tcp"``...).
    """
    if direction not in ("ingress", "egress"):
        raise ValueError(f"direction must be 'ingress' or 'egress', got {direction!r}")
    egress = direction == "egress"
    peer = ipaddress.ip_address(peer_ip)
    number = _protocol_number(protocol)
    acl = network_acl_for_subnet(ec2_backend, subnet_id)
    entries = sorted(
        (e for e in list(acl.network_acl_entries) if bool(e.egress) == egress),
        key=lambda e: int(e.rule_number),
    )
    for entry in entries:
        if _entry_matches(entry, peer, number, port):
            return str(entry.rule_action).lower() == "allow"
    return False


def subnet_for_ip(ec2_backend: Any, ip: str, vpc_id: str | None = None) -> Any | None:
    """The moto ``Subnet`` whose CIDR (v4 or v6) holds ``ip`` (in ``vpc_id`` if given)."""
    address = ipaddress.ip_address(ip)
    for per_zone in list(ec2_backend.subnets.values()):
        for subnet in list(per_zone.values()):
            if vpc_id is not None and subnet.vpc_id != vpc_id:
                continue
            blocks = [subnet.cidr_block]
            blocks += [
                assoc.get("ipv6CidrBlock")
                for assoc in getattr(subnet, "ipv6_cidr_block_associations", {}).values()
                if isinstance(assoc, dict)
            ]
            for block in blocks:
                if not block:
                    continue
                network = ipaddress.ip_network(block, strict=False)
                if network.version == address.version and address in network:
                    return subnet
    return None


@dataclass(frozen=True)
class Endpoint:
    """One end of a connection: its address and the subnet it lives in (None: outside
    the VPC, e.g. an internet client, whose side is not filtered by any NACL)."""

    ip: str
    subnet_id: str | None


def connection_allowed(
    ec2_backend: Any,
    client: Endpoint,
    server: Endpoint,
    protocol: str | int,
    port: int,
    ephemeral_port: int = EPHEMERAL_PORT,
) -> bool:
    """Whether ``client`` can open a connection to ``server:port`` and get replies.

    Four checks (NACLs are stateless): request out of the client's subnet and into the
    server's, reply out of the server's subnet to ``ephemeral_port`` and back into the
    client's. Endpoints in the same subnet are never filtered.
    """
    if client.subnet_id is not None and client.subnet_id == server.subnet_id:
        return True
    checks = []
    if client.subnet_id is not None:
        checks.append((client.subnet_id, "egress", server.ip, port))
        checks.append((client.subnet_id, "ingress", server.ip, ephemeral_port))
    if server.subnet_id is not None:
        checks.append((server.subnet_id, "ingress", client.ip, port))
        checks.append((server.subnet_id, "egress", client.ip, ephemeral_port))
    return all(
        allowed(ec2_backend, subnet, direction, peer, protocol, dest_port)
        for subnet, direction, peer, dest_port in checks
    )
