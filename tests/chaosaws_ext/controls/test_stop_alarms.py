"""Stop alarms: metric and composite, any region, all verified to exist (in-process moto
made strict on AlarmTypes and the 100-name limit: tests/helpers/moto_cloudwatch.py)."""

from __future__ import annotations

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed, InterruptExecution

from chaosaws_ext.controls import safety, stop_alarms
from chaosaws_ext.controls.stop_alarms import StopAlarm, parse_stop_alarms
from tests.helpers.moto_cloudwatch import strict_cloudwatch

REGION = "eu-south-1"
CONFIG = {"aws_region": REGION}


@pytest.fixture
def seen(mocked_aws: None, monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    return strict_cloudwatch(monkeypatch)


def _metric_alarm(name: str, region: str = REGION) -> None:
    boto3.client("cloudwatch", region_name=region).put_metric_alarm(
        AlarmName=name,
        MetricName="5XXError",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )


def _set(name: str, state: str, region: str = REGION) -> None:
    boto3.client("cloudwatch", region_name=region).set_alarm_state(
        AlarmName=name, StateValue=state, StateReason="test"
    )


def test_names_regions_arns_and_mappings_are_parsed() -> None:
    parsed = parse_stop_alarms(
        "api-5xx, us-east-1:route53-failing,"
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:db:cpu,not-a-region:x",
        CONFIG,
    )
    assert parsed == [
        StopAlarm("api-5xx", REGION),
        StopAlarm("route53-failing", "us-east-1"),
        StopAlarm("db:cpu", "eu-west-1"),
        StopAlarm("not-a-region:x", REGION),  # a name with a colon keeps working
    ]
    assert parse_stop_alarms({"us-east-1": ["a", "b"], REGION: "c"}, CONFIG) == [
        StopAlarm("a", "us-east-1"),
        StopAlarm("b", "us-east-1"),
        StopAlarm("c", REGION),
    ]
    assert parse_stop_alarms(["x", "x"], CONFIG) == [StopAlarm("x", REGION)]
    assert parse_stop_alarms("", CONFIG) == []


def test_bad_alarm_arn_and_unknown_region_are_one_line_refusals() -> None:
    with pytest.raises(ActivityFailed, match="is not a CloudWatch alarm ARN"):
        parse_stop_alarms("arn:aws:sns:eu-west-1:123456789012:topic", CONFIG)
    with pytest.raises(ActivityFailed, match="unknown AWS region 'eu-wets-1'"):
        parse_stop_alarms({"eu-wets-1": "a"}, CONFIG)


def test_a_composite_alarm_in_alarm_is_firing(seen: list[dict]) -> None:
    _metric_alarm("api-5xx")
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_composite_alarm(AlarmName="service-down", AlarmRule="ALARM(api-5xx)")
    alarms = parse_stop_alarms("api-5xx,service-down", CONFIG)
    stop_alarms.check_exist(alarms, CONFIG, None)
    assert stop_alarms.firing(alarms, CONFIG, None) is None
    _set("service-down", "ALARM")
    alarm, state = stop_alarms.firing(alarms, CONFIG, None)
    assert alarm == StopAlarm("service-down", REGION)
    assert state["StateValue"] == "ALARM"
    assert all(call["types"] == ["MetricAlarm", "CompositeAlarm"] for call in seen)


def test_the_strict_moto_hides_composites_without_alarm_types(seen: list[dict]) -> None:
    """The patch behaves as AWS does, so the test above fails if AlarmTypes is dropped."""
    _metric_alarm("api-5xx")
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_composite_alarm(AlarmName="service-down", AlarmRule="ALARM(api-5xx)")
    answer = cloudwatch.describe_alarms(AlarmNames=["service-down"])
    assert answer["MetricAlarms"] == [] and answer["CompositeAlarms"] == []


def test_an_alarm_in_another_region_is_watched(seen: list[dict]) -> None:
    _metric_alarm("route53-failing", "us-east-1")
    _metric_alarm("route53-failing", REGION)  # same name, home region, stays OK
    alarms = parse_stop_alarms("us-east-1:route53-failing", CONFIG)
    stop_alarms.check_exist(alarms, CONFIG, None)
    assert stop_alarms.firing(alarms, CONFIG, None) is None
    _set("route53-failing", "ALARM", "us-east-1")
    alarm, _state = stop_alarms.firing(alarms, CONFIG, None)
    assert alarm == StopAlarm("route53-failing", "us-east-1")
    # the home region's alarm of the same name does not count for the us-east-1 one
    _set("route53-failing", "OK", "us-east-1")
    _set("route53-failing", "ALARM", REGION)
    assert stop_alarms.firing(alarms, CONFIG, None) is None


def test_missing_alarms_are_named_in_one_line(seen: list[dict]) -> None:
    _metric_alarm("api-5xx")
    alarms = parse_stop_alarms("api-5xx,api-5xxx,us-east-1:api-5xx", CONFIG)
    with pytest.raises(ActivityFailed) as refused:
        stop_alarms.check_exist(alarms, CONFIG, None)
    message = str(refused.value)
    assert "\n" not in message
    assert "stop alarm(s) not found: eu-south-1:api-5xxx, us-east-1:api-5xx" in message


def test_more_than_100_alarms_are_read_in_batches(seen: list[dict]) -> None:
    names = [f"alarm-{i:03d}" for i in range(150)]
    for name in names:
        _metric_alarm(name)
    alarms = parse_stop_alarms(names, CONFIG)
    stop_alarms.check_exist(alarms, CONFIG, None)
    _set("alarm-149", "ALARM")
    assert stop_alarms.firing(alarms, CONFIG, None)[0].name == "alarm-149"
    assert max(len(call["names"]) for call in seen) == 100


def test_the_control_refuses_a_misspelled_alarm_before_anything(
    seen: list[dict], run_context, tmp_path
) -> None:
    _metric_alarm("api-5xx")
    configuration = {
        "aws_region": REGION,
        "chaos_ledger_path": str(tmp_path / "ledger.jsonl"),
    }
    with pytest.raises(InterruptExecution, match="not found: eu-south-1:api-5xxx"):
        safety.before_experiment_control(
            {"title": "t"}, configuration, None, stop_alarms="api-5xxx"
        )
    assert safety._guard.threads == []  # no watcher, no dead-man's switch
