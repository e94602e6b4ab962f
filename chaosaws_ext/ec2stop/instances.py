"""EC2 instances as this fault reads them: selected by tag and zone (as AWS FIS's
``resourceTags`` and ``Placement.AvailabilityZone`` filter select them), their tags,
and bounded waits on their states with boto3's waiters."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import WaiterError
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.identity import TAG_FAULT, TAG_RUN_ID
from chaosaws_ext.core.waiting import waiter_config
from chaosaws_ext.core.zones import resolve_zone as _zone
from chaosaws_ext.core.zones import tags_of

__all__ = [
    "MAX_DESCRIBED",
    "GONE_STATES",
    "resolve_zone",
    "tagged_instances",
    "instances_by_id",
    "our_instances",
    "tags_of",
    "wait_for",
]

MAX_DESCRIBED = 1000  # instances read per selection at most (the plan refuses beyond)
# the states of an instance that cannot be started again
GONE_STATES = frozenset({"shutting-down", "terminated"})


def resolve_zone(ec2: Any, availability_zone: str, region: str) -> str:
    """The zone's name, given its name (eu-south-1a) or id (eus1-az1); one line if unknown."""
    return _zone(ec2, availability_zone, region)["name"]


def _described(ec2: Any, filters: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for page in ec2.get_paginator("describe_instances").paginate(Filters=filters):
        for reservation in page.get("Reservations", []):
            found.extend(reservation.get("Instances", []))
        if len(found) > MAX_DESCRIBED:
            raise ActivityFailed(f"more than {MAX_DESCRIBED} instances match {what}")
    return sorted(found, key=lambda i: str(i["InstanceId"]))


def tagged_instances(ec2: Any, tag_key: str, tag_value: str, zone: str) -> list[dict[str, Any]]:
    """Every instance (any state but terminated) tagged ``tag_key=tag_value`` in ``zone``."""
    filters = [
        {"Name": f"tag:{tag_key}", "Values": [tag_value]},
        {"Name": "availability-zone", "Values": [zone]},
    ]
    found = _described(ec2, filters, f"{tag_key}={tag_value} in {zone}")
    return [i for i in found if i.get("State", {}).get("Name") != "terminated"]


def instances_by_id(ec2: Any, instance_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The instances of ``instance_ids`` that still exist (an unknown id is left out)."""
    if not instance_ids:
        return {}
    filters = [{"Name": "instance-id", "Values": sorted(instance_ids)}]
    return {str(i["InstanceId"]): i for i in _described(ec2, filters, "the instance ids")}


def our_instances(ec2: Any, fault: str) -> list[dict[str, Any]]:
    """Instances carrying our run tag and ``chaos:fault=<fault>`` (recover by tag)."""
    filters = [
        {"Name": "tag-key", "Values": [TAG_RUN_ID]},
        {"Name": f"tag:{TAG_FAULT}", "Values": [fault]},
    ]
    return _described(ec2, filters, f"{TAG_FAULT}={fault}")


def wait_for(
    ec2: Any, waiter: str, instance_ids: list[str], poll_interval_s: float, timeout_s: float
) -> None:
    """boto3's ``waiter`` (instance_stopped, instance_running) polled every
    ``poll_interval_s`` for at most ``timeout_s``; ActivityFailed naming the wait."""
    if not instance_ids:
        return
    try:
        ec2.get_waiter(waiter).wait(
            InstanceIds=sorted(instance_ids),
            WaiterConfig=waiter_config(timeout_s, poll_interval_s),
        )
    except WaiterError as error:
        why = error.kwargs.get("reason") or "still waiting"
        raise ActivityFailed(
            f"{', '.join(sorted(instance_ids))}: {waiter.removeprefix('instance_')} not "
            f"reached within {timeout_s:g} s ({why})"
        ) from error
