"""fis-experiment against in-process moto (which stores FIS experiments and moves their
states, executing nothing): ledger before each call, t0 from the action's startTime,
exact undo (stopped, template deleted), refusals before anything, orphans by tag."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.timeline import clear_phases, fault_details
from chaosaws_ext.fis import actions, probes, undo
from chaosaws_ext.fis.experiments import TOKEN_TAG, tags_of
from chaosaws_ext.fis.injections import forget_all
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import fault_stamps
from chaosaws_ext.runcontext import RunContext
from gameday.planner import format_plan, plan_experiment
from tests.conftest import REGION
from tests.helpers import REPO

CONFIG = {"aws_region": REGION}
ROLE = "arn:aws:iam::123456789012:role/fis-experiments"
VALUES = {"az": "eu-south-1a", "vpc_id": "vpc-1", "duration": "PT1M", "environment": "production"}


@pytest.fixture
def fis(mocked_aws: None, run_context: RunContext) -> Iterator[boto3.client]:
    forget_all()
    fault_stamps(clear=True)
    clear_phases()
    yield boto3.client("fis", region_name=REGION)
    forget_all()


def _start(**overrides: object) -> dict:
    arguments = {
        "template_file": "az-disrupt-connectivity",
        "template_values": VALUES,
        "role_arn": ROLE,
        "poll_interval": 0.01,
        "start_timeout": 5,
        **overrides,
    }
    return actions.start_experiment(**arguments, configuration=CONFIG)  # type: ignore[arg-type]


def test_start_ledgers_each_call_first_and_stamps_t0_from_the_action_start(
    fis: boto3.client, run_context: RunContext
) -> None:
    ledger = Ledger(run_context.ledger_path)

    started = _start()

    template, experiment = ledger.entries()
    assert (template.change, template.undo["undoer"], template.outcome) == (
        "create experiment template (tagged chaos:*)",
        "fis-experiment.delete-template",
        "applied",
    )
    assert (experiment.change, experiment.undo["undoer"]) == (
        "StartExperiment",
        "fis-experiment.stop-experiment",
    )
    assert template.recorded_at <= experiment.recorded_at
    summary = fis.list_experiment_templates()["experimentTemplates"][0]
    assert tags_of(summary)["chaos:run-id"] == run_context.run_id
    assert tags_of(summary)["chaos:fault"] == "fis-experiment"
    body = fis.get_experiment_template(id=summary["id"])["experimentTemplate"]
    assert body["roleArn"] == ROLE
    assert body["actions"]["disrupt-az"]["parameters"] == {"scope": "all", "duration": "PT1M"}
    assert body["targets"]["az-subnets"]["filters"] == [
        {"path": "AvailabilityZone", "values": ["eu-south-1a"]},
        {"path": "VpcId", "values": ["vpc-1"]},
    ]
    (stamp,) = fault_stamps()
    assert stamp.event == "injected" and stamp.fault == "fis-experiment"
    action_start = started["state"]["actions"]["disrupt-az"]["start"]
    assert stamp.wall[:19] == action_start[:19]  # t0 is FIS's startTime, to the second
    detail = fault_details()["fis"]
    assert isinstance(detail, dict) and detail["experiment_id"] == started["experiment_id"]


def test_the_undo_stops_the_experiment_and_deletes_the_template_idempotently(
    fis: boto3.client, run_context: RunContext
) -> None:
    started = _start()

    first = actions.end_experiment(configuration=CONFIG)
    again = actions.end_experiment(configuration=CONFIG)

    assert first["reverted"] == 2 and again["reverted"] == 0
    assert Ledger(run_context.ledger_path).unreverted() == []
    assert fis.list_experiment_templates()["experimentTemplates"] == []
    state = fis.get_experiment(id=started["experiment_id"])["experiment"]["state"]["status"]
    assert state in ("completed", "stopped")
    assert [s.event for s in fault_stamps()] == ["injected", "reverted"]


def test_an_experiment_left_running_is_stopped_by_the_undo(
    fis: boto3.client, run_context: RunContext
) -> None:
    template = fis.create_experiment_template(
        clientToken="t", description="d", roleArn=ROLE, stopConditions=[{"source": "none"}],
        actions={"wait": {"actionId": "aws:fis:wait", "parameters": {"duration": "PT1H"}}},
    )["experimentTemplate"]["id"]  # fmt: skip
    token = "experiment-x"
    running = fis.start_experiment(
        clientToken=token,
        experimentTemplateId=template,
        tags={"chaos:run-id": run_context.run_id, TOKEN_TAG: token},
    )["experiment"]["id"]

    done = undo.stop_experiment_undo(
        template, run_context.run_id, token, poll_interval=0.01, configuration=CONFIG
    )

    assert done["stopped"] == [{"experiment_id": running, "status": "stopped"}]
    assert fis.get_experiment(id=running)["experiment"]["state"]["status"] == "stopped"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"template_id": "EXT123"}, "name exactly one of template_id and template_file"),
        ({"template_file": None}, "name exactly one of template_id and template_file"),
        ({"template_values": {"az": "eu-south-1a"}}, "no value for duration, environment, vpc_id"),
        ({"template_file": "no-such-template"}, "FIS template file no-such-template does not"),
    ],
)
def test_bad_input_is_refused_before_anything(
    fis: boto3.client, run_context: RunContext, overrides: dict, message: str
) -> None:
    with pytest.raises(ActivityFailed, match=message):
        _start(**overrides)
    assert Ledger(run_context.ledger_path).entries() == []
    assert fis.list_experiment_templates()["experimentTemplates"] == []


def test_a_template_file_without_stop_conditions_is_refused(
    fis: boto3.client, run_context: RunContext, tmp_path: Path
) -> None:
    document = json.loads((REPO / "experiments/fis/az-disrupt-connectivity.json").read_text())
    document.pop("stopConditions")
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(document))

    with pytest.raises(ActivityFailed) as refused:
        _start(template_file=str(path))
    assert str(refused.value) == (
        f"FIS template file {path} has no stopConditions (FIS requires one; "
        'use [{"source": "none"}] for none)'
    )


def test_orphans_are_found_by_tag_and_undone(fis: boto3.client, run_context: RunContext) -> None:
    _start()  # moto has moved it to completed (not a leftover); a second one stays pending
    template_id = fis.list_experiment_templates()["experimentTemplates"][0]["id"]
    ours = {"chaos:run-id": run_context.run_id, "chaos:managed-by": "chaosaws-ext",
            "chaos:fault": "fis-experiment", TOKEN_TAG: "left"}  # fmt: skip
    fis.start_experiment(clientToken="left", experimentTemplateId=template_id, tags=ours)
    undoers: dict[str, Callable[..., dict]] = {
        "fis-experiment.stop-experiment": undo.stop_experiment_undo,
        "fis-experiment.delete-template": undo.delete_template_undo,
    }

    specs = undo.find_fis_leftovers(configuration=CONFIG, region=REGION)

    assert sorted(spec["undoer"] for spec in specs) == [
        "fis-experiment.delete-template",
        "fis-experiment.stop-experiment",
    ]
    for spec in sorted(specs, key=lambda s: s["undoer"], reverse=True):  # stop, then delete
        undoers[spec["undoer"]](**spec["args"], configuration=CONFIG, region=REGION)
    assert undo.find_fis_leftovers(configuration=CONFIG, region=REGION) == []
    assert probes.no_experiment_of_ours_running(configuration=CONFIG) is True


def test_gameday_plan_shows_every_action_and_its_undo(
    fis: boto3.client, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = {
        "GAMEDAY_AZ": "eu-south-1a",
        "GAMEDAY_VPC_ID": "vpc-1",
        "GAMEDAY_FIS_ROLE_ARN": ROLE,
        "GAMEDAY_API_URL": "http://127.0.0.1:9/",
    }
    for key, value in environment.items():
        monkeypatch.setenv(key, value)

    result = plan_experiment(REPO / "experiments/fis-az-disrupt-connectivity.yaml", [])

    text = format_plan(result)
    assert "fault fis-experiment in eu-south-1 (target fis:az-disrupt-connectivity)" in text
    assert "FIS action disrupt-az (aws:network:disrupt-connectivity)" in text
    assert "Subnets -> aws:ec2:subnet; tags Environment=production; AvailabilityZone in " in text
    assert "undo: StopExperiment (FIS reverts what its actions changed)" in text
    assert "guardrails: ok" in text
    assert fis.list_experiment_templates()["experimentTemplates"] == []  # nothing created
