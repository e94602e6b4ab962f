"""chaostoolkit-aws's RDS failover adopted by the safety control: guarded and ledgered
before the action runs, t0 at its end, undone by our undoer; unrecorded actions refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chaoslib.exceptions import InterruptExecution

from chaosaws_ext.controls import safety
from chaosaws_ext.core.timeline import fault_details
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import fault_stamps
from chaosaws_ext.rds import probes
from chaosaws_ext.runcontext import RunContext
from chaosaws_ext.undo import replay
from gameday.planner import PLAN_FUNCTIONS
from tests.chaosaws_ext.rds.test_rds_failover import CONFIG, POLL, create_instance

REBOOT = {"module": "chaosaws.rds.actions", "func": "reboot_db_instance"}


def _action(arguments: dict[str, Any], provider: dict[str, str] = REBOOT) -> dict[str, Any]:
    return {
        "type": "action",
        "name": "reboot-with-failover",
        "provider": {"type": "python", **provider, "arguments": arguments},
    }


@pytest.fixture
def in_method() -> Iterator[None]:
    safety.before_method_control()
    yield
    safety.after_method_control()
    boto3.DEFAULT_SESSION = None  # chaostoolkit-aws sets the default session


def _run(activity: dict[str, Any]) -> dict[str, Any]:
    """What chaoslib does around a python action: before control, call, after control."""
    from chaosaws.rds import actions as ctk_rds

    safety.before_activity_control(activity, configuration=CONFIG, secrets=None)
    arguments = activity["provider"]["arguments"]
    output = getattr(ctk_rds, activity["provider"]["func"])(**arguments, configuration=CONFIG)
    state = {"status": "succeeded", "output": output}
    safety.after_activity_control(activity, state)
    return state


def test_reboot_with_failover_is_ledgered_before_and_timed_after(
    rds: boto3.client, emulator: Any, run_context: RunContext, in_method: None
) -> None:
    create_instance(rds)
    activity = _action(
        {"db_instance_identifier": "production-analytics-db", "force_failover": True}
    )
    ledger = Ledger(run_context.ledger_path)
    seen_before_call: list[list[str]] = []
    original = safety.adoption.before_action

    def spy(*args: Any, **kwargs: Any) -> None:
        original(*args, **kwargs)
        seen_before_call.append([e.change for e in ledger.entries()])

    safety.adoption.before_action = spy  # type: ignore[assignment]
    try:
        _run(activity)
    finally:
        safety.adoption.before_action = original  # type: ignore[assignment]

    assert seen_before_call == [
        ["forced failover (reboot with ForceFailover): primary eu-south-1a -> eu-south-1b"]
    ]
    (entry,) = ledger.entries()
    assert (entry.fault, entry.resource, entry.outcome) == (
        "rds-failover",
        "db-instance:production-analytics-db",
        "applied",
    )
    assert entry.undo["undoer"] == "rds-failover.wait-available"
    assert [s.event for s in fault_stamps()] == ["injected"]
    assert fault_details()["injected_by"] == "chaosaws.rds.actions.reboot_db_instance"

    done = probes.wait_for_failover_completion(
        "production-analytics-db", timeout=10, poll_interval=POLL, configuration=CONFIG
    )
    assert (done["writer_az_before"], done["writer_az_after"], done["changed"]) == (
        "eu-south-1a",
        "eu-south-1b",
        True,
    )
    replay(ledger, CONFIG, None)
    assert ledger.unreverted() == []


def test_reboot_without_force_failover_is_refused_before_anything(
    rds: boto3.client, run_context: RunContext, in_method: None
) -> None:
    create_instance(rds)
    activity = _action({"db_instance_identifier": "production-analytics-db"})

    with pytest.raises(InterruptExecution) as refused:
        safety.before_activity_control(activity, configuration=CONFIG, secrets=None)

    assert str(refused.value) == (
        "action reboot-with-failover refused: refusing rds-failover: "
        "chaosaws.rds.actions.reboot_db_instance without force_failover: true reboots "
        "'production-analytics-db' in place (an outage, not a failover); "
        "set force_failover: true"
    )
    assert Ledger(run_context.ledger_path).entries() == []


def test_a_protected_instance_is_refused_for_the_adopted_action_too(
    rds: boto3.client, run_context: RunContext, in_method: None
) -> None:
    create_instance(rds, Tags=[{"Key": "chaos:protected", "Value": "true"}])
    activity = _action(
        {"db_instance_identifier": "production-analytics-db", "force_failover": True}
    )

    with pytest.raises(InterruptExecution, match="carries the protection tag 'chaos:protected'"):
        safety.before_activity_control(activity, configuration=CONFIG, secrets=None)
    assert Ledger(run_context.ledger_path).entries() == []


def test_an_unrecorded_chaostoolkit_aws_action_is_refused_unless_allowed(
    rds: boto3.client, run_context: RunContext, in_method: None
) -> None:
    stop = _action(
        {"instance_ids": ["i-0123456789abcdef0"]},
        {"module": "chaosaws.ec2.actions", "func": "stop_instances"},
    )

    with pytest.raises(InterruptExecution) as refused:
        safety.before_activity_control(stop, configuration=CONFIG, secrets=None)
    assert str(refused.value).startswith(
        "refusing action reboot-with-failover: chaosaws.ec2.actions.stop_instances changes "
        "AWS and chaosaws-ext knows no undo for it (adopted: "
        "chaosaws.rds.actions.failover_db_cluster, chaosaws.rds.actions.reboot_db_instance)"
    )

    safety.before_activity_control(
        stop, configuration=CONFIG, secrets=None, allow_unrecorded_actions=True
    )  # allowed: runs unrecorded, nothing ledgered
    assert Ledger(run_context.ledger_path).entries() == []


def test_rollbacks_and_probes_are_never_refused(rds: boto3.client, run_context: RunContext) -> None:
    start = _action(
        {"instance_ids": ["i-0123456789abcdef0"]},
        {"module": "chaosaws.ec2.actions", "func": "start_instances"},
    )
    safety.after_method_control()  # outside the method: a rollback

    safety.before_activity_control(start, configuration=CONFIG, secrets=None)

    probe = {**start, "type": "probe"}
    safety.before_method_control()
    try:
        safety.before_activity_control(probe, configuration=CONFIG, secrets=None)
    finally:
        safety.after_method_control()


def test_gameday_plan_knows_the_adopted_actions() -> None:
    assert PLAN_FUNCTIONS[("chaosaws.rds.actions", "reboot_db_instance")] == (
        "chaosaws_ext.rds.adoption",
        "plan_reboot_db_instance",
    )
    assert PLAN_FUNCTIONS[("chaosaws.rds.actions", "failover_db_cluster")] == (
        "chaosaws_ext.rds.adoption",
        "plan_failover_db_cluster",
    )


def test_gameday_plan_plans_the_example_experiments_chaostoolkit_aws_action(
    rds: boto3.client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gameday.planner import format_plan, plan_experiment
    from tests.helpers import REPO

    create_instance(rds)
    monkeypatch.setenv("GAMEDAY_DB_INSTANCE", "production-analytics-db")

    result = plan_experiment(REPO / "experiments/examples/rds-reboot-chaostoolkit-aws.yaml", [])

    (item,) = result["plans"]
    assert item["action"] == "reboot-db-instance-with-failover"
    assert item["plan"]["fault"] == "rds-failover" and item["problems"] == []
    text = format_plan(result)
    assert "production-analytics-db: forced failover (reboot with ForceFailover)" in text
    assert "guardrails: ok" in text


def test_an_aws_error_while_checking_refuses_the_action_instead_of_letting_it_run(
    rds: boto3.client, run_context: RunContext, in_method: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """chaoslib swallows a control's exceptions but InterruptExecution: an AWS error while
    planning must not let the chaostoolkit-aws action run unguarded and unrecorded."""
    from botocore.exceptions import ClientError

    from chaosaws_ext.rds import adoption

    def throttled(*args: Any, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "Op")

    monkeypatch.setattr(adoption, "plan_instance_failover", throttled)
    activity = _action(
        {"db_instance_identifier": "production-analytics-db", "force_failover": True}
    )

    with pytest.raises(InterruptExecution) as refused:
        safety.before_activity_control(activity, configuration=CONFIG, secrets=None)

    assert str(refused.value).startswith(
        "action reboot-with-failover refused: its guardrails could not be checked (ClientError: "
    )
    assert Ledger(run_context.ledger_path).entries() == []
