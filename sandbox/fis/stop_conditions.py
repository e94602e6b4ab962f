"""FIS stop conditions: CloudWatch alarms of the sandbox's moto, polled.

"If a stop condition is triggered during an experiment, AWS FIS stops the experiment"
and a stop condition is "an Amazon CloudWatch alarm" whose state ``ALARM`` triggers it
(AWS FIS user guide, "Stop conditions for AWS FIS",
https://docs.aws.amazon.com/fis/latest/userguide/stop-conditions.html). FIS publishes no
polling interval: the sandbox polls every ``STOP_CONDITION_POLL_S`` published seconds
(an assumption, a parameter of the emulator), scaled by the time scale.
"""

from __future__ import annotations

import logging
from typing import Any

from sandbox.fis.targets import ClientFactory

__all__ = ["STOP_CONDITION_POLL_S", "alarm_arns", "triggered"]

log = logging.getLogger(__name__)

STOP_CONDITION_POLL_S = 5.0  # no published figure


def alarm_arns(stop_conditions: list[dict[str, Any]]) -> list[str]:
    """The alarm ARNs of ``aws:cloudwatch:alarm`` conditions (``none`` has no value)."""
    return [
        str(c["value"])
        for c in stop_conditions or []
        if c.get("source") == "aws:cloudwatch:alarm" and c.get("value")
    ]


def triggered(client: ClientFactory, arns: list[str]) -> str | None:
    """The ARN of the first alarm in ALARM, or None."""
    by_region: dict[str, list[str]] = {}
    for arn in arns:
        parts = arn.split(":")  # arn:aws:cloudwatch:<region>:<account>:alarm:<name>
        if len(parts) >= 7:
            by_region.setdefault(parts[3], []).append(":".join(parts[6:]))
    for region, names in by_region.items():
        found = client("cloudwatch", region).describe_alarms(AlarmNames=names)
        for alarm in found.get("MetricAlarms", []) + found.get("CompositeAlarms", []):
            if alarm.get("StateValue") == "ALARM":
                return str(alarm["AlarmArn"])
    return None
