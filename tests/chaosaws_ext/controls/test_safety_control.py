"""Every ending of a real ``chaos run`` restores the environment (fake file fault)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import boto3
import pytest
import yaml

from chaosaws_ext.ledger import Ledger
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable
from tests.helpers.moto_cloudwatch import strict_cloudwatch

ROOT = REPO
CHAOS = chaos_executable()
pytestmark = pytest.mark.e2e


def _experiment(
    tmp_path: Path,
    hold: float = 30,
    fail: bool = False,
    stop_alarms: str = "",
    inline_secret: str | None = None,
    inject: str = "inject_file_fault",
    rollbacks: bool = True,
) -> Path:
    method = [
        {
            "type": "action",
            "name": "inject",
            "provider": {
                "type": "python",
                "module": "tests.helpers.fakefault",
                "func": "fail_to_inject" if fail else inject,
                "arguments": {} if fail else {"state_file": "${state_file}"},
            },
        },
        {
            "type": "action",
            "name": "hold",
            "provider": {
                "type": "python",
                "module": "tests.helpers.fakefault",
                "func": "hold",
                "arguments": {"seconds": hold},
            },
        },
    ]
    experiment = {
        "version": "1.0.0",
        "title": "fake fault under the safety control",
        "description": "test",
        "configuration": {
            "chaos_ledger_path": {"type": "env", "key": "GAMEDAY_LEDGER"},
            "max_fault_seconds": {
                "type": "env",
                "key": "GAMEDAY_MAX_FAULT_SECONDS",
                "default": "900",
                "env_var_type": "int",
            },
            "state_file": {"type": "env", "key": "FAKE_STATE"},
            "aws_region": "eu-south-1",
        },
        "controls": [
            {
                "name": "safety",
                "provider": {
                    "type": "python",
                    "module": "chaosaws_ext.controls.safety",
                    "arguments": {"stop_alarms": stop_alarms, "stop_poll_interval": 0.2},
                },
            }
        ],
        "method": method,
        "rollbacks": []
        if not rollbacks
        else [
            {
                "type": "action",
                "name": "restore",
                "provider": {
                    "type": "python",
                    "module": "tests.helpers.fakefault",
                    "func": "restore_file_fault",
                },
            }
        ],
    }
    if inline_secret:
        experiment["secrets"] = {"db": {"password": inline_secret}}
        method[1]["provider"]["arguments"]["seconds"] = 0
        method.append(
            {
                "type": "probe",
                "name": "echo",
                "provider": {
                    "type": "python",
                    "module": "tests.helpers.fakefault",
                    "func": "echo",
                    "secrets": ["db"],
                    "arguments": {"text": "${password}"},
                },
            }
        )
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    return path


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as nohup/cron/CI scripts start jobs


def _start(
    tmp_path: Path, experiment: Path, sigint_ignored: bool = False, **env: str
) -> subprocess.Popen[str]:
    state = tmp_path / "state"
    state.write_text("normal")
    full_env = dict(os.environ)
    full_env.update(
        {
            "GAMEDAY_LEDGER": str(tmp_path / "ledger.jsonl"),
            "FAKE_STATE": str(state),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    full_env.update(env)
    return subprocess.Popen(
        [
            CHAOS,
            "--no-version-check",
            "--log-file",
            str(tmp_path / "chaos.log"),
            "run",
            "--journal-path",
            str(tmp_path / "journal.json"),
            str(experiment),
        ],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ignore_sigint if sigint_ignored else None,
    )


def _wait_for_injection(tmp_path: Path, timeout: float = 60) -> None:
    ledger = Ledger(tmp_path / "ledger.jsonl")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (tmp_path / "state").read_text() == "faulted" and ledger.entries():
            return
        time.sleep(0.05)
    raise AssertionError("the fault was never injected")


def _finish(process: subprocess.Popen[str], timeout: float = 90) -> int:
    try:
        process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode


def _journal(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "journal.json").read_text())


def _assert_restored(tmp_path: Path) -> None:
    assert (tmp_path / "state").read_text() == "normal"
    assert Ledger(tmp_path / "ledger.jsonl").unreverted() == []


def test_normal_end_restores_and_exits_zero(tmp_path: Path) -> None:
    process = _start(tmp_path, _experiment(tmp_path, hold=0))
    assert _finish(process) == 0
    _assert_restored(tmp_path)
    journal = _journal(tmp_path)
    assert journal["status"] == "completed"
    assert journal["safety"]["all_reverted"] is True


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_the_method_undoes_and_exits_non_zero(tmp_path: Path, sig: int) -> None:
    process = _start(tmp_path, _experiment(tmp_path, hold=60))
    _wait_for_injection(tmp_path)
    process.send_signal(sig)
    try:
        out, _ = process.communicate(timeout=90)  # stderr goes to stdout
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    assert process.returncode == 1, out
    _assert_restored(tmp_path)
    journal = _journal(tmp_path)
    # on failure: chaos's own account of the ending (seen once in CI as "aborted")
    assert journal["status"] == "interrupted", (journal.get("safety"), out[-4000:])


def test_dead_mans_switch_undoes_after_the_maximum_fault_duration(tmp_path: Path) -> None:
    process = _start(tmp_path, _experiment(tmp_path, hold=60), GAMEDAY_MAX_FAULT_SECONDS="1")
    _wait_for_injection(tmp_path)
    started = time.monotonic()
    assert _finish(process) == 1
    assert time.monotonic() - started < 30  # not the 60 s hold
    _assert_restored(tmp_path)
    journal = _journal(tmp_path)
    assert journal["status"] == "aborted"
    assert "maximum fault duration reached (1s)" in journal["safety"]["abort"]["reason"]


def test_a_failed_fault_action_fails_the_run(tmp_path: Path) -> None:
    process = _start(tmp_path, _experiment(tmp_path, hold=0, fail=True))
    assert _finish(process) == 1
    journal = _journal(tmp_path)
    assert journal["status"] == "failed"
    assert "refusing fake: no such target" in journal["safety"]["failed_actions"][0]


def test_sigkill_leaves_a_ledger_that_gameday_recover_finishes(tmp_path: Path) -> None:
    process = _start(tmp_path, _experiment(tmp_path, hold=60))
    _wait_for_injection(tmp_path)
    process.kill()
    process.wait(timeout=30)
    assert (tmp_path / "state").read_text() == "faulted"
    assert not (tmp_path / "journal.json").exists()
    recover = subprocess.run(
        [sys.executable, "-m", "gameday", "recover", "--ledger", str(tmp_path / "ledger.jsonl")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "GAMEDAY_EXTRA_UNDO_MODULES": "tests.helpers.fakefault",
        },
    )
    assert recover.returncode == 0, recover.stdout + recover.stderr
    assert "1 unreverted entry found, 0 left" in recover.stdout
    _assert_restored(tmp_path)


def test_inline_secrets_never_reach_the_journal(tmp_path: Path) -> None:
    process = _start(tmp_path, _experiment(tmp_path, inline_secret="p4ssw0rd-inline-xyz"))
    _finish(process)
    text = (tmp_path / "journal.json").read_text()
    assert "p4ssw0rd-inline-xyz" not in text
    assert "***" in text


def test_alarm_entering_alarm_state_aborts_and_restores(tmp_path: Path, moto_endpoint: str) -> None:
    cloudwatch = boto3.client("cloudwatch", region_name="eu-south-1")
    cloudwatch.put_metric_alarm(
        AlarmName="api-5xx",
        MetricName="5XXError",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    process = _start(tmp_path, _experiment(tmp_path, hold=60, stop_alarms="api-5xx"))
    _wait_for_injection(tmp_path)
    cloudwatch.set_alarm_state(AlarmName="api-5xx", StateValue="ALARM", StateReason="test")
    assert _finish(process) == 1
    _assert_restored(tmp_path)
    journal = _journal(tmp_path)
    assert journal["status"] == "aborted"
    abort = journal["safety"]["abort"]
    assert abort["alarm"] == "api-5xx"
    assert 0 <= abort["seconds_to_restore"] < 5


def test_a_composite_alarm_in_another_region_aborts_and_restores(
    tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict_cloudwatch(monkeypatch)  # AWS: composites only with AlarmTypes
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    cloudwatch.put_metric_alarm(
        AlarmName="route53-failing",
        MetricName="HealthCheckStatus",
        Namespace="AWS/Route53",
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )
    cloudwatch.put_composite_alarm(AlarmName="service-down", AlarmRule="ALARM(route53-failing)")
    experiment = _experiment(tmp_path, hold=60, stop_alarms="us-east-1:service-down")
    process = _start(tmp_path, experiment)
    _wait_for_injection(tmp_path)
    cloudwatch.set_alarm_state(AlarmName="service-down", StateValue="ALARM", StateReason="test")
    assert _finish(process) == 1
    _assert_restored(tmp_path)
    abort = _journal(tmp_path)["safety"]["abort"]
    assert (abort["alarm"], abort["alarm_region"]) == ("service-down", "us-east-1")


def test_a_misspelled_stop_alarm_refuses_the_run_before_any_change(
    tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    strict_cloudwatch(monkeypatch)
    boto3.client("cloudwatch", region_name="eu-south-1").put_metric_alarm(
        AlarmName="api-5xx",
        MetricName="5XXError",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    process = _start(tmp_path, _experiment(tmp_path, hold=60, stop_alarms="api-5xx,api-5xxx"))
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 1
    assert (tmp_path / "state").read_text() == "normal"  # the fault never went in
    assert Ledger(tmp_path / "ledger.jsonl").entries() == []
    refusals = [line for line in output.splitlines() if "stop alarm(s) not found" in line]
    assert refusals and "eu-south-1:api-5xxx" in refusals[0]
    assert "api-5xx," not in refusals[0]  # the existing alarm is not named
    assert "Traceback" not in output


def test_a_second_interrupt_during_the_undo_does_not_abandon_it(tmp_path: Path) -> None:
    """Without a terminal to ask, a second Ctrl-C during the undo is refused: the undo
    finishes (with a terminal, the user is asked before abandoning it)."""
    experiment = _experiment(tmp_path, hold=60, inject="inject_slow_undo_fault", rollbacks=False)
    process = _start(tmp_path, experiment)
    _wait_for_injection(tmp_path)
    process.send_signal(signal.SIGINT)
    marker = tmp_path / "state.undo-started"
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists(), "the undo never started"
    process.send_signal(signal.SIGINT)
    assert _finish(process) == 1
    _assert_restored(tmp_path)
    assert _journal(tmp_path)["safety"]["all_reverted"] is True


def test_two_watchers_aborting_together_interrupt_the_method_once(monkeypatch) -> None:
    import threading

    from chaosaws_ext.controls import safety

    interrupts: list[str] = []
    reverts: list[str] = []
    both_in = threading.Barrier(2)

    def slow_revert(*_args: object) -> dict:
        reverts.append("revert")
        return {"undone": 0, "left": [], "ledger": ""}

    monkeypatch.setattr(safety, "_revert", slow_revert)
    monkeypatch.setattr(safety, "_interrupt_main_thread", lambda: interrupts.append("interrupt"))
    guard = safety._Guard()

    def fire(reason: str) -> None:
        both_in.wait(5)
        guard.abort(reason, {}, None)

    threads = [threading.Thread(target=fire, args=(r,)) for r in ("alarm", "dead-man")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)

    assert interrupts == ["interrupt"] and reverts == ["revert"]
    assert guard.abort_reason in ("alarm", "dead-man")


def test_an_abort_stamps_the_faults_it_undid(tmp_path: Path, run_context) -> None:
    from helpers.fakefault import inject_file_fault

    from chaosaws_ext.controls import safety
    from chaosaws_ext.mutation import fault_stamps

    state = tmp_path / "state"
    state.write_text("normal")
    fault_stamps(clear=True)
    inject_file_fault(str(state))

    outcome = safety._revert(safety._Guard(), {}, None, "test abort")

    assert outcome["undone"] == 1 and outcome["left"] == []
    assert state.read_text() == "normal"
    assert [(s.fault, s.event) for s in fault_stamps(clear=True)] == [
        ("fake", "injected"),
        ("fake", "reverted"),
    ]


def test_a_failed_fault_action_stops_the_method_at_once(tmp_path: Path, moto_endpoint: str) -> None:
    experiment = yaml.safe_load(_experiment(tmp_path, hold=60).read_text())
    experiment["method"][0] = {
        "type": "action",
        "name": "failover-unknown-db",
        "provider": {
            "type": "python",
            "module": "chaosaws_ext.rds.actions",
            "func": "failover_db_instance",
            "arguments": {"db_instance_identifier": "no-such-db"},
        },
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    started = time.monotonic()
    process = _start(tmp_path, path)
    assert _finish(process) == 1
    assert time.monotonic() - started < 45  # the 60 s hold after it never ran
    journal = _journal(tmp_path)
    assert journal["status"] == "failed"
    assert [r["activity"]["name"] for r in journal["run"]] == ["failover-unknown-db"]
    assert "no-such-db" in journal["safety"]["failed_actions"][0]


def test_the_dead_mans_switch_stops_a_method_blocked_in_a_process(tmp_path: Path) -> None:
    experiment = yaml.safe_load(_experiment(tmp_path).read_text())
    experiment["method"][1] = {
        "type": "action",
        "name": "hold-in-a-process",
        "provider": {"type": "process", "path": "sleep", "arguments": "60"},
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    process = _start(tmp_path, path, GAMEDAY_MAX_FAULT_SECONDS="1")
    _wait_for_injection(tmp_path)
    started = time.monotonic()
    assert _finish(process) == 1
    assert time.monotonic() - started < 30  # not the 60 s sleep
    _assert_restored(tmp_path)
    assert _journal(tmp_path)["status"] == "aborted"


def test_secrets_from_a_var_file_never_reach_the_journal(tmp_path: Path) -> None:
    experiment = yaml.safe_load(
        _experiment(tmp_path, inline_secret="placeholder-inline-value").read_text()
    )
    experiment["secrets"] = {"db": {"password": "overridden-by-the-var-file"}}
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    var_file = tmp_path / "vars.json"
    var_file.write_text(json.dumps({"secrets": {"db": {"password": "from-var-file-s3cret"}}}))
    state = tmp_path / "state"
    state.write_text("normal")
    env = {
        **os.environ,
        "GAMEDAY_LEDGER": str(tmp_path / "ledger.jsonl"),
        "FAKE_STATE": str(state),
        "PYTHONPATH": str(ROOT),
    }
    done = subprocess.run(
        [
            CHAOS,
            "--no-version-check",
            "--no-log-file",
            "run",
            "--var-file",
            str(var_file),
            "--journal-path",
            str(tmp_path / "journal.json"),
            str(path),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (tmp_path / "journal.json").exists(), done.stdout + done.stderr
    text = (tmp_path / "journal.json").read_text()
    assert "connected with" in text, done.stdout + done.stderr  # the echo ran
    assert "from-var-file-s3cret" not in text


@pytest.mark.parametrize("hold", ["python", "process"])
def test_with_sigint_ignored_the_dead_mans_switch_still_ends_the_method(
    tmp_path: Path, hold: str
) -> None:
    experiment = yaml.safe_load(_experiment(tmp_path, hold=60).read_text())
    if hold == "process":
        experiment["method"][1] = {
            "type": "action",
            "name": "hold-in-a-process",
            "provider": {"type": "process", "path": "sleep", "arguments": "60"},
        }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    process = _start(tmp_path, path, sigint_ignored=True, GAMEDAY_MAX_FAULT_SECONDS="1")
    _wait_for_injection(tmp_path)
    started = time.monotonic()
    assert _finish(process) == 1
    assert time.monotonic() - started < 20  # not the 60 s hold
    _assert_restored(tmp_path)
    journal = _journal(tmp_path)
    assert journal["status"] == "aborted"
    restored = datetime.fromisoformat(journal["safety"]["abort"]["restored_at"])
    ended = datetime.fromisoformat(journal["end"])
    assert (ended - restored).total_seconds() < 10  # the method ended soon after the abort
