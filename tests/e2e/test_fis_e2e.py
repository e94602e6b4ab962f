"""An AWS FIS AZ blackhole (aws:network:disrupt-connectivity) measured by our control, in
the sandbox, whose FIS emulation executes it (sandbox/fis/): measured, stopped by our
stop alarm, and stopped by ``gameday recover`` after a SIGKILL (ledger and by tag);
every NACL of the VPC deep-compared before and after, read from the sandbox's AWS."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.ledger import Ledger
from gameday.policy import render
from sandbox.envfile import parse_env
from sandbox.seed import ENVIRONMENT
from tests.helpers import REPO, aws_calls
from tests.helpers.executables import chaos_executable
from tests.helpers.iam_authz import check_policy, failures, requirements
from tests.helpers.sandbox_state import client, nacls
from tests.helpers.sandbox_state import var_file as _var_file

pytestmark = pytest.mark.e2e

EXPERIMENT = REPO / "experiments" / "fis-az-disrupt-connectivity.yaml"
SCALE = 0.05
ALB_DETECTION_S = 10 * 2 * SCALE  # the seed's target group: 10 s interval x 2 checks
STOP_ALARM = "production-api-5xx"  # seeded in the home region; moto never evaluates it


ROLE_POLICY = REPO / "experiments" / "fis" / "az-disrupt-connectivity.role-policy.json"
POWER_ROLE_POLICY = REPO / "experiments" / "fis" / "az-power-interruption.role-policy.json"
_FIS_CALLS: list[Path] = []  # where the FIS emulation's own calls were recorded


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One sandbox for the module; the calls its FIS emulation makes (the calls FIS
    makes with its experiment role on AWS) recorded, as our clients' are."""
    from sandbox.server import running_sandbox

    calls = tmp_path_factory.mktemp("fis-role") / "calls.jsonl"
    _FIS_CALLS.append(calls)
    with running_sandbox(time_scale=SCALE) as (box, topology):
        make = box.fis._make_client

        def recorded(service: str, region: str) -> Any:
            made = make(service, region)
            aws_calls.install_into(made, calls)
            return made

        box.fis._make_client = recorded
        yield topology


def _nacls_back(topology: Any, before: dict[str, Any]) -> None:
    """Every NACL as before: waited for (bounded), as a describe right after FIS's revert
    may still show the old state (EC2 eventual consistency, emulated by the sandbox)."""
    with contextlib.suppress(WaitTimedOut):
        wait_until(lambda: nacls(topology) == before, timeout=30, interval=0.2, what="NACLs")
    assert nacls(topology) == before


def fis_experiments(topology: Any) -> list[dict[str, Any]]:
    return client(topology, "fis").list_experiments()["experiments"]


def fis_templates(topology: Any) -> list[dict[str, Any]]:
    return client(topology, "fis").list_experiment_templates()["experimentTemplates"]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}


def _wait(check: Any, bound: float, what: str) -> None:
    wait_until(check, timeout=bound, interval=0.1, what=what)


def _fis_applied(ledger: Path) -> bool:
    try:
        return any(
            e.fault == "fis-experiment" and e.change == "StartExperiment" and e.outcome == "applied"
            for e in Ledger(ledger).entries()
        )
    except Exception:  # noqa: BLE001 - a line being written
        return False


def _run(var_file: Path, journal: Path, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [chaos_executable(), "--no-version-check", "--log-file", str(cwd / "chaos.log"), "run",
         "--var-file", str(var_file), "--journal-path", str(journal), str(EXPERIMENT)],
        cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )  # fmt: skip


def _all_ended(topology: Any) -> bool:
    return all(
        e["state"]["status"] in ("completed", "stopped", "failed")
        for e in fis_experiments(topology)
    )


def test_fis_blackhole_is_measured_and_every_nacl_comes_back_exactly(
    sandbox: Any, tmp_path: Path
) -> None:
    before = nacls(sandbox)
    journal = tmp_path / "journal.json"
    var_file = _var_file(sandbox, tmp_path / "run.env", GAMEDAY_LEDGER=str(tmp_path / "l.jsonl"))

    process = _run(var_file, journal, tmp_path)
    assert process.wait(timeout=180) == 0, (tmp_path / "chaos.log").read_text()[-3000:]

    result = json.loads(journal.read_text())
    assert result["status"] == "completed" and result["deviated"] is False
    recovery = result["recovery"]
    assert recovery["fault"]["name"] == "fis-experiment"
    assert recovery["fault"]["detail"]["fis"]["t0_from"].startswith("the first fault action")
    rto = recovery["rto"]
    # t0 is FIS's startTime: the action initiates (clones, propagation) before the swap
    initiated = rto["phases"].get("fis_action_running_s") or 0.0
    assert rto["measured_s"] > 0 and rto["met"] is True
    assert rto["measured_s"] <= initiated + ALB_DETECTION_S + 2.0, rto
    _nacls_back(sandbox, before)
    assert fis_templates(sandbox) == []
    (experiment,) = [e for e in fis_experiments(sandbox) if e["tags"].get("chaos:run-id")]
    assert experiment["state"]["status"] == "stopped"  # ended by end_experiment
    assert Ledger(tmp_path / "l.jsonl").unreverted() == []


def test_our_stop_alarm_stops_the_fis_experiment_and_it_reverts(
    sandbox: Any, tmp_path: Path
) -> None:
    cloudwatch = client(sandbox, "cloudwatch")
    before = nacls(sandbox)
    ledger = tmp_path / "l.jsonl"
    var_file = _var_file(
        sandbox, tmp_path / "run.env", GAMEDAY_LEDGER=str(ledger),
        GAMEDAY_STOP_ALARMS=STOP_ALARM, GAMEDAY_RECOVERY_TIMEOUT="120",
        GAMEDAY_QUIET_PERIOD="120", GAMEDAY_FIS_DURATION="PT1H",
    )  # fmt: skip
    journal = tmp_path / "journal.json"
    process = _run(var_file, journal, tmp_path)
    try:
        _wait(lambda: _fis_applied(ledger), 90, "the FIS experiment started")
        _wait(lambda: nacls(sandbox) != before, 30, "FIS swapped the AZ's NACLs")
        cloudwatch.set_alarm_state(AlarmName=STOP_ALARM, StateValue="ALARM", StateReason="test")
        process.wait(timeout=120)
    finally:
        cloudwatch.set_alarm_state(AlarmName=STOP_ALARM, StateValue="OK", StateReason="test")
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    result = json.loads(journal.read_text())
    assert STOP_ALARM in json.dumps(result["safety"]), result["safety"]
    _nacls_back(sandbox, before)
    assert _all_ended(sandbox) and fis_templates(sandbox) == []


def test_our_max_duration_switch_stops_the_fis_experiment(sandbox: Any, tmp_path: Path) -> None:
    before = nacls(sandbox)
    var_file = _var_file(
        sandbox, tmp_path / "run.env", GAMEDAY_LEDGER=str(tmp_path / "l.jsonl"),
        GAMEDAY_MAX_FAULT_SECONDS="4", GAMEDAY_FIS_DURATION="PT1H",
        GAMEDAY_RECOVERY_TIMEOUT="120", GAMEDAY_QUIET_PERIOD="120",
    )  # fmt: skip
    journal = tmp_path / "journal.json"
    started = time.monotonic()
    process = _run(var_file, journal, tmp_path)
    process.wait(timeout=120)
    elapsed = time.monotonic() - started

    result = json.loads(journal.read_text())
    assert "max_fault_seconds" in json.dumps(result["safety"]), result["safety"]
    assert elapsed < 60  # not the hour FIS was asked for, nor the recovery timeout
    _nacls_back(sandbox, before)
    assert _all_ended(sandbox) and fis_templates(sandbox) == []


@pytest.mark.parametrize("how", ["ledger", "by-tag"])
def test_sigkill_then_gameday_recover_stops_the_fis_experiment(
    sandbox: Any, tmp_path: Path, how: str
) -> None:
    before = nacls(sandbox)
    ledger = tmp_path / "l.jsonl"
    var_file = _var_file(
        sandbox, tmp_path / "run.env", GAMEDAY_LEDGER=str(ledger), GAMEDAY_FIS_DURATION="PT1H",
        GAMEDAY_RECOVERY_TIMEOUT="120", GAMEDAY_QUIET_PERIOD="120",
    )  # fmt: skip
    process = _run(var_file, tmp_path / "journal.json", tmp_path)
    try:
        _wait(lambda: _fis_applied(ledger), 90, "the FIS experiment started")
        _wait(lambda: nacls(sandbox) != before, 30, "FIS swapped the AZ's NACLs")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert not _all_ended(sandbox)  # FIS goes on without us (PT1H)
    command = [sys.executable, "-m", "gameday", "recover"]
    env = _env()
    if how == "ledger":  # the shell the SRE runs it from has the sandbox's environment
        env.update(parse_env(var_file.read_text()))
        command += ["--ledger", str(ledger)]
    else:
        ledger.unlink()
        command += ["--by-tag", "--force", "--experiment", str(EXPERIMENT),
                    "--var-file", str(var_file)]  # fmt: skip

    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "FIS experiment" in done.stdout
    _nacls_back(sandbox, before)
    assert _all_ended(sandbox) and fis_templates(sandbox) == []


def test_the_fis_role_policy_grants_every_call_fis_made_and_no_statement_is_spare(
    sandbox: Any,
) -> None:
    """After the runs above: what the emulated FIS did with its experiment role, against
    the role policy we ship beside the template (with each statement removed in turn,
    something must fail: least privilege)."""
    calls = aws_calls.load_calls(_FIS_CALLS[-1])
    operations = {c.operation for c in calls}
    assert {"CreateNetworkAcl", "ReplaceNetworkAclAssociation", "DeleteNetworkAcl"} <= operations
    values = {"account": "123456789012", "region": sandbox.region, "vpc_id": sandbox.primary.vpc_id}
    policy = render(json.loads(ROLE_POLICY.read_text()), values)
    needed = requirements(calls)

    assert failures(check_policy(policy, needed)) == []
    for statement in policy["Statement"]:
        fewer = {**policy, "Statement": [s for s in policy["Statement"] if s is not statement]}
        assert failures(check_policy(fewer, needed)), f"{statement['Sid']} is not needed"


def test_fis_az_power_interruption_is_played_out_and_measured(sandbox: Any, tmp_path: Path) -> None:
    """The scenario template: the AZ's subnets cut off, its instances stopped (none in
    the sandbox: skipped, as FIS skips an action without targets), the RDS writer in the
    AZ failed over; FIS ends it itself; our measurement judges the Ticket API."""
    rds = client(sandbox, "rds")
    writer_before = rds.describe_db_instances()["DBInstances"][0]["AvailabilityZone"]
    before = nacls(sandbox)
    calls_before = len(aws_calls.load_calls(_FIS_CALLS[-1]))
    journal = tmp_path / "journal.json"
    var_file = _var_file(
        sandbox, tmp_path / "run.env", GAMEDAY_LEDGER=str(tmp_path / "l.jsonl"),
        GAMEDAY_AZ=writer_before,
    )  # fmt: skip
    process = subprocess.Popen(
        [chaos_executable(), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"),
         "run", "--var-file", str(var_file), "--journal-path", str(journal),
         str(REPO / "experiments" / "examples" / "fis-az-power-interruption.yaml")],
        cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert process.wait(timeout=300) == 0, (tmp_path / "chaos.log").read_text()[-3000:]

    result = json.loads(journal.read_text())
    ended = {r["activity"]["name"]: r["output"] for r in result["run"]}[
        "wait-for-the-scenario-to-end"
    ]
    assert ended["status"] == "completed"
    statuses = {name: action["status"] for name, action in ended["actions"].items()}
    assert statuses == {
        "pause-network-connectivity": "completed",
        "stop-instances": "completed",  # the AZ's API instance (tag Environment)
        "failover-rds": "completed",
    }
    rto = result["recovery"]["rto"]
    assert rto["met"] is True and rto["measured_s"] > 0
    assert "fis_failover_rds_started_s" in rto["phases"]
    _nacls_back(sandbox, before)

    def failed_over() -> bool:
        db = rds.describe_db_instances()["DBInstances"][0]
        return db["DBInstanceStatus"] == "available" and db["AvailabilityZone"] != writer_before

    _wait(failed_over, 60, "the writer available in another AZ")
    assert _all_ended(sandbox) and fis_templates(sandbox) == []

    # the role FIS assumed: every call it made granted by the policy shipped beside the
    # template, each statement needed (the AZ's API instance stopped and started too)
    calls = aws_calls.load_calls(_FIS_CALLS[-1])[calls_before:]
    values = {
        "account": "123456789012", "region": sandbox.region, "vpc_id": sandbox.primary.vpc_id,
        "environment": ENVIRONMENT,
    }  # fmt: skip
    policy = render(json.loads(POWER_ROLE_POLICY.read_text()), values)
    needed = requirements(calls)
    checks = check_policy(policy, needed)
    assert failures(checks) == []
    for statement in policy["Statement"]:
        fewer = {**policy, "Statement": [s for s in policy["Statement"] if s is not statement]}
        assert failures(check_policy(fewer, needed)), f"{statement['Sid']} is not needed"
    # the reboot, stop and start are granted only on the template's tagged targets: the
    # tag condition was evaluated against the resources' tags, and refuses another value
    tag_condition = f"StringEquals aws:ResourceTag/Environment ['{ENVIRONMENT}']"
    scoped = {"rds:RebootDBInstance", "ec2:StopInstances", "ec2:StartInstances"}
    granted = [c for c in checks if c.requirement.action in scoped]
    assert {c.requirement.action for c in granted} == scoped
    assert all(tag_condition in c.evaluated for c in granted), [c.unevaluated for c in granted]
    elsewhere = render(json.loads(POWER_ROLE_POLICY.read_text()), values | {"environment": "x"})
    refused = failures(check_policy(elsewhere, [c.requirement for c in granted]))
    assert len(refused) == len(granted) and all("does not hold for" in r for r in refused)
