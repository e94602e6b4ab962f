"""The measurement control's life cycle, called the way Chaos Toolkit calls it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed, InterruptExecution

from chaosaws_ext.controls import measurement as control
from chaosaws_ext.core.recovery_schema import problems
from chaosaws_ext.core.timeline import mark_phase
from chaosaws_ext.mutation import stamp_injected, stamp_reverted
from probes import activities
from probes import session as measurement
from probes.outage_servers import SwitchableServer


@pytest.fixture
def server() -> Iterator[SwitchableServer]:
    target = SwitchableServer().start()
    yield target
    target.stop()
    measurement.clear()


FREQUENCY_HZ = 20
INTERVAL = 1 / FREQUENCY_HZ  # the figures' resolution: bounds are multiples of it


def arguments(server: SwitchableServer, **extra: Any) -> dict[str, Any]:
    return {
        "service": "rds-analytics",
        "frequency_hz": FREQUENCY_HZ,
        "samplers": [
            {"name": "db", "kind": "http", "url": server.url},
            {
                "name": "replica",
                "kind": "tcp",
                "host": "127.0.0.1",
                "port": server.port,
                "judge": False,
            },
        ],
        **extra,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"service": None}, "argument 'service' is required"),
        ({"service": "nope"}, "'nope' is not in"),
        ({"samplers": []}, "'samplers' must be a non-empty list"),
        ({"samplers": [{"kind": "http", "uri": "x"}]}, r"samplers\[0\]: unknown key 'uri'"),
        ({"samplers": [{"kind": "smtp"}]}, r"samplers\[0\].kind must be one of"),
        ({"frequency_hz": 100}, "frequency_hz must be between"),
        ({"interval_s": 0.1}, "interval_s or frequency_hz, not both"),
        ({"markers": {"kind": "postgres"}}, "markers.dsn is required"),
        ({"markers": {"kind": "kafka"}}, "markers.kind must be one of postgres, dynamodb, s3"),
        ({"markers": {"kind": "ticket-api", "table": "t"}}, "markers.url is required"),
        ({"markers": {"kind": "s3"}}, "markers.bucket is required for s3 markers"),
        ({"colour": "red"}, "unknown argument 'colour'"),
        ({"consecutive": 0}, "consecutive must be between"),
        ({"recovery_window_s": -1}, "recovery_window_s must be between 0 and 3600"),
    ],
)
def test_bad_arguments_interrupt_with_one_clear_line(server, change, message) -> None:
    args = {k: v for k, v in {**arguments(server), **change}.items() if v is not None}
    control.configure_control(configuration={})
    with pytest.raises(InterruptExecution, match=f"^measurement control: .*{message}"):
        control.before_experiment_control({}, configuration={}, **args)


def test_probes_without_the_control_say_so() -> None:
    measurement.clear()
    with pytest.raises(ActivityFailed, match="declare the control"):
        activities.wait_for_recovery(timeout=1)
    with pytest.raises(ActivityFailed, match="declare the control"):
        activities.rto_within_target()


def test_life_cycle_with_a_fault_stamp_phases_and_a_rollback(server, tmp_path: Path) -> None:
    args = arguments(server)
    control.configure_control(configuration={}, **args)
    control.before_experiment_control({"title": "x"}, configuration={}, **args)
    before = activities.rto_within_target()
    assert before["met"] is True and before["phase"] == "before-method"
    control.before_method_control({}, configuration={}, **args)
    session = measurement.current()
    assert session is not None
    deadline = time.monotonic() + 5
    while len(session.samplers[0].settled()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    t0 = stamp_injected("rds-failover")
    server.down()
    time.sleep(0.3)  # the outage under test
    mark_phase("control_plane")
    server.up()
    # an action ending after the stamp must not move t0
    control.after_activity_control({"type": "action", "name": "inject"}, state={})
    result = activities.wait_for_recovery(timeout=5, quiet_period=5)
    assert result["outage"] is True
    control.after_method_control({}, state=[])
    verdict = activities.rto_within_target(service="rds-analytics")
    assert verdict["met"] is True and verdict["target_s"] == 300
    # bounds in sampling intervals (20 Hz): a loaded 2-core machine delays ticks
    assert 0.3 - INTERVAL <= verdict["measured_s"] <= 0.3 + 4 * INTERVAL
    assert activities.rpo_within_target()["met"] is False  # rds-analytics has an RPO target
    stricter = tmp_path / "targets.yaml"
    stricter.write_text(
        "version: 1\nservices:\n  rds-analytics:\n"
        "    rto_s: 0.01\n    rpo_s: 600\n    source: test\n"
    )
    judged = activities.rto_within_target(targets_file=str(stricter))
    assert (judged["target_s"], judged["met"]) == (0.01, False)
    rpo = activities.rpo_within_target(targets_file=str(stricter))
    assert (rpo["target_s"], rpo["met"]) == (600, False)  # a target, but no markers
    stamp_reverted("rds-failover")
    journal: dict[str, Any] = {"status": "completed"}
    control.after_experiment_control({}, state=journal, configuration={})
    block = journal["recovery"]
    assert block["fault"]["name"] == "rds-failover"
    assert block["fault"]["injected_at"] == t0.wall
    assert block["fault"]["t0_source"] == "stamp"
    assert block["fault"]["reverted_at"] is not None
    phases = block["rto"]["phases"]
    assert 0.3 - INTERVAL <= phases["control_plane_s"] <= 0.3 + 4 * INTERVAL
    assert phases["detected_s"] <= 4 * INTERVAL
    assert phases["first_success_s"] == block["rto"]["measured_s"]
    assert phases["full_availability_s"] >= phases["first_success_s"] - 0.001
    assert block["rto"]["by_sampler"]["replica"]["judge"] is False
    assert block["rpo"]["reason"] == "RPO not measured: no markers configured"
    assert block["availability"]["sampler"] == "db"
    environment = dict(block["environment"])
    versions = environment.pop("versions")
    assert environment == {"target": "sandbox", "region": "eu-south-1", "account": None}
    assert versions["chaostoolkit-lib"] and versions["chaosaws-ext"]
    assert block["errors"] == []
    assert problems(block) == []  # chaosaws_ext.core.recovery_schema


def test_after_experiment_writes_the_block_even_when_sampling_never_started(server) -> None:
    args = arguments(server)
    control.configure_control(configuration={})
    control.before_experiment_control({}, configuration={}, **args)
    journal: dict[str, Any] = {}
    control.after_experiment_control({}, state=journal, configuration={})
    block = journal["recovery"]
    assert block["rto"]["met"] is False and block["rto"]["measured_s"] is None
    assert "no t0" in block["rto"]["reason"]
    assert problems(block) == []


def test_sandbox_detection_from_the_endpoint(server, monkeypatch, moto_endpoint) -> None:
    args = arguments(server)
    control.configure_control(configuration={})
    control.before_experiment_control({}, configuration={}, **args)
    session = measurement.current()
    assert session is not None
    monkeypatch.setenv("GAMEDAY_TARGET", "")
    environment = session.environment()
    assert environment["target"] == "sandbox" and environment["account"] == "123456789012"


def test_aws_target_when_the_endpoint_is_remote(monkeypatch, tmp_path: Path) -> None:
    spec = measurement.parse_spec(
        {"service": "lambda", "samplers": [{"kind": "http", "url": "https://api.example.com/"}]}
    )
    session = measurement.MeasurementSession(spec)
    assert session.environment()["target"] == "aws"
    monkeypatch.setenv("GAMEDAY_TARGET", "sandbox")
    assert session.environment()["target"] == "sandbox"


def test_rpo_verdict_without_a_method_says_why_instead_of_crashing() -> None:
    from probes.session import MeasurementSession, parse_spec

    spec = parse_spec(
        {
            "service": "rds-analytics",
            "samplers": [{"name": "db", "kind": "tcp", "host": "127.0.0.1", "port": "9"}],
            "markers": {"kind": "postgres", "dsn": "host=127.0.0.1 port=9"},
        },
        {},
    )
    verdict = MeasurementSession(spec, {}, {}).rpo_verdict()
    assert verdict["met"] is False and verdict["measured_s"] is None
    assert (
        verdict["reason"] == "RPO not measured: the writer never started (the method did not run)"
    )
