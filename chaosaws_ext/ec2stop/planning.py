"""The read-only plan of the EC2 stop: the running instances tagged ``tag_key=tag_value``
in the zone (what would be stopped), those left out (protected, not running), and the
skip when none is left, for the inject and for ``gameday plan``."""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.ec2stop import FAULT
from chaosaws_ext.ec2stop.instances import resolve_zone, tagged_instances, tags_of
from chaosaws_ext.guardrails import is_protected, protection_tag
from chaosaws_ext.planning import FaultPlan, PlannedChange

__all__ = ["plan_stop_instances", "DEFAULT_MAX_INSTANCES", "skip_reason"]

DEFAULT_MAX_INSTANCES = 20  # blast radius of one zone's stop, unless the experiment says


def _refuse(reason: str) -> ActivityFailed:
    return ActivityFailed(f"refusing {FAULT}: {reason}")


def skip_reason(tag_key: str, tag_value: str, zone: str) -> str:
    return f"skipped: no instance with tag {tag_key}={tag_value} in {zone}"


def plan_stop_instances(
    availability_zone: str,
    tag_key: str,
    tag_value: str,
    max_instances: int = DEFAULT_MAX_INSTANCES,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of :func:`~chaosaws_ext.ec2stop.actions.stop_instances` (same
    arguments). No change planned (``details["skipped"]``) when no running instance is
    tagged so in the zone. ActivityFailed with one line when refused, changes nothing."""
    region = region_of(configuration)
    if not str(tag_key or "").strip():
        raise _refuse("tag_key is empty: name the tag that selects the instances")
    if tag_value is None or not str(tag_value).strip():
        raise _refuse(f"tag_value is empty: give the value of {tag_key} to select")
    key, value = str(tag_key).strip(), str(tag_value).strip()
    ec2 = aws_client("ec2", configuration, secrets, region)
    zone = resolve_zone(ec2, availability_zone, region)
    found = tagged_instances(ec2, key, value, zone)
    selected, excluded = [], []
    for instance in found:
        instance_id, tags = str(instance["InstanceId"]), tags_of(instance)
        state = instance.get("State", {}).get("Name", "")
        facts = {"instance": instance_id, "name": tags.get("Name", ""), "state": state}
        if is_protected(tags, configuration):
            excluded.append(facts | {"reason": f"protected ({protection_tag(configuration)})"})
        elif state != "running":
            excluded.append(facts | {"reason": f"not running ({state})"})
        else:
            selected.append((facts, tags))
    if len(selected) > max_instances:
        raise _refuse(
            f"{len(selected)} instances tagged {key}={value} run in {zone}, more than "
            f"max_instances={max_instances}"
        )
    details: dict[str, Any] = {
        "zone": zone,
        "tag": {"key": key, "value": value},
        "instances": [facts for facts, _ in selected],
        "excluded": excluded,
        "skipped": None if selected else skip_reason(key, value, zone),
    }
    changes = [
        PlannedChange(
            resource=facts["instance"],
            change=f"tag chaos:* then StopInstances ({facts['name'] or 'unnamed'}, {zone})",
            undo="StartInstances (once stopped), then remove our chaos:* tags",
            resource_tags=tags,
            kind="instance",
        )
        for facts, tags in selected
    ]
    return FaultPlan(
        fault=FAULT,
        region=region,
        target=f"{FAULT}:{zone}:{key}={value}",
        changes=changes,
        details=details,
        # gameday plan says "skipped: <why>" (the reason without its own prefix)
        skipped=details["skipped"].removeprefix("skipped: ") if details["skipped"] else None,
    )
