"""Moved: the old import path, kept working (re-exports `sandbox.ec2.nacl`)."""

from sandbox.ec2.nacl import (
    EPHEMERAL_PORT,
    Endpoint,
    allowed,
    connection_allowed,
    network_acl_for_subnet,
    subnet_for_ip,
)

__all__ = [
    "EPHEMERAL_PORT",
    "Endpoint",
    "allowed",
    "connection_allowed",
    "network_acl_for_subnet",
    "subnet_for_ip",
]
