"""Several services measured in one run, each against its own targets.yaml row, and a
composed method's fault steps on one time axis (``recovery.services``,
``recovery.scenario``), through the measurement control's hooks as chaos calls them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from chaoslib.exceptions import ActivityFailed, InterruptExecution

from chaosaws_ext.controls import measurement as control
from chaosaws_ext.core.recovery_schema import problems
from chaosaws_ext.core.timeline import (
    fault_stamps,
    mark_phase,
    stamp_injected,
    stamp_reverted,
    stamp_skipped,
)
from chaosaws_ext.core.waiting import wait_until
from chaosaws_ext.runcontext import RunContext
from probes import session as measurement
from probes.activities import rpo_within_target, rto_within_target, wait_for_recovery
from probes.outage_servers import SwitchableServer
from probes.scenario_block import INTERRUPTED
from probes.spec import parse_spec

INTERVAL = 0.05
SKIP_REASON = "no instance tagged chaos:az-api=eu-south-1a"


@pytest.fixture
def servers() -> Iterator[tuple[SwitchableServer, SwitchableServer]]:
    api, db = SwitchableServer().start(), SwitchableServer().start()
    yield api, db
    api.stop()
    db.stop()


def _arguments(api: SwitchableServer, db: SwitchableServer) -> dict[str, Any]:
    return {
        "service": "ticket-api",
        "interval_s": INTERVAL,
        "recovery_window_s": 0.2,
        "services": {"rds-analytics": {"recovery_window_s": 0}},
        "samplers": [
            {"name": "api", "kind": "http", "url": api.url},
            {"name": "db", "kind": "tcp", "host": "127.0.0.1", "port": db.port,
             "service": "rds-analytics"},
        ],
    }  # fmt: skip


def _action(name: str, run: Any, output: dict[str, Any] | None = None) -> None:
    """One method action as chaos runs it: the control's hooks around the call."""
    activity = {"type": "action", "name": name, "provider": {"module": "m", "func": name}}
    control.before_activity_control(activity)
    run()
    state = {"status": "succeeded", "output": output or {}}
    control.after_activity_control(activity, state=state)


def _settle(session: measurement.MeasurementSession) -> None:
    """Three settled samples per service first (bounded: fails rather than go on)."""
    wait_until(
        lambda: all(len(s.samplers[0].settled()) >= 3 for s in session.sessions()) or None,
        timeout=5,
        interval=0.01,
        what="3 settled samples per service",
    )


def _begin(
    servers: tuple[SwitchableServer, SwitchableServer], run_context: RunContext
) -> tuple[dict[str, Any], measurement.MeasurementSession | None]:
    """The measurement control started as chaos starts it, up to the method: the
    configuration it was given and its session."""
    api, db = servers
    config = {"chaos_ledger_path": str(run_context.ledger_path)}
    arguments = _arguments(api, db)
    fault_stamps(clear=True)
    control.configure_control(config, {})
    control.before_experiment_control({}, config, {}, **arguments)
    control.before_method_control({}, config, {}, **arguments)
    return config, measurement.current()


def test_two_services_each_judged_and_every_step_on_one_axis(
    servers: tuple[SwitchableServer, SwitchableServer], run_context: RunContext
) -> None:
    api, db = servers
    config, session = _begin(servers, run_context)
    assert session is not None and [s.spec.service for s in session.sessions()] == [
        "ticket-api",
        "rds-analytics",
    ]
    _settle(session)
    t0: list[float] = []

    def blackhole() -> None:
        t0.append(stamp_injected("az-blackhole").monotonic)
        api.down()

    _action("blackhole", blackhole)
    _action("stop-api", lambda: stamp_skipped("ec2-stop", SKIP_REASON),
            {"skipped": True, "reason": SKIP_REASON})  # fmt: skip
    _action("rds", lambda: (stamp_injected("rds-failover"), db.down()))
    time.sleep(0.4)
    db.up()
    db_up = time.monotonic()
    mark_phase("control_plane", fault="rds-failover")
    time.sleep(0.3)
    api.up()
    api_up = time.monotonic()
    waited = wait_for_recovery(timeout=10, quiet_period=10)
    assert waited["outage"] is True and set(waited["services"]) == {"ticket-api", "rds-analytics"}
    _action("end-blackhole", lambda: stamp_reverted("az-blackhole"))
    stamp_reverted("rds-failover")  # its rollback: available again
    control.after_method_control({})

    db_rto = rto_within_target(service="rds-analytics")
    api_rto = rto_within_target()
    # each from the scenario's t0 (the first injection), within a sampling interval
    assert db_rto["service"] == "rds-analytics" and api_rto["service"] == "ticket-api"
    assert db_up - t0[0] - INTERVAL <= db_rto["measured_s"] <= db_up - t0[0] + 3 * INTERVAL
    assert api_up - t0[0] - INTERVAL <= api_rto["measured_s"] <= api_up - t0[0] + 6 * INTERVAL
    assert db_rto["met"] is True and api_rto["target_s"] == 300 and api_rto["bound"] == "<"
    assert rpo_within_target(service="rds-analytics")["reason"] == (
        "RPO not measured: no markers configured"
    )
    with pytest.raises(ActivityFailed, match="'dynamodb' is not measured in this run"):
        rto_within_target(service="dynamodb")

    journal: dict[str, Any] = {}
    control.after_experiment_control({}, state=journal, configuration=config)
    block = json.loads(json.dumps(journal["recovery"]))
    assert problems(block) == []
    services = block["services"]
    assert set(services) == {"ticket-api", "rds-analytics"}
    assert services["ticket-api"]["rto"]["measured_s"] == block["rto"]["measured_s"]
    assert services["rds-analytics"]["rto"]["measured_s"] == db_rto["measured_s"]
    assert services["rds-analytics"]["target"]["rpo_s"] == 300
    assert services["ticket-api"]["target"]["rpo_s"] == 0
    assert services["rds-analytics"]["samplers"] == ["db"]

    steps = block["scenario"]["steps"]
    assert [(s["action"], s["fault"], s["skipped"]) for s in steps] == [
        ("blackhole", "az-blackhole", False),
        ("stop-api", "ec2-stop", True),
        ("rds", "rds-failover", False),
    ]
    hole, stop_api, rds = steps
    assert hole["applied_s"] == 0.0 and hole["reverted_s"] > api_rto["measured_s"]
    assert stop_api["reason"] == SKIP_REASON and stop_api["applied_at"] is None
    assert 0 <= rds["applied_s"] < db_rto["measured_s"] <= rds["reverted_s"]
    assert [p["name"] for p in rds["phases"]] == ["control_plane"]
    assert abs(rds["phases"][0]["at_s"] - (db_up - t0[0])) < 0.05
    assert block["scenario"]["t0"] == block["fault"]["injected_at"]
    measurement.clear()


def test_spec_groups_samplers_by_service_and_names_mistakes() -> None:
    base = {
        "service": "ticket-api",
        "samplers": [
            {"name": "api", "kind": "tcp", "host": "127.0.0.1", "port": 9},
            {"name": "db", "kind": "tcp", "host": "127.0.0.1", "port": 9,
             "service": "rds-analytics"},
        ],
    }  # fmt: skip
    spec = parse_spec(json.loads(json.dumps(base)))
    assert [s.service for s in spec.all_specs()] == ["ticket-api", "rds-analytics"]
    assert spec.children[0].target.rto_s == 300 and spec.target.rpo_s == 0
    bad = json.loads(json.dumps(base))
    bad["samplers"][1]["name"] = "api"
    with pytest.raises(Exception, match="name 'api' is used twice"):
        parse_spec(bad)
    bad = {**json.loads(json.dumps(base)), "markers": {"kind": "postgres", "dsn": "x",
                                                       "service": "dynamodb"}}  # fmt: skip
    with pytest.raises(Exception, match="service 'dynamodb' has markers but no sampler"):
        parse_spec(bad)
    bad = {**json.loads(json.dumps(base)), "services": {"rds-analytics": {"k": 1}}}
    with pytest.raises(Exception, match=r"services.rds-analytics: unknown key 'k'"):
        parse_spec(bad)
    bad = json.loads(json.dumps(base))
    bad["samplers"][1]["service"] = "no-such-service"
    with pytest.raises(Exception, match="no-such-service"):
        parse_spec(bad)


def test_a_bad_service_spec_interrupts_before_the_method() -> None:
    control.configure_control({}, {})
    with pytest.raises(InterruptExecution, match="has markers but no sampler"):
        control.before_experiment_control(
            {},
            {},
            {},
            service="ticket-api",
            samplers=[{"kind": "tcp", "host": "127.0.0.1", "port": 9}],
            markers=[{"kind": "postgres", "dsn": "x", "service": "rds-analytics"}],
        )
    measurement.clear()


def test_an_action_interrupted_before_its_end_is_still_a_step(
    servers: tuple[SwitchableServer, SwitchableServer], run_context: RunContext
) -> None:
    config, session = _begin(servers, run_context)
    assert session is not None
    _settle(session)
    activity = {"type": "action", "name": "blackhole", "provider": {"module": "m", "func": "f"}}
    control.before_activity_control(activity)
    stamp_injected("az-blackhole")  # then Ctrl-C: chaos never calls the after-activity hook
    stamp_reverted("az-blackhole")  # the safety control's undo
    control.after_method_control({})
    journal: dict[str, Any] = {}
    control.after_experiment_control({}, state=journal, configuration=config)
    (step,) = journal["recovery"]["scenario"]["steps"]
    assert step["action"] == INTERRUPTED and step["fault"] == "az-blackhole"
    assert step["applied_s"] == 0.0 and step["reverted_s"] is not None
    measurement.clear()
