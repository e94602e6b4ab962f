from __future__ import annotations

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext import undo
from chaosaws_ext.guardrails import check_plan, plan_problems
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.planning import FaultPlan, PlannedChange
from chaosaws_ext.runcontext import start_run


def _plan(n: int = 1, tags: dict | None = None, region: str = "eu-south-1") -> FaultPlan:
    return FaultPlan(
        fault="az-blackhole",
        region=region,
        target="az-blackhole:vpc-1:eu-south-1a",
        changes=[
            PlannedChange(
                f"subnet-{i}", "nacl-a -> blackhole", "back to nacl-a", resource_tags=tags or {}
            )
            for i in range(n)
        ],
    )


def test_unknown_account_is_refused_with_the_fix(mocked_aws, monkeypatch) -> None:
    monkeypatch.delenv("GAMEDAY_ALLOWED_ACCOUNTS")
    with pytest.raises(ActivityFailed) as error:
        check_plan(_plan(), {"aws_region": "eu-south-1"})
    assert str(error.value) == (
        "refusing az-blackhole: account 123456789012 is not in allowed_accounts "
        "(set allowed_accounts (GAMEDAY_ALLOWED_ACCOUNTS=123456789012) if this is a staging "
        "account)"
    )


def test_every_problem_is_reported_at_once(mocked_aws) -> None:
    configuration = {"aws_region": "eu-west-1", "allowed_regions": "eu-west-1", "max_resources": 2}
    problems = plan_problems(_plan(3, tags={"chaos:protected": "yes"}), configuration)
    assert problems[0] == "region eu-south-1 is not in allowed_regions (eu-west-1)"
    assert "subnet-0 carries the protection tag 'chaos:protected'" in problems
    assert problems[-1] == "3 resources would change, more than max_resources=2"


def test_lock_keeps_a_second_run_off_the_same_target(mocked_aws, tmp_path) -> None:
    configuration = {
        "aws_region": "eu-south-1",
        "lock_table": "gameday-locks",
        "chaos_ledger_path": str(tmp_path / "l.jsonl"),
        "chaos_run_id": "run-a",
    }
    start_run(configuration, "first")
    check_plan(_plan(), configuration)
    other = dict(configuration, chaos_run_id="run-b")
    start_run(other, "second")
    with pytest.raises(ActivityFailed, match="locked by run run-a"):
        check_plan(_plan(), other)
    # the first run's undo releases the lock; then the second may go
    start_run(configuration, "first")
    undo.replay(Ledger(tmp_path / "l.jsonl"), configuration, run_id="run-a")
    start_run(other, "second")
    check_plan(_plan(), other)
    item = boto3.client("dynamodb", region_name="eu-south-1").get_item(
        TableName="gameday-locks", Key={"lock_key": {"S": "az-blackhole:vpc-1:eu-south-1a"}}
    )["Item"]
    assert item["run_id"]["S"] == "run-b"


def test_a_non_numeric_blast_radius_is_one_clear_problem(mocked_aws) -> None:
    problems = plan_problems(_plan(), {"aws_region": "eu-south-1", "max_resources": "lots"})
    assert problems == ["max_resources must be a whole number, got 'lots'"]
