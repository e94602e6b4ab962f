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
from chaosaws_ext.core.numbers import checked_integer
from chaosaws_ext.core.zones import resolve_zone, wanted_zone
from chaosaws_ext.guardrails import is_protected, protection_tag
from chaosaws_ext.planning import FaultPlan, PlannedChange

__all__ = [
    "plan_availability_zone_blackhole",
    "SCOPES",
    "DEFAULT_MAX_SUBNETS",
    "MAX_ENTRIES_PER_DIRECTION",
    "MAX_RULES_PER_FAMILY",
    "blackhole_entries",
    "entries_per_direction",
]

logger = logging.getLogger("chaosaws_ext")

SCOPES = ("all", "availability-zone")
DEFAULT_MAX_SUBNETS = 50
# "Rules per network ACL: 20 ... This quota includes the default deny rules (rule number
# 32767 for IPv4 and 32768 for IPv6 ...)", one direction, IPv4 and IPv6 together
# (https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html).
MAX_ENTRIES_PER_DIRECTION = 20
MAX_RULES_PER_FAMILY = MAX_ENTRIES_PER_DIRECTION  # former name, kept for importers
DEFAULT_DENY_V4, DEFAULT_DENY_V6 = 32767, 32768
HIGHEST_CUSTOM_RULE = 32766
_ENTRY_FIELDS = ("Protocol", "CidrBlock", "Ipv6CidrBlock", "PortRange", "IcmpTypeCode")


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _tag_filter(value: str, what: str) -> tuple[str, str]:
    key, sep, tag_value = value.partition("=")
    if not sep or not key.strip():
        raise ActivityFailed(f"{what} must look like Key=Value, got {value!r}")
    return key.strip(), tag_value.strip()


def _zone_of_subnets(subnets: list[dict[str, Any]], wanted: str) -> dict[str, str] | None:
    """The zone as the subnet listing names it (saves a DescribeAvailabilityZones)."""
    for subnet in subnets:
        name, zone_id = subnet["AvailabilityZone"], subnet.get("AvailabilityZoneId", "")
        if wanted in (name.lower(), zone_id.lower()):
            return {"name": name, "id": zone_id}
    return None


def _resolve_vpcs(ec2: Any, vpc_id: str, vpc_tag: str) -> dict[str, dict[str, Any]]:
    if bool(vpc_id) == bool(vpc_tag):
        raise ActivityFailed("give exactly one of vpc_id (vpc-...) or vpc_tag (Key=Value)")
    if vpc_id:
        filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
        what = f"VPC {vpc_id if str(vpc_id).isprintable() else repr(vpc_id)}"
    else:
        key, value = _tag_filter(vpc_tag, "vpc_tag")
        filters = [{"Name": f"tag:{key}", "Values": [value]}]
        what = f"VPC tagged {key}={value}"
    vpcs: dict[str, dict[str, Any]] = {}
    for page in ec2.get_paginator("describe_vpcs").paginate(Filters=filters):
        for vpc in page.get("Vpcs", []):
            ipv6 = any(
                a.get("Ipv6CidrBlock")
                and (a.get("Ipv6CidrBlockState") or {}).get("State", "associated") == "associated"
                for a in vpc.get("Ipv6CidrBlockAssociationSet") or []
            )
            vpcs[vpc["VpcId"]] = {"tags": tags_of(vpc), "ipv6": ipv6}
    if not vpcs:
        raise ActivityFailed(f"no {what} in this region")
    return vpcs


def _collapse(cidrs: list[str]) -> list[str]:
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    return [str(n) for n in ipaddress.collapse_addresses(networks)] if networks else []


def _copyable(entry: dict[str, Any]) -> dict[str, Any]:
    """A described NACL entry as CreateNetworkAclEntry arguments."""
    args = {"RuleNumber": int(entry["RuleNumber"]), "Egress": bool(entry["Egress"])}
    args["RuleAction"] = str(entry["RuleAction"]).lower()
    args.update({key: entry[key] for key in _ENTRY_FIELDS if entry.get(key) not in (None, "")})
    args.setdefault("Protocol", "-1")
    return args


def _renumbered(copies: list[dict[str, Any]], first_free: int) -> list[dict[str, Any]]:
    """``copies`` (one direction) numbered from ``first_free`` on, evaluation order kept.

    Kept as they are when they already start after the denies; shifted by the number of
    denies when that fits under 32766; else numbered densely.
    """
    ordered = sorted(copies, key=lambda e: e["RuleNumber"])
    if not ordered or ordered[0]["RuleNumber"] >= first_free:
        return ordered
    shift = first_free - 1
    if ordered[-1]["RuleNumber"] + shift <= HIGHEST_CUSTOM_RULE:
        return [{**e, "RuleNumber": e["RuleNumber"] + shift} for e in ordered]
    return [{**e, "RuleNumber": first_free + i} for i, e in enumerate(ordered)]


def blackhole_entries(
    scope: str,
    other_az_cidrs: dict[str, list[str]],
    original_entries: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The entries to add to a fresh blackhole NACL (CreateNetworkAclEntry arguments).

    ``all``: none. A new custom NACL "blocks all inbound and outbound traffic until you
    add rules" (VPC user guide, network ACLs): its default ``*`` deny rules do the work.
    ``availability-zone`` (as AWS FIS ``aws:network:disrupt-connectivity``): deny each
    CIDR of the other AZs' subnets both ways at rules 1.., then a copy of the original
    NACL's own entries (both directions, IPv4 and IPv6; default rules excluded, the new
    NACL has them) numbered after the denies, so every flow the original denied stays
    denied and every other flow is judged as before.
    """
    if scope == "all":
        return []
    denies = [("CidrBlock", c) for c in other_az_cidrs.get("ipv4", [])]
    denies += [("Ipv6CidrBlock", c) for c in other_az_cidrs.get("ipv6", [])]
    copies = [
        _copyable(e) for e in original_entries or [] if int(e["RuleNumber"]) <= HIGHEST_CUSTOM_RULE
    ]
    entries: list[dict[str, Any]] = []
    for egress in (False, True):
        for number, (family, cidr) in enumerate(denies, start=1):
            entries.append(
                {
                    "RuleNumber": number,
                    "Egress": egress,
                    "RuleAction": "deny",
                    "Protocol": "-1",
                    family: cidr,
                }
            )
        entries += _renumbered([c for c in copies if c["Egress"] == egress], len(denies) + 1)
    return entries


def entries_per_direction(entries: list[dict[str, Any]], vpc_ipv6: bool) -> dict[str, int]:
    """Entries of a NACL per direction as the quota counts them: ``entries`` plus the
    default deny rules a new NACL of the VPC has (32767, and 32768 with IPv6)."""
    defaults = 2 if vpc_ipv6 else 1
    return {
        "inbound": defaults + sum(1 for e in entries if not e["Egress"]),
        "outbound": defaults + sum(1 for e in entries if e["Egress"]),
    }


def plan_availability_zone_blackhole(
    availability_zone: str,
    vpc_id: str = "",
    vpc_tag: str = "",
    subnet_tag: str = "",
    scope: str = "all",
    allow_all_azs: bool = False,
    max_subnets: int = DEFAULT_MAX_SUBNETS,
    refuse_if_protected: bool = False,
    region: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Resolve and validate an AZ blackhole without changing anything.

    ``availability_zone`` is a zone name (eu-south-1a) or id (eus1-az1) of the region;
    the VPC is ``vpc_id`` or every VPC matching ``vpc_tag`` (``Key=Value``); only
    subnets of that zone (and matching ``subnet_tag`` ``Key=Value`` when given) are
    selected. A subnet carrying the protection tag (``protection_tag``, default
    chaos:protected) with a true value (true, yes, 1, on; any case) is left out and
    listed in ``details["excluded"]``; ``refuse_if_protected`` refuses instead. Refuses an
    unknown zone, no subnet left, a selection that is every AZ of a VPC (unless
    ``allow_all_azs``), more than ``max_subnets`` subnets, a subnet already on a
    blackhole NACL, and (scope ``availability-zone``) a blackhole NACL that would hold
    more entries than the quota. One blackhole NACL is planned per original NACL.
    """
    region = region_of(configuration, region)
    if not isinstance(scope, str | None):
        raise ActivityFailed(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    scope = (scope or "all").strip()
    if scope not in SCOPES:
        raise ActivityFailed(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    max_subnets = checked_integer(max_subnets, "max_subnets", minimum=1)
    allow_all_azs = _as_bool(allow_all_azs)
    refuse_if_protected = _as_bool(refuse_if_protected)
    subnet_filter = _tag_filter(subnet_tag, "subnet_tag") if subnet_tag else None
    guard_tag = protection_tag(configuration)

    ec2 = aws_client("ec2", configuration, secrets, region)
    wanted = wanted_zone(availability_zone)
    vpcs = _resolve_vpcs(ec2, vpc_id, vpc_tag)

    subnets: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "vpc-id", "Values": sorted(vpcs)}]
    ):
        subnets.extend(page.get("Subnets", []))
    zone = _zone_of_subnets(subnets, wanted) or resolve_zone(ec2, availability_zone, region)

    selected: dict[str, list[dict[str, Any]]] = {}
    excluded: list[dict[str, str]] = []
    for subnet in sorted(subnets, key=lambda s: s["SubnetId"]):
        if subnet["AvailabilityZone"] != zone["name"]:
            continue
        tags = tags_of(subnet)
        if subnet_filter and tags.get(subnet_filter[0]) != subnet_filter[1]:
            continue
        if is_protected(tags, configuration):
            excluded.append(
                {
                    "subnet": subnet["SubnetId"],
                    "vpc": subnet["VpcId"],
                    "reason": f"protected ({guard_tag}={tags[guard_tag]})",
                }
            )
            continue
        selected.setdefault(subnet["VpcId"], []).append(subnet)
    where = f"zone {zone['name']} of {', '.join(sorted(vpcs))}"
    if subnet_tag:
        where += f" tagged {subnet_tag}"
    names = ", ".join(e["subnet"] for e in excluded)
    if excluded and refuse_if_protected:
        raise ActivityFailed(
            f"refusing {FAULT}: {len(excluded)} subnet(s) in {where} carry {guard_tag} "
            f"({names}) and refuse_if_protected is set (unset it to leave them out)"
        )
    total = sum(len(s) for s in selected.values())
    if not total:
        if excluded:
            raise ActivityFailed(
                f"refusing {FAULT}: every subnet in {where} is protected by {guard_tag} "
                f"({names}); nothing left to blackhole"
            )
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
        cidrs = _other_az_cidrs(subnets, vpc, zone["name"])
        if scope == "availability-zone" and not cidrs["ipv4"] and not cidrs["ipv6"]:
            raise ActivityFailed(
                f"refusing {FAULT}: {vpc} has no subnet outside {zone['name']}, nothing "
                "to deny with scope availability-zone"
            )
        chosen: dict[str, Any] = {}
        for subnet in selected[vpc]:
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
        blackholes: dict[str, Any] = {}
        for original in sorted({c["nacl"] for c in chosen.values()}):
            entries = blackhole_entries(scope, cidrs, state.entries.get(original))
            counts = entries_per_direction(entries, vpcs[vpc]["ipv6"])
            for direction, count in counts.items():
                if count > MAX_ENTRIES_PER_DIRECTION:
                    raise ActivityFailed(
                        f"refusing {FAULT}: the blackhole copy of {original} would hold {count} "
                        f"{direction} rules (its own, the denies of the other AZs and the "
                        f"default deny), more than the NACL quota of {MAX_ENTRIES_PER_DIRECTION} "
                        "(use scope all, or fewer CIDRs in the other AZs)"
                    )
            members = sorted(s for s, c in chosen.items() if c["nacl"] == original)
            blackholes[original] = {"subnets": members, "entries": entries, "rules": counts}
            denied = (
                "deny all IPv4 and IPv6, both ways (a new NACL's default rules)"
                if scope == "all"
                else "deny to/from "
                + ", ".join(cidrs["ipv4"] + cidrs["ipv6"])
                + f" ahead of a copy of {original}'s entries"
            )
            changes.append(
                PlannedChange(
                    resource=vpc,
                    change=f"create a blackhole network ACL for the {len(members)} subnet(s) "
                    f"of {original} ({denied})",
                    undo="delete that blackhole network ACL",
                    resource_tags=vpcs[vpc]["tags"],
                    kind="vpc",
                )
            )
        details_vpcs[vpc] = {
            "default_nacl": state.default_acl,
            "ipv6": vpcs[vpc]["ipv6"],
            "subnets": chosen,
            "other_az_cidrs": cidrs,
            "blackholes": blackholes,
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
            "excluded": excluded,
        },
    )
    logger.info(
        "planned %s on %s: %d subnet(s), %d excluded", FAULT, plan.target, total, len(excluded)
    )
    return plan


def _other_az_cidrs(subnets: list[dict[str, Any]], vpc: str, zone: str) -> dict[str, list[str]]:
    others = [s for s in subnets if s["VpcId"] == vpc and s["AvailabilityZone"] != zone]
    return {
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
