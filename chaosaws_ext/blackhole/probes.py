"""Probes of the AZ blackhole: which subnets sit on one of our blackhole NACLs."""

from __future__ import annotations

from typing import Any

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.blackhole.network_acls import find_blackhole_acls
from chaosaws_ext.core.clients import aws_client

__all__ = ["subnets_on_blackhole", "no_subnet_on_blackhole"]


def subnets_on_blackhole(
    availability_zone: str = "",
    vpc_id: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Subnets currently on a chaosaws-ext blackhole NACL, optionally of one zone / VPC.

    ``availability_zone`` is a zone name or zone id (empty: every zone). Returns
    ``{"count", "subnets", "nacls", "zone", "vpc"}``.
    """
    ec2 = aws_client("ec2", configuration, secrets)
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}] if vpc_id else []
    on: dict[str, str] = {}
    for acl in find_blackhole_acls(ec2, filters):
        for association in acl.get("Associations") or []:
            if association.get("SubnetId"):
                on[association["SubnetId"]] = acl["NetworkAclId"]
    if on and availability_zone:
        wanted = availability_zone.strip().lower()
        kept: dict[str, str] = {}
        for page in ec2.get_paginator("describe_subnets").paginate(
            Filters=[{"Name": "subnet-id", "Values": sorted(on)}]
        ):
            for subnet in page.get("Subnets", []):
                zone = (subnet["AvailabilityZone"].lower(), subnet.get("AvailabilityZoneId", ""))
                if wanted in (zone[0], zone[1].lower()):
                    kept[subnet["SubnetId"]] = on[subnet["SubnetId"]]
        on = kept
    return {
        "count": len(on),
        "subnets": sorted(on),
        "nacls": sorted(set(on.values())),
        "zone": availability_zone,
        "vpc": vpc_id,
    }


def no_subnet_on_blackhole(
    availability_zone: str = "",
    vpc_id: str = "",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when no subnet (of the zone / VPC, when given) is on a blackhole NACL.

    The steady-state check of the AZ blackhole experiment (``tolerance: true``).
    """
    found = subnets_on_blackhole(availability_zone, vpc_id, configuration, secrets)
    return found["count"] == 0
