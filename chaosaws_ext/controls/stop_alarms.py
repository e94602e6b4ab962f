"""The CloudWatch alarms that stop a run: how they are named, checked and read.

An alarm is named in the safety control's ``stop_alarms`` argument as

- ``name``: an alarm in the experiment's region (``aws_region``);
- ``region:name``: an alarm in another region, when ``region`` is a region botocore
  knows (Route 53 health-check alarms live in us-east-1); otherwise the whole text is
  the name, so names containing ``:`` keep working;
- an alarm ARN ``arn:aws:cloudwatch:<region>:<account>:alarm:<name>``;

either comma separated in one string, as a list, or as a mapping
``{region: [names]}``. Metric and composite alarms are both read: without
``AlarmTypes`` DescribeAlarms returns metric alarms only, "even if composite alarms
or log alarms exist" (botocore cloudwatch model, DescribeAlarms ``AlarmTypes``), and at
most 100 ``AlarmNames`` per call (same model). Before the fault every named alarm must
exist; a missing one refuses the run (:func:`check_exist`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, is_known_region, region_of

__all__ = ["StopAlarm", "parse_stop_alarms", "check_exist", "firing", "MAX_NAMES_PER_CALL"]

logger = logging.getLogger("chaosaws_ext")

ALARM_TYPES = ["MetricAlarm", "CompositeAlarm"]
MAX_NAMES_PER_CALL = 100  # DescribeAlarms AlarmNames: "max": 100 (botocore model)


@dataclass(frozen=True)
class StopAlarm:
    name: str
    region: str

    def __str__(self) -> str:
        return f"{self.region}:{self.name}"


def _one(text: str, home: str | None) -> tuple[str, str | None]:
    """(name, region or None for the experiment's region) of one written alarm."""
    if text.startswith("arn:"):
        parts = text.split(":", 6)
        if len(parts) != 7 or parts[2] != "cloudwatch" or parts[5] != "alarm" or not parts[6]:
            raise ActivityFailed(
                f"stop_alarms: {text!r} is not a CloudWatch alarm ARN "
                "(arn:aws:cloudwatch:<region>:<account>:alarm:<name>)"
            )
        return parts[6], parts[3]
    prefix, sep, rest = text.partition(":")
    if sep and rest and is_known_region(prefix):
        return rest, prefix
    return text, home


def _names(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(part).strip() for part in value if str(part).strip()]
    raise ActivityFailed(f"stop_alarms: expected alarm names (a string or a list), got {value!r}")


def parse_stop_alarms(value: Any, configuration: Configuration | None) -> list[StopAlarm]:
    """The alarms named by ``value`` (see the module docstring); ActivityFailed (one line)
    for a malformed value or an unknown region. Empty when nothing is named."""
    if not value:
        return []
    written: list[tuple[str, str | None]] = []
    if isinstance(value, dict):
        for region, names in value.items():
            written.extend((name, str(region)) for name in _names(names))
    else:
        written = [_one(text, None) for text in _names(value)]
    home = region_of(configuration) if any(r is None for _, r in written) else None
    alarms = [StopAlarm(name, region_of(configuration, region or home)) for name, region in written]
    return list(dict.fromkeys(alarms))


def _by_region(alarms: list[StopAlarm]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for alarm in alarms:
        grouped.setdefault(alarm.region, []).append(alarm.name)
    return grouped


def describe(
    alarms: list[StopAlarm], configuration: Configuration, secrets: Secrets
) -> dict[StopAlarm, dict[str, Any]]:
    """Every named alarm that exists, metric or composite, by alarm (raises on an error)."""
    found: dict[StopAlarm, dict[str, Any]] = {}
    for region, names in _by_region(alarms).items():
        client = aws_client("cloudwatch", configuration, secrets, region=region)
        paginator = client.get_paginator("describe_alarms")
        for start in range(0, len(names), MAX_NAMES_PER_CALL):
            batch = names[start : start + MAX_NAMES_PER_CALL]
            pages = paginator.paginate(
                AlarmNames=batch,
                AlarmTypes=ALARM_TYPES,
                PaginationConfig={"MaxItems": 10 * MAX_NAMES_PER_CALL},
            )
            for page in pages:
                for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                    found[StopAlarm(alarm["AlarmName"], region)] = alarm
    return found


def check_exist(alarms: list[StopAlarm], configuration: Configuration, secrets: Secrets) -> None:
    """Refuse (ActivityFailed, one line) when a named alarm does not exist or cannot be
    read: a stop condition that is never seen would silently switch the safety net off."""
    try:
        found = describe(alarms, configuration, secrets)
    except Exception as error:  # noqa: BLE001 - any failure means the net is not verified
        raise ActivityFailed(f"refusing the run: cannot read the stop alarms: {error}") from error
    missing = [str(a) for a in alarms if a not in found]
    if missing:
        raise ActivityFailed(
            f"refusing the run: stop alarm(s) not found: {', '.join(missing)} (check the "
            "name; an alarm of another region is written region:name)"
        )


def firing(
    alarms: list[StopAlarm], configuration: Configuration, secrets: Secrets
) -> tuple[StopAlarm, dict[str, Any]] | None:
    """The first named alarm in ALARM (in the order named), or None."""
    found = describe(alarms, configuration, secrets)
    for alarm in alarms:
        state = found.get(alarm)
        if state is not None and state.get("StateValue") == "ALARM":
            return alarm, state
    return None
