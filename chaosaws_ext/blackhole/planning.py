"""The read-only plan of an AZ blackhole: which subnets of which VPCs, on which NACLs.

:func:`plan_availability_zone_blackhole` only calls ``Describe*``; every refusal is
one line raised as ``ActivityFailed`` before anything is mutated.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.blackhole.network_acls import FAULT, describe_vpc_acls, tags_of
from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.planning import FaultPlan, PlannedChange

__all__ = [
    "plan_availability_zone_blackhole",
    "SCOPES",
    "DEFAULT_MAX_SUBNETS",
    "MAX_RULES_PER_FAMILY",
    "blackhole_entries",
]

logger = logging.getLogger("chaosaws_ext")

SCOPES = ("all", "availability-zone")
DEFAULT_MAX_SUBNETS = 50
MAX_RULES_PER_FAMILY = 20  # AWS default: 20 rules per direction, IPv4 and IPv6 apart
ALLOW_RULE_V4 = 100
ALLOW_RULE_V6 = 101


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _tag_filter(value: str, what: str) -> tuple[str, str]:
    key, sep, tag_value = value.partition("=")
    if not sep or not key.strip():
        raise ActivityFailed(f"{what} must look like Key=Value, got {value!r}")
    return key.strip(), tag_value.strip()


def _resolve_zone(ec2: Any, availability_zone: str, region: str) -> dict[str, str]:
    if not isinstance(availability_zone, str | None):
        raise ActivityFailed(
            f"availability_zone must be a zone name or id (text), got {availability_zone!r}"
        )
    wanted = (availability_zone or "").strip().lower()
    if not wanted:
        raise ActivityFailed("no availability zone given (a name like eu-south-1a or an id)")
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    for zone in zones:
        if wanted in (zone["ZoneName"].lower(), zone.get("ZoneId", "").lower()):
            return {"name": zone["ZoneName"], "id": zone.get("ZoneId", "")}
    known = ", ".join(f"{z['ZoneName']} ({z.get('ZoneId', '?')})" for z in zones)
    raise ActivityFailed(
        f"availability zone {availability_zone!r} does not exist in region {region} "
        f"(zones: {known})"
    )


def _resolve_vpcs(ec2: Any, vpc_id: str, vpc_tag: str) -> dict[str, dict[str, str]]:
    if bool(vpc_id) == bool(vpc_tag):
        raise ActivityFailed("give exactly one of vpc_id (vpc-...) or vpc_tag (Key=Value)")
    if vpc_id:
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
        what = f"VPC {vpc_id if str(vpc_id).isprintable() else repr(vpc_id)}"
    else:
        key, value = _tag_filter(vpc_tag, "vpc_tag")
        filters = [{"Name": f"tag:{key}", "Values": [value]}]
        what = f"VPC tagged {key}={value}"
    vpcs: dict[str, dict[str, str]] = {}
    for page in ec2.get_paginator("describe_vpcs").paginate(Filters=filters):
        for vpc in page.get("Vpcs", []):
            vpcs[vpc["VpcId"]] = tags_of(vpc)
    if not vpcs:
        raise ActivityFailed(f"no {what} in this region")
    return vpcs


def _collapse(cidrs: list[str]) -> list[str]:
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    return [str(n) for n in ipaddress.collapse_addresses(networks)] if networks else []


def blackhole_entries(scope: str, other_az_cidrs: dict[str, list[str]]) -> list[dict[str, Any]]:
    """The NACL entries, both directions: denies first (rule 1..), allows (if any) after.

    ``all``: deny 0.0.0.0/0 and ::/0. ``availability-zone``: deny each CIDR of the other
    AZs' subnets, then allow 0.0.0.0/0 and ::/0 at rules 100/101.
    """
    if scope == "all":
        denies = [("CidrBlock", "0.0.0.0/0"), ("Ipv6CidrBlock", "::/0")]
        allows: list[tuple[int, str, str]] = []
    else:
        denies = [("CidrBlock", c) for c in other_az_cidrs.get("ipv4", [])]
        denies += [("Ipv6CidrBlock", c) for c in other_az_cidrs.get("ipv6", [])]
        allows = [
            (ALLOW_RULE_V4, "CidrBlock", "0.0.0.0/0"),
            (ALLOW_RULE_V6, "Ipv6CidrBlock", "::/0"),
        ]
    entries: list[dict[str, Any]] = []
    for egress in (False, True):
        for number, (family, cidr) in enumerate(denies, start=1):
            entries.append(
                {"RuleNumber": number, "Egress": egress, "RuleAction": "deny", family: cidr}
            )
        for number, family, cidr in allows:
            entries.append(
                {"RuleNumber": number, "Egress": egress, "RuleAction": "allow", family: cidr}
            )
    return entries


def plan_availability_zone_blackhole(
    availability_zone: str,
    vpc_id: str = "",
    vpc_tag: str = "",
    subnet_tag: str = "",
    scope: str = "all",
    allow_all_azs: bool = False,
    max_subnets: int = DEFAULT_MAX_SUBNETS,
    region: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Resolve and validate an AZ blackhole without changing anything.

    ``availability_zone`` is a zone name (eu-south-1a) or id (eus1-az1) of the region;
    the VPC is ``vpc_id`` or every VPC matching ``vpc_tag`` (``Key=Value``); only
    subnets of that zone (and matching ``subnet_tag`` ``Key=Value`` when given) are
    selected. Refuses an unknown zone, no matching subnet, a selection that is every AZ
    of a VPC (unless ``allow_all_azs``), more than ``max_subnets`` subnets, a subnet
    already on a blackhole NACL, and (scope ``availability-zone``) more CIDRs to deny
    than a NACL holds.
    """
    region = region_of(configuration, region)
    if not isinstance(scope, str | None):
        raise ActivityFailed(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    scope = (scope or "all").strip()
    if scope not in SCOPES:
        raise ActivityFailed(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    try:
        max_subnets = int(max_subnets)
    except (TypeError, ValueError):
        raise ActivityFailed(f"max_subnets must be a whole number, got {max_subnets!r}") from None
    if max_subnets < 1:
        raise ActivityFailed(f"max_subnets must be at least 1, got {max_subnets}")
    allow_all_azs = _as_bool(allow_all_azs)
    subnet_filter = _tag_filter(subnet_tag, "subnet_tag") if subnet_tag else None

    ec2 = aws_client("ec2", configuration, secrets, region)
    zone = _resolve_zone(ec2, availability_zone, region)
    vpcs = _resolve_vpcs(ec2, vpc_id, vpc_tag)

    subnets: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "vpc-id", "Values": sorted(vpcs)}]
    ):
        subnets.extend(page.get("Subnets", []))

    selected: dict[str, list[dict[str, Any]]] = {}
    for subnet in subnets:
        if subnet["AvailabilityZone"] != zone["name"]:
            continue
        if subnet_filter and tags_of(subnet).get(subnet_filter[0]) != subnet_filter[1]:
            continue
        selected.setdefault(subnet["VpcId"], []).append(subnet)
    where = f"zone {zone['name']} of {', '.join(sorted(vpcs))}"
    if subnet_tag:
        where += f" tagged {subnet_tag}"
    total = sum(len(s) for s in selected.values())
    if not total:
        raise ActivityFailed(f"refusing {FAULT}: no subnet in {where}")
    if total > max_subnets:
        raise ActivityFailed(
            f"refusing {FAULT}: {total} subnets in {where}, more than max_subnets={max_subnets} "
            "(narrow with subnet_tag or raise max_subnets)"
        )
    for vpc in sorted(selected):
        zones_of_vpc = {s["AvailabilityZone"] for s in subnets if s["VpcId"] == vpc}
        if zones_of_vpc <= {zone["name"]} and not allow_all_azs:
            raise ActivityFailed(
                f"refusing {FAULT}: {vpc} has subnets only in {zone['name']}, so this blackholes "
                "every AZ of the VPC (pass allow_all_azs=true if that is intended)"
            )

    acls = describe_vpc_acls(ec2, selected)
    details_vpcs: dict[str, Any] = {}
    changes: list[PlannedChange] = []
    for vpc in sorted(selected):
        state = acls[vpc]
        others = [s for s in subnets if s["VpcId"] == vpc and s["AvailabilityZone"] != zone["name"]]
        cidrs = {
            "ipv4": _collapse([s["CidrBlock"] for s in others if s.get("CidrBlock")]),
            "ipv6": _collapse(
                [
                    a["Ipv6CidrBlock"]
                    for s in others
                    for a in s.get("Ipv6CidrBlockAssociationSet") or []
                    if a.get("Ipv6CidrBlock")
                ]
            ),
        }
        if scope == "availability-zone":
            if not cidrs["ipv4"] and not cidrs["ipv6"]:
                raise ActivityFailed(
                    f"refusing {FAULT}: {vpc} has no subnet outside {zone['name']}, nothing "
                    "to deny with scope availability-zone"
                )
            for family in ("ipv4", "ipv6"):
                if len(cidrs[family]) > MAX_RULES_PER_FAMILY - 1:
                    raise ActivityFailed(
                        f"refusing {FAULT}: {vpc} needs {len(cidrs[family])} {family} deny "
                        f"rules for the other AZs, a NACL holds {MAX_RULES_PER_FAMILY - 1} plus "
                        "the allow (use scope all)"
                    )
        chosen: dict[str, Any] = {}
        for subnet in sorted(selected[vpc], key=lambda s: s["SubnetId"]):
            subnet_id = subnet["SubnetId"]
            acl_id = state.subnet_acl.get(subnet_id)
            if not acl_id:
                raise ActivityFailed(
                    f"refusing {FAULT}: {subnet_id} has no network ACL association"
                )
            if state.is_blackhole(acl_id):
                raise ActivityFailed(
                    f"refusing {FAULT}: {subnet_id} is already on blackhole NACL {acl_id} "
                    "(run restore_availability_zone or `gameday recover`)"
                )
            chosen[subnet_id] = {
                "nacl": acl_id,
                "association": state.subnet_association[subnet_id],
                "cidr": subnet.get("CidrBlock", ""),
            }
            changes.append(
                PlannedChange(
                    resource=subnet_id,
                    change=f"network ACL {acl_id} -> new blackhole NACL ({scope})",
                    undo=f"put {subnet_id} back on {acl_id}",
                    resource_tags=tags_of(subnet),
                    kind="subnet",
                )
            )
        denied = (
            "deny all IPv4 and IPv6, both ways"
            if scope == "all"
            else "deny to/from " + ", ".join(cidrs["ipv4"] + cidrs["ipv6"]) + ", allow the rest"
        )
        changes.append(
            PlannedChange(
                resource=vpc,
                change=f"create one blackhole network ACL ({denied}) for {len(chosen)} subnet(s)",
                undo="delete the blackhole network ACL",
                resource_tags=vpcs[vpc],
                kind="vpc",
            )
        )
        details_vpcs[vpc] = {
            "default_nacl": state.default_acl,
            "subnets": chosen,
            "other_az_cidrs": cidrs,
        }
    plan = FaultPlan(
        fault=FAULT,
        region=region,
        target=f"{FAULT}:{'+'.join(sorted(selected))}:{zone['name']}",
        changes=changes,
        details={
            "zone": zone["name"],
            "zone_id": zone["id"],
            "scope": scope,
            "allow_all_azs": bool(allow_all_azs),
            "vpcs": details_vpcs,
        },
    )
    logger.info("planned %s on %s: %d subnet(s)", FAULT, plan.target, total)
    return plan
