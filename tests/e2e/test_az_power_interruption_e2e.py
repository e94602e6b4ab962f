"""The AZ power interruption scenario (experiments/az-power-interruption.yaml) in the
sandbox: every fault applied and reverted exactly (the VPC's NACLs and the RDS writer,
read from the sandbox's AWS and deep-compared before/after; the writer moved once when
it was in the AZ), both services' RTOs consistent with the emulated timings (the ALB's
health checks; the RDS failover window), and the skip path (an AZ without the writer:
the RDS step skipped, said in ``gameday plan`` and in the journal)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosaws_ext.core.waiting import wait_until
from chaosaws_ext.ledger import Ledger
from gameday.runner import RunOutcome
from gameday.summary import summary_table
from reports.html import build_report_html
from reports.scenario import service_rows, timeline_rows
from reports.verdicts import format_seconds
from sandbox.rds.failover import INSTANCE_FAILOVER_SECONDS
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable
from tests.helpers.sandbox_state import client, nacls, postgres_markers
from tests.helpers.sandbox_state import var_file as _var_file

pytestmark = pytest.mark.e2e

EXPERIMENT = REPO / "experiments" / "az-power-interruption.yaml"
SCALE = 0.05
ALB_DETECTION_S = 10 * 2 * SCALE  # the seed's target group: 10 s interval x 2 checks
FAILOVER_S = INSTANCE_FAILOVER_SECONDS * SCALE  # the emulated Multi-AZ failover window
SYMPTOMS_S = "8"  # held from the first injection: past both recoveries at this scale


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from sandbox.server import running_sandbox

    with running_sandbox(time_scale=SCALE) as (_box, topology):
        yield topology


def instances(topology: Any) -> dict[str, Any]:
    """Every EC2 instance: AZ, state and tags (ours removed after the run)."""
    found = client(topology, "ec2").describe_instances()["Reservations"]
    return {
        i["InstanceId"]: {
            "az": i["Placement"]["AvailabilityZone"],
            "state": i["State"]["Name"],
            "tags": sorted((t["Key"], t["Value"]) for t in i.get("Tags", [])),
        }
        for r in found
        for i in r["Instances"]
    }


def writer(topology: Any) -> dict[str, Any]:
    db = client(topology, "rds").describe_db_instances(
        DBInstanceIdentifier=topology.db_instance_id
    )["DBInstances"][0]
    return {
        "az": db["AvailabilityZone"],
        "secondary": db.get("SecondaryAvailabilityZone"),
        "status": db["DBInstanceStatus"],
        "multi_az": db["MultiAZ"],
    }


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}


def _run(
    topology: Any, tmp_path: Path, experiment: Path = EXPERIMENT, **overrides: str
) -> dict[str, Any]:
    ledger = tmp_path / "ledger.jsonl"
    var_file = _var_file(
        topology, tmp_path / "run.env", GAMEDAY_LEDGER=str(ledger),
        GAMEDAY_SYMPTOMS_SECONDS=SYMPTOMS_S, **overrides,
    )  # fmt: skip
    journal = tmp_path / "journal.json"
    done = subprocess.run(
        [chaos_executable(), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"),
         "run", "--var-file", str(var_file), "--journal-path", str(journal), str(experiment)],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, (tmp_path / "chaos.log").read_text()[-4000:]
    assert Ledger(ledger).unreverted() == []
    return json.loads(journal.read_text())


def _plan(topology: Any, tmp_path: Path, **overrides: str) -> str:
    var_file = _var_file(topology, tmp_path / "plan.env", **overrides)
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "plan", str(EXPERIMENT), "--var-file", str(var_file)],
        cwd=REPO, env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _back(topology: Any, before_nacls: dict[str, Any], before_instances: dict[str, Any]) -> None:
    """NACLs and instances as before (waited for: EC2's eventual consistency is emulated)."""
    wait_until(lambda: nacls(topology) == before_nacls, timeout=30, interval=0.2, what="NACLs")
    wait_until(lambda: instances(topology) == before_instances, timeout=30, interval=0.2,
               what="instances")  # fmt: skip


def test_writer_in_the_az_fails_over_once_and_both_services_recover(
    sandbox: Any, tmp_path: Path
) -> None:
    before_nacls, before_db = nacls(sandbox), writer(sandbox)
    before_instances = instances(sandbox)
    az = before_db["az"]
    plan = _plan(sandbox, tmp_path, GAMEDAY_AZ=az)
    assert "blackhole-availability-zone: fault az-blackhole" in plan
    assert f"failover-rds-writer-if-in-az: fault rds-failover in {sandbox.region} (target" in plan
    assert "skipped" not in plan

    result = _run(sandbox, tmp_path, GAMEDAY_AZ=az)
    assert result["status"] == "completed" and result["deviated"] is False

    _back(sandbox, before_nacls, before_instances)
    after_db = writer(sandbox)
    # moved once: to the standby's AZ, the old primary now the standby
    assert after_db == {**before_db, "az": before_db["secondary"], "secondary": az}
    recovery = result["recovery"]
    steps = recovery["scenario"]["steps"]
    assert [(s["action"], s["fault"], s["skipped"]) for s in steps] == [
        ("blackhole-availability-zone", "az-blackhole", False),
        ("stop-api-instances-of-the-az", "ec2-stop", False),
        ("failover-rds-writer-if-in-az", "rds-failover", False),
    ]
    hole, stop, rds = steps
    (stopping,) = [a for a in result["run"] if a["activity"]["name"] == stop["action"]]
    in_az = sorted(i for i, v in before_instances.items() if v["az"] == az)
    assert sorted(stopping["output"]["stopped"]) == in_az and in_az  # the AZ's, only
    assert hole["applied_s"] == 0.0 <= stop["applied_s"] <= rds["applied_s"]
    # ended in reverse order: the failover's wait, the instances, then the zone's NACLs
    assert rds["reverted_s"] <= stop["reverted_s"] <= hole["reverted_s"]
    assert {p["name"] for p in rds["phases"]} == {"control_plane", "az_changed"}
    services = recovery["services"]
    api, db = services["ticket-api"], services["rds-analytics"]
    assert api["target"]["rto_s"] == 300 and db["target"]["rpo_s"] == 300
    # the Ticket API: back once the ALB's health checks took the zone out
    assert 0 < api["rto"]["measured_s"] <= ALB_DETECTION_S + 2.0, api["rto"]
    # the database: down from the failover call for the emulated window
    measured = db["rto"]["measured_s"]
    assert rds["applied_s"] + FAILOVER_S - 0.5 <= measured <= rds["applied_s"] + FAILOVER_S + 2.0
    assert db["rto"]["met"] is True and db["rpo"]["met"] is True
    # the Ticket API's RPO (the plan's 0) from tickets POSTed through it: every
    # acknowledged one read back from the table; the unanswered ones are not lost
    assert api["rpo"]["measured_s"] == 0 and api["rpo"]["met"] is True, api["rpo"]
    assert api["rpo"]["acknowledged"] > 0 and api["rpo"]["lost"] == 0
    assert api["rpo"]["cleaned_up"] >= api["rpo"]["acknowledged"]
    assert db["rpo"]["acknowledged"] > 0 and db["rpo"]["lost"] == 0
    assert postgres_markers(sandbox) == 0  # our markers deleted

    # the report: one row per service, every step and phase on one time axis
    assert [(r.service, r.rto_met) for r in service_rows(recovery)] == [
        ("ticket-api", True),
        ("rds-analytics", True),
    ]
    rows = [(r.event, r.step) for r in timeline_rows(recovery)]
    hole_name, stop_name, rds_name = (f"{s['action']} ({s['fault']})" for s in steps)
    assert [row for row in rows if row[0] != "phase"] == [
        ("applied", hole_name),
        ("applied", stop_name),
        ("applied", rds_name),
        ("reverted", rds_name),
        ("reverted", stop_name),
        ("reverted", hole_name),
    ]
    assert rows.count(("phase", rds_name)) == 2
    html = build_report_html([result])
    assert "Scenario timeline" in html and "rds-analytics" in html
    # gameday run's table: the scenario's row, then one per service against its target
    (run_id,) = {e.run_id for e in Ledger(tmp_path / "ledger.jsonl").entries()}
    outcome = RunOutcome("az-power-interruption", tmp_path / "journal.json",
                         tmp_path / "chaos.log", 0, run_id)  # fmt: skip
    lines = summary_table([outcome]).splitlines()
    assert lines[2].startswith("az-power-interruption") and "yes" in lines[2]
    shown = format_seconds(api["rto"]["measured_s"], False).split()[0]
    assert lines[3].split()[:2] == ["ticket-api", shown]
    shown = format_seconds(measured, False).split()[0]
    assert lines[4].split() == ["rds-analytics", shown, "s", "/", "300", "s",
                                "0", "s", "/", "300", "s", "met"]  # fmt: skip


def test_an_az_without_the_writer_skips_the_rds_step_in_plan_and_journal(
    sandbox: Any, tmp_path: Path
) -> None:
    before_nacls, before_db = nacls(sandbox), writer(sandbox)
    before_instances = instances(sandbox)
    az = next(z for z in sandbox.primary.azs if z != before_db["az"])
    reason = f"no writer in {az} (DB instance {sandbox.db_instance_id!r}: writer"
    plan = _plan(sandbox, tmp_path, GAMEDAY_AZ=az)
    assert (
        f"failover-rds-writer-if-in-az: fault rds-failover in {sandbox.region}: skipped: {reason}"
        in plan
    )

    result = _run(sandbox, tmp_path, GAMEDAY_AZ=az)
    assert result["status"] == "completed" and result["deviated"] is False

    _back(sandbox, before_nacls, before_instances)
    assert writer(sandbox) == before_db  # not touched
    steps = result["recovery"]["scenario"]["steps"]
    rds = next(s for s in steps if s["fault"] == "rds-failover")
    assert rds["skipped"] is True and rds["reason"].startswith(reason)
    assert rds["applied_at"] is None and rds["phases"] == []
    assert ("skipped", f"{rds['action']} (rds-failover)") in [
        (r.event, r.step) for r in timeline_rows(result["recovery"])
    ]
    db = result["recovery"]["services"]["rds-analytics"]
    # no failover: the writer elsewhere keeps answering (no outage of the window's size)
    assert db["rto"]["measured_s"] < FAILOVER_S / 2 and db["rpo"]["lost"] == 0


# -- every ending of the composed run: one run id, one ledger, undone newest first ------

SCENARIO_FAULTS = ("az-blackhole", "ec2-stop", "rds-failover")
STOP_ALARM = "production-api-5xx"  # seeded in the home region; moto never evaluates it
HOLD = {"GAMEDAY_SYMPTOMS_SECONDS": "120", "GAMEDAY_RECOVERY_TIMEOUT": "120"}


def _start(
    topology: Any, tmp_path: Path, experiment: Path = EXPERIMENT, **overrides: str
) -> subprocess.Popen[str]:
    var_file = _var_file(topology, tmp_path / "run.env", GAMEDAY_LEDGER=str(tmp_path / "l.jsonl"),
                         **{**HOLD, **overrides})  # fmt: skip
    return subprocess.Popen(
        [chaos_executable(), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"),
         "run", "--var-file", str(var_file), "--journal-path", str(tmp_path / "journal.json"),
         str(experiment)],
        cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )  # fmt: skip


def _faults_applied(ledger: Path) -> set[str]:
    try:
        entries = Ledger(ledger).entries() if ledger.exists() else []
    except Exception:  # noqa: BLE001 - a line being written
        return set()
    return {e.fault for e in entries if e.outcome == "applied"}


def _undo_order(ledger: Path) -> list[str]:
    """The faults in the order their entries were undone (the ledger's reverted lines)."""
    fault_of = {e.id: e.fault for e in Ledger(ledger).entries()}
    order: list[str] = []
    for line in ledger.read_text().splitlines():
        record = json.loads(line)
        fault = fault_of.get(record.get("id"))
        if record.get("event") == "reverted" and fault in SCENARIO_FAULTS:
            if fault not in order:
                order.append(fault)
    return order


def _one_run(ledger: Path) -> None:
    entries = Ledger(ledger).entries()
    assert len({e.run_id for e in entries}) == 1 and Ledger(ledger).unreverted() == []


@pytest.mark.parametrize("ending", ["dead-man's switch", "stop alarm"])
def test_an_abort_undoes_every_fault_newest_first(
    sandbox: Any, tmp_path: Path, ending: str
) -> None:
    before_nacls, before_db = nacls(sandbox), writer(sandbox)
    before_instances = instances(sandbox)
    az = before_db["az"]
    ledger = tmp_path / "l.jsonl"
    both = set(SCENARIO_FAULTS)
    if ending == "stop alarm":
        process = _start(sandbox, tmp_path, GAMEDAY_AZ=az, GAMEDAY_STOP_ALARMS=STOP_ALARM)
        cloudwatch = client(sandbox, "cloudwatch")
        try:
            wait_until(lambda: both <= _faults_applied(ledger), timeout=90, interval=0.1,
                       what="both faults applied")  # fmt: skip
            cloudwatch.set_alarm_state(AlarmName=STOP_ALARM, StateValue="ALARM", StateReason="t")
            process.wait(timeout=120)
        finally:
            cloudwatch.set_alarm_state(AlarmName=STOP_ALARM, StateValue="OK", StateReason="t")
            if process.poll() is None:
                os.killpg(process.pid, 9)
    else:
        process = _start(sandbox, tmp_path, GAMEDAY_AZ=az, GAMEDAY_SCENARIO_MAX_FAULT_SECONDS="4")
        process.wait(timeout=150)
    safety = json.loads((tmp_path / "journal.json").read_text())["safety"]
    assert ("max_fault_seconds" if ending != "stop alarm" else STOP_ALARM) in json.dumps(safety)
    assert _undo_order(ledger) == ["rds-failover", "ec2-stop", "az-blackhole"]
    _one_run(ledger)
    _back(sandbox, before_nacls, before_instances)
    wait_until(lambda: writer(sandbox)["status"] == "available", timeout=60, interval=0.2,
               what="the DB available")  # fmt: skip
    assert writer(sandbox)["az"] == before_db["secondary"]  # failed over once, not back


def test_sigkill_then_gameday_recover_undoes_both_faults(sandbox: Any, tmp_path: Path) -> None:
    from sandbox.envfile import parse_env

    before_nacls, before_db = nacls(sandbox), writer(sandbox)
    before_instances = instances(sandbox)
    ledger = tmp_path / "l.jsonl"
    process = _start(sandbox, tmp_path, GAMEDAY_AZ=before_db["az"])
    try:
        wait_until(lambda: set(SCENARIO_FAULTS) <= _faults_applied(ledger),
                   timeout=90, interval=0.1, what="both faults applied")  # fmt: skip
    finally:
        os.killpg(process.pid, 9)
        process.wait(timeout=30)
    assert nacls(sandbox) != before_nacls
    env = {**_env(), **parse_env((tmp_path / "run.env").read_text())}
    done = subprocess.run(
        [sys.executable, "-m", "gameday", "recover", "--ledger", str(ledger)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert _undo_order(ledger) == ["rds-failover", "ec2-stop", "az-blackhole"]
    _one_run(ledger)
    _back(sandbox, before_nacls, before_instances)
    assert writer(sandbox)["status"] == "available"  # the recover waited for it
    assert postgres_markers(sandbox) == 0


# -- the three injections in the background: injected concurrently ---------------------

INJECTIONS = (
    "blackhole-availability-zone",
    "stop-api-instances-of-the-az",
    "failover-rds-writer-if-in-az",
)


def _concurrent_experiment(tmp_path: Path) -> Path:
    """The scenario with ``background: true`` on its three fault actions: they go in
    together, and the wait for recovery (the next step in the foreground) starts once
    all three have ended (the safety control joins them)."""
    document = yaml.safe_load(EXPERIMENT.read_text())
    for activity in document["method"]:
        if activity["name"] in INJECTIONS:
            activity["background"] = True
    path = tmp_path / "az-power-interruption-concurrent.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_background_fault_actions_go_in_together_and_are_joined_and_undone(
    sandbox: Any, tmp_path: Path
) -> None:
    from datetime import datetime

    before_nacls, before_db = nacls(sandbox), writer(sandbox)
    before_instances = instances(sandbox)
    az = before_db["az"]
    result = _run(sandbox, tmp_path, _concurrent_experiment(tmp_path), GAMEDAY_AZ=az)
    assert result["status"] == "completed" and result["deviated"] is False
    _back(sandbox, before_nacls, before_instances)
    assert writer(sandbox)["az"] == before_db["secondary"]  # failed over once

    runs = {r["activity"]["name"]: r for r in result["run"]}
    injected = [runs[name] for name in INJECTIONS]
    assert all(r["status"] == "succeeded" for r in injected)
    starts = [datetime.fromisoformat(r["start"]) for r in injected]
    ends = [datetime.fromisoformat(r["end"]) for r in injected]
    assert max(starts) < min(ends), (starts, ends)  # each began before any had ended
    # joined: the wait for recovery began once the last injection had ended
    waited = datetime.fromisoformat(runs["wait-for-recovery-of-both-services"]["start"])
    assert waited >= max(ends)
    recovery = result["recovery"]
    steps = {s["fault"]: s for s in recovery["scenario"]["steps"]}
    assert set(steps) == {"az-blackhole", "ec2-stop", "rds-failover"}
    assert all(not s["skipped"] and s["reverted_s"] is not None for s in steps.values())
    assert min(s["applied_s"] for s in steps.values()) == 0.0  # t0: the first to go in
    services = recovery["services"]
    assert services["ticket-api"]["rto"]["met"] is True
    assert services["rds-analytics"]["rto"]["met"] is True


def test_sigterm_while_the_background_injections_run_leaves_nothing(
    sandbox: Any, tmp_path: Path
) -> None:
    """Chaos Toolkit waits for the background actions before its rollbacks; the undo
    that follows finds every change they recorded, and refuses any they would start."""
    before_nacls, before_db = nacls(sandbox), writer(sandbox)
    before_instances = instances(sandbox)
    ledger = tmp_path / "l.jsonl"
    process = _start(
        sandbox, tmp_path, _concurrent_experiment(tmp_path), GAMEDAY_AZ=before_db["az"]
    )
    try:
        wait_until(lambda: bool(_faults_applied(ledger) & set(SCENARIO_FAULTS)),
                   timeout=90, interval=0.02, what="a fault applied")  # fmt: skip
        os.killpg(process.pid, 15)
        process.wait(timeout=150)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, 9)
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["safety"]["all_reverted"] is True, journal["safety"]
    _one_run(ledger)
    _back(sandbox, before_nacls, before_instances)
    wait_until(lambda: writer(sandbox)["status"] == "available", timeout=60, interval=0.2,
               what="the DB available")  # fmt: skip
