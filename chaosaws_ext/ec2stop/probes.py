"""Read-only probes of the EC2 stop: the states of the instances a stop selects (the
steady state before and after: every one of them running)."""

from __future__ import annotations

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.ec2stop.instances import resolve_zone, tagged_instances

__all__ = ["instance_states", "instances_running"]


def instance_states(
    availability_zone: str,
    tag_key: str,
    tag_value: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, str]:
    """``{instance id: state}`` of the instances tagged ``tag_key=tag_value`` in the zone."""
    region = region_of(configuration)
    ec2 = aws_client("ec2", configuration, secrets, region)
    zone = resolve_zone(ec2, availability_zone, region)
    return {
        str(i["InstanceId"]): str(i.get("State", {}).get("Name", ""))
        for i in tagged_instances(ec2, tag_key, tag_value, zone)
    }


def instances_running(
    availability_zone: str,
    tag_key: str,
    tag_value: str,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when every instance tagged so in the zone is running (none: True)."""
    states = instance_states(availability_zone, tag_key, tag_value, configuration, secrets)
    return all(state == "running" for state in states.values())
