"""FIS experiments executed by the sandbox: states, ordering, durations, stop, failures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.fis_world import TIME_SCALE, FisWorld, fis_world


@pytest.fixture
def world(moto_endpoint: str) -> Iterator[FisWorld]:
    with fis_world(moto_endpoint) as started:
        yield started


def _wait(duration: str, after: list[str] | None = None) -> dict:
    action: dict = {"actionId": "aws:fis:wait", "parameters": {"duration": duration}}
    if after:
        action["startAfter"] = after
    return action


def test_wait_runs_its_scaled_duration_and_completes(world: FisWorld) -> None:
    experiment_id = world.start({"pause": _wait("PT1M")})
    running = world.wait_status(experiment_id, "running")
    assert running["state"]["reason"] == "Experiment is running."
    done = world.wait_status(experiment_id)
    assert done["state"] == {"status": "completed", "reason": "Experiment completed."}
    action = done["actions"]["pause"]
    assert action["state"]["status"] == "completed"
    lasted = (action["endTime"] - action["startTime"]).total_seconds()
    assert 60 * TIME_SCALE <= lasted < 60 * TIME_SCALE + 0.5
    assert done["endTime"] >= action["endTime"]
    listed = world.fis.list_experiments()["experiments"]
    assert [e["state"]["status"] for e in listed if e["id"] == experiment_id] == ["completed"]


def test_start_after_orders_actions_and_parallel_ones_start_together(world: FisWorld) -> None:
    experiment_id = world.start(
        {
            "first": _wait("PT30S"),
            "alongside": _wait("PT30S"),
            "second": _wait("PT30S", after=["first", "alongside"]),
            "third": _wait("PT30S", after=["second"]),
        }
    )
    done = world.wait_status(experiment_id)
    assert done["state"]["status"] == "completed"
    actions = done["actions"]
    assert (
        abs((actions["first"]["startTime"] - actions["alongside"]["startTime"]).total_seconds())
        < 0.2
    )
    assert actions["second"]["startTime"] >= actions["first"]["endTime"]
    assert actions["second"]["startTime"] >= actions["alongside"]["endTime"]
    assert actions["third"]["startTime"] >= actions["second"]["endTime"]
    span = (actions["third"]["endTime"] - actions["first"]["startTime"]).total_seconds()
    assert span >= 3 * 30 * TIME_SCALE


def test_stop_experiment_mid_way_stops_running_and_cancels_pending(world: FisWorld) -> None:
    experiment_id = world.start({"long": _wait("PT1H"), "later": _wait("PT1M", after=["long"])})
    world.wait_action(experiment_id, "long", "running")
    answer = world.fis.stop_experiment(id=experiment_id)["experiment"]
    assert answer["state"]["status"] in ("stopping", "stopped")
    stopped = world.wait_status(experiment_id)
    assert stopped["state"]["status"] == "stopped"
    assert stopped["state"]["reason"] == "Experiment stopped by StopExperiment."
    assert stopped["actions"]["long"]["state"]["status"] == "stopped"
    assert stopped["actions"]["later"]["state"]["status"] == "cancelled"
    assert "startTime" not in stopped["actions"]["later"]


def test_unsupported_action_fails_the_experiment_naming_it(world: FisWorld) -> None:
    experiment_id = world.start(
        {
            "pause": _wait("PT1M"),
            "stress": {"actionId": "aws:ssm:send-command", "parameters": {"duration": "PT1M"}},
        }
    )
    failed = world.wait_status(experiment_id)
    assert failed["state"]["status"] == "failed"
    assert failed["state"]["reason"] == (
        "Action stress (aws:ssm:send-command) is not supported by the sandbox's FIS emulation."
    )
    assert {a["state"]["status"] for a in failed["actions"].values()} == {"cancelled"}


def test_bad_duration_fails_with_the_value(world: FisWorld) -> None:
    failed = world.wait_status(world.start({"pause": _wait("five minutes")}))
    assert failed["state"]["status"] == "failed"
    assert "'five minutes' is not an ISO 8601 duration" in failed["state"]["reason"]


def test_stop_condition_alarm_in_alarm_stops_the_experiment(world: FisWorld) -> None:
    cloudwatch = world.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="api-5xx",
        MetricName="HTTPCode_Target_5XX_Count",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    arn = cloudwatch.describe_alarms(AlarmNames=["api-5xx"])["MetricAlarms"][0]["AlarmArn"]
    experiment_id = world.start(
        {"long": _wait("PT1H")}, stop_conditions=[{"source": "aws:cloudwatch:alarm", "value": arn}]
    )
    world.wait_action(experiment_id, "long", "running")
    assert world.get(experiment_id)["state"]["status"] == "running"
    cloudwatch.set_alarm_state(AlarmName="api-5xx", StateValue="ALARM", StateReason="test")
    stopped = world.wait_status(experiment_id, timeout=10)
    assert stopped["state"] == {
        "status": "stopped",
        "reason": f"Experiment stopped by stop condition {arn}.",
    }
    assert stopped["actions"]["long"]["state"]["status"] == "stopped"
