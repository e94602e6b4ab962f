"""An availability zone as the user names it (``eu-south-1a``) or by id (``eus1-az1``,
the same physical zone in every account), resolved to both: the faults that act on one
zone (the blackhole, ec2-stop) accept either and say which zones exist when it is
neither."""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed

__all__ = ["wanted_zone", "resolve_zone", "tags_of"]


def wanted_zone(availability_zone: Any) -> str:
    """The zone asked for, lower-cased; one line when it is not text or empty."""
    if not isinstance(availability_zone, str | None):
        raise ActivityFailed(
            f"availability_zone must be a zone name or id (text), got {availability_zone!r}"
        )
    wanted = (availability_zone or "").strip().lower()
    if not wanted:
        raise ActivityFailed("no availability zone given (a name like eu-south-1a or an id)")
    return wanted


def resolve_zone(ec2: Any, availability_zone: Any, region: str) -> dict[str, str]:
    """``{"name", "id"}`` of the zone (DescribeAvailabilityZones); one line naming the
    region's zones when it is none of them."""
    wanted = wanted_zone(availability_zone)
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    for zone in zones:
        if wanted in (zone["ZoneName"].lower(), zone.get("ZoneId", "").lower()):
            return {"name": str(zone["ZoneName"]), "id": str(zone.get("ZoneId", ""))}
    known = ", ".join(f"{z['ZoneName']} ({z.get('ZoneId', '?')})" for z in zones)
    raise ActivityFailed(
        f"availability zone {availability_zone!r} does not exist in region {region} "
        f"(zones: {known})"
    )


def tags_of(resource: dict[str, Any]) -> dict[str, str]:
    """An EC2 resource's ``Tags`` list as a mapping."""
    return {str(t["Key"]): str(t.get("Value", "")) for t in resource.get("Tags") or []}
