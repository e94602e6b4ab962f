"""moto's CloudWatch made as strict as AWS on the points the stop alarms rely on.

moto 5.2 has no ``PutCompositeAlarm`` (its PutMetricAlarm handler stores an
``AlarmRule`` as a composite alarm, so it is reused), and its DescribeAlarms ignores
``AlarmTypes`` and the 100-name limit. AWS returns metric alarms only when
``AlarmTypes`` is omitted, "even if composite alarms or log alarms exist", and accepts
at most 100 ``AlarmNames`` (botocore cloudwatch model). Patched in this process, so
in-process moto and the ThreadedMotoServer of the tests both see it.
"""

from __future__ import annotations

import pytest
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.exceptions import JsonRESTError

MAX_ALARM_NAMES = 100


class _ValidationError(JsonRESTError):
    code = 400

    def __init__(self, message: str) -> None:
        super().__init__("ValidationError", message)


def strict_cloudwatch(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Patch moto; returns the list of DescribeAlarms requests seen (names, types)."""
    seen: list[dict] = []
    original = CloudWatchResponse.describe_alarms

    def describe_alarms(self: CloudWatchResponse):  # type: ignore[no-untyped-def]
        names = self._get_param("AlarmNames", [])
        types = self._get_param("AlarmTypes", [])
        seen.append({"names": list(names), "types": list(types)})
        if len(names) > MAX_ALARM_NAMES:
            raise _ValidationError(
                f"1 validation error detected: Value at 'alarmNames' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_ALARM_NAMES}"
            )
        result = original(self)
        wanted = types or ["MetricAlarm"]
        if "CompositeAlarm" not in wanted:
            result.result["CompositeAlarms"] = []  # type: ignore[index]
        if "MetricAlarm" not in wanted:
            result.result["MetricAlarms"] = []  # type: ignore[index]
        return result

    monkeypatch.setattr(CloudWatchResponse, "describe_alarms", describe_alarms)
    monkeypatch.setattr(
        CloudWatchResponse,
        "put_composite_alarm",
        CloudWatchResponse.put_metric_alarm,
        raising=False,
    )
    return seen
