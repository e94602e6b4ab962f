"""rds-failover: actions, plans, refusals, the completion probe and the ledger undo."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from pathlib import Path

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.mutation import fault_stamps
from chaosaws_ext.rds import actions, probes
from chaosaws_ext.runcontext import RunContext
from chaosaws_ext.undo import replay
from sandbox.behaviour.rds_failover import (
    MSG_INSTANCE_FAILOVER_COMPLETED,
    MSG_INSTANCE_FAILOVER_STARTED,
    RdsFailoverEmulator,
)
from tests.conftest import REGION
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable

WINDOW = 0.3
CONFIG = {"aws_region": REGION}
POLL = 0.02
CHAOS = chaos_executable()


@pytest.fixture
def api_calls(rds: boto3.client) -> list[str]:
    """Every RDS operation our code sends (through the shared client factory)."""
    calls: list[str] = []
    client = aws_client("rds", CONFIG)
    client.meta.events.register("before-call.rds.*", lambda model, **_: calls.append(model.name))
    return calls


def create_instance(rds: boto3.client, name: str = "production-analytics-db", **extra) -> None:
    rds.create_db_instance(
        DBInstanceIdentifier=name,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
        **{"MultiAZ": True, **extra},
    )


def create_cluster(rds: boto3.client, name: str = "aurora", readers: int = 1) -> None:
    rds.create_db_cluster(
        DBClusterIdentifier=name,
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
    )
    azs = ("eu-south-1a", "eu-south-1b", "eu-south-1c")
    for index in range(readers + 1):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-{index}",
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            AvailabilityZone=azs[index % 3],
        )


def writer_of(rds: boto3.client, cluster: str) -> list[str]:
    found = rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
    return [m["DBInstanceIdentifier"] for m in found["DBClusterMembers"] if m["IsClusterWriter"]]


def only_reads(calls: list[str]) -> bool:
    return all(name.startswith(("Describe", "List")) for name in calls)


def test_instance_failover_end_to_end_in_process(
    rds: boto3.client, emulator: RdsFailoverEmulator, run_context: RunContext, api_calls
) -> None:
    create_instance(rds)
    db = "production-analytics-db"
    assert probes.db_instance_multi_az_available(db, configuration=CONFIG) is True

    injected = actions.failover_db_instance(db, configuration=CONFIG)

    assert injected["writer_az_before"] == "eu-south-1a"
    assert injected["db"] == db and injected["fault"] == "rds-failover"
    state = rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]
    assert state["DBInstanceStatus"] == "rebooting"
    assert api_calls.count("RebootDBInstance") == 1
    assert [s.event for s in fault_stamps()] == ["injected"]

    report = probes.wait_for_failover_completion(
        db_instance_identifier=db,
        timeout=10,
        poll_interval=POLL,
        settled_poll_interval=POLL,
        configuration=CONFIG,
    )

    state = rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]
    assert (state["DBInstanceStatus"], state["AvailabilityZone"]) == ("available", "eu-south-1b")
    assert state["SecondaryAvailabilityZone"] == "eu-south-1a"
    assert report["writer_az_before"] == "eu-south-1a"
    assert report["writer_az_after"] == "eu-south-1b"
    assert report["secondary_az_after"] == "eu-south-1a"
    assert report["changed"] is True and report["left_available"] is True
    # t0 is stamped when the call returned, just after the emulated window began
    assert WINDOW - 0.1 <= report["control_plane_s"] < WINDOW + 1.0  # generous upper bound
    messages = [e["message"] for e in report["events"]]
    assert messages[0] == MSG_INSTANCE_FAILOVER_STARTED
    assert messages[-1] == MSG_INSTANCE_FAILOVER_COMPLETED
    assert "DB instance created" not in messages  # only the window since the injection

    # the ledger holds one entry whose undo waits for availability, then is reverted
    ledger = Ledger(run_context.ledger_path)
    (entry,) = ledger.unreverted()
    assert entry.resource == f"db-instance:{db}" and entry.outcome == "applied"
    assert entry.undo["undoer"] == "rds-failover.wait-available"
    rolled_back = actions.wait_for_db_available(
        db_instance_identifier=db, timeout=5, poll_interval=POLL, configuration=CONFIG
    )
    assert rolled_back["reverted"] == 1 and rolled_back["status"] == "available"
    assert ledger.unreverted() == []
    assert [s.event for s in fault_stamps()] == ["injected", "reverted"]


def test_undo_replay_waits_for_availability(
    rds: boto3.client, emulator: RdsFailoverEmulator, run_context: RunContext
) -> None:
    """`gameday recover` replays the no-op undo: it waits instead of failing."""
    create_instance(rds)
    actions.failover_db_instance("production-analytics-db", configuration=CONFIG)
    ledger = Ledger(run_context.ledger_path)
    (entry,) = ledger.entries()
    entry.undo["args"]["poll_interval"] = POLL  # as if recorded with a fast poll
    from chaosaws_ext.undo import undo_entry

    detail = undo_entry(entry, CONFIG, None)
    assert detail["status"] == "available"
    state = rds.describe_db_instances(DBInstanceIdentifier="production-analytics-db")
    assert state["DBInstances"][0]["DBInstanceStatus"] == "available"
    results = replay(ledger, CONFIG)  # idempotent: DB already available
    assert [r["ok"] for r in results] == [True]
    assert ledger.unreverted() == []


def test_cluster_failover_without_target_picks_the_reader(
    rds: boto3.client, emulator: RdsFailoverEmulator, api_calls
) -> None:
    create_cluster(rds)
    assert writer_of(rds, "aurora") == ["aurora-0"]

    injected = actions.failover_db_cluster("aurora", configuration=CONFIG)

    assert injected["target_instance"] == "aurora-1"
    assert injected["writer_instance_before"] == "aurora-0"
    assert injected["writer_az_before"] == "eu-south-1a"
    assert "FailoverDBCluster" in api_calls
    report = probes.wait_for_failover_completion(
        db_cluster_identifier="aurora",
        timeout=10,
        poll_interval=POLL,
        settled_poll_interval=POLL,
        configuration=CONFIG,
    )
    assert writer_of(rds, "aurora") == ["aurora-1"]
    assert report["writer_instance_before"] == "aurora-0"
    assert report["writer_instance_after"] == "aurora-1"
    assert (report["writer_az_before"], report["writer_az_after"]) == (
        "eu-south-1a",
        "eu-south-1b",
    )
    assert report["changed"] is True and report["status"] == "available"
    # t0 is stamped when the call returned, just after the emulated window began
    assert WINDOW - 0.1 <= report["control_plane_s"] < WINDOW + 1.0  # generous upper bound
    assert [e["message"] for e in report["events"]] == [
        "Started cross AZ failover to DB instance: aurora-1",
        "Completed failover to DB instance: aurora-1",
    ]


def _set_status(db_id: str, status: str) -> None:
    """What AWS shows and moto does not: the demoted writer rebooting after the cluster
    itself is back to ``available``."""
    from moto.rds.models import rds_backends

    rds_backends["123456789012"][REGION].databases[db_id].status = status


def test_cluster_failover_waits_for_every_member_instance(
    rds: boto3.client, emulator: RdsFailoverEmulator
) -> None:
    create_cluster(rds)
    actions.failover_db_cluster("aurora", configuration=CONFIG)
    _set_status("aurora-0", "rebooting")
    released: list[float] = []

    def release() -> None:
        released.append(time.monotonic())
        _set_status("aurora-0", "available")

    timer = threading.Timer(WINDOW + 0.5, release)  # after the cluster is available
    timer.start()
    try:
        report = probes.wait_for_failover_completion(
            db_cluster_identifier="aurora",
            timeout=10,
            poll_interval=POLL,
            settled_poll_interval=POLL,
            configuration=CONFIG,
        )
        returned = time.monotonic()
    finally:
        timer.cancel()
    assert released and returned >= released[0]
    states = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": ["aurora"]}])
    assert {db["DBInstanceStatus"] for db in states["DBInstances"]} == {"available"}
    assert report["status"] == "available" and report["writer_instance_after"] == "aurora-1"


def test_a_member_that_never_comes_back_is_named_when_the_wait_ends(
    rds: boto3.client, emulator: RdsFailoverEmulator
) -> None:
    create_cluster(rds)
    actions.failover_db_cluster("aurora", configuration=CONFIG)
    _set_status("aurora-0", "rebooting")
    with pytest.raises(ActivityFailed) as raised:
        probes.wait_for_failover_completion(
            db_cluster_identifier="aurora",
            timeout=WINDOW + 0.5,
            poll_interval=POLL,
            settled_poll_interval=POLL,
            configuration=CONFIG,
        )
    assert re.fullmatch(
        r"db-cluster 'aurora' is available, its instance\(s\) not: aurora-0 'rebooting', "
        r"after waiting \d+\.\ds; check them in the RDS console",
        str(raised.value),
    ), str(raised.value)


def test_polling_slows_down_once_the_failover_is_seen(
    rds: boto3.client, emulator: RdsFailoverEmulator, api_calls
) -> None:
    create_instance(rds)
    db = "production-analytics-db"
    actions.failover_db_instance(db, configuration=CONFIG)
    api_calls.clear()
    report = probes.wait_for_failover_completion(
        db_instance_identifier=db,
        timeout=10,
        poll_interval=POLL,  # would be WINDOW / POLL = 15 reads
        settled_poll_interval=0.2,
        configuration=CONFIG,
    )
    reads = api_calls.count("DescribeDBInstances")
    # first read + the waiter every 0.2 s over the 0.3 s window + the final read(s)
    assert reads <= 6, api_calls
    assert report["resolution_s"] == 0.2 and report["transition_poll_s"] == POLL


def test_cluster_plan_prefers_best_tier_in_another_az(rds: boto3.client) -> None:
    from chaosaws_ext.rds.targets import plan_cluster_failover

    create_cluster(rds, readers=3)  # aurora-1 b, aurora-2 c, aurora-3 a (same AZ as writer)
    plan = plan_cluster_failover("aurora", configuration=CONFIG)
    assert plan.target == "rds:aurora"
    assert plan.details["target_db_instance_identifier"] == "aurora-1"
    assert plan.details["writer_instance_before"] == "aurora-0"
    assert plan.changes[0].kind == "db-cluster"


@pytest.mark.parametrize(
    ("setup", "call", "message"),
    [
        (
            lambda rds: create_instance(rds, "single", MultiAZ=False),
            lambda: actions.failover_db_instance("single", configuration=CONFIG),
            "refusing rds-failover: DB instance 'single' is single-AZ",
        ),
        (
            lambda rds: None,
            lambda: actions.failover_db_instance("nope", configuration=CONFIG),
            "refusing rds-failover: no DB instance 'nope' in eu-south-1",
        ),
        (
            lambda rds: create_cluster(rds, readers=0),
            lambda: actions.failover_db_cluster("aurora", configuration=CONFIG),
            "refusing rds-failover: DB cluster 'aurora' has no reader instance",
        ),
        (
            lambda rds: None,
            lambda: actions.failover_db_cluster("nope", configuration=CONFIG),
            "refusing rds-failover: no DB cluster 'nope' in eu-south-1",
        ),
        (
            lambda rds: create_cluster(rds),
            lambda: actions.failover_db_cluster("aurora", "aurora-0", configuration=CONFIG),
            "refusing rds-failover: 'aurora-0' is already the writer",
        ),
        (
            lambda rds: create_cluster(rds),
            lambda: actions.failover_db_instance("aurora-1", configuration=CONFIG),
            "belongs to cluster 'aurora'; use failover_db_cluster",
        ),
        (
            lambda rds: create_instance(
                rds, "guarded", Tags=[{"Key": "chaos:protected", "Value": "true"}]
            ),
            lambda: actions.failover_db_instance("guarded", configuration=CONFIG),
            "guarded carries the protection tag",
        ),
    ],
    ids=[
        "single-az",
        "unknown",
        "no-reader",
        "unknown-cluster",
        "target-is-writer",
        "cluster-member",
        "protected",
    ],
)
def test_refusals_are_one_line_and_read_only(
    rds: boto3.client,
    emulator: RdsFailoverEmulator,
    run_context: RunContext,
    api_calls: list[str],
    setup,
    call,
    message: str,
) -> None:
    setup(rds)
    with pytest.raises(ActivityFailed) as raised:
        call()
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert api_calls and only_reads(api_calls), api_calls
    assert not Ledger(run_context.ledger_path).entries()
    assert fault_stamps() == []


def test_instance_not_available_is_refused(
    rds: boto3.client, emulator: RdsFailoverEmulator, api_calls: list[str]
) -> None:
    create_instance(rds)
    rds.reboot_db_instance(DBInstanceIdentifier="production-analytics-db")  # test's own call
    with pytest.raises(ActivityFailed, match="is 'rebooting', not 'available'"):
        actions.failover_db_instance("production-analytics-db", configuration=CONFIG)
    assert only_reads(api_calls), api_calls
    assert emulator.wait_idle(timeout=5)


def test_probe_with_before_values_as_arguments(
    rds: boto3.client, emulator: RdsFailoverEmulator
) -> None:
    """A probe in another process gets the before-values from the action's result."""
    create_instance(rds)
    rds.reboot_db_instance(DBInstanceIdentifier="production-analytics-db", ForceFailover=True)
    report = probes.wait_for_failover_completion(
        db_instance_identifier="production-analytics-db",
        writer_az_before="eu-south-1a",
        timeout=10,
        poll_interval=POLL,
        settled_poll_interval=POLL,
        configuration=CONFIG,
    )
    assert report["changed"] is True and report["writer_az_after"] == "eu-south-1b"


def test_probe_handles_status_still_available_after_the_call(rds: boto3.client) -> None:
    """Without the emulator (moto: nothing happens) the probe ends, bounded, changed=False."""
    create_instance(rds)
    report = probes.wait_for_failover_completion(
        db_instance_identifier="production-analytics-db",
        writer_az_before="eu-south-1a",
        timeout=5,
        transition_timeout=0.2,
        poll_interval=0.05,
        settled_poll_interval=0.05,
        configuration=CONFIG,
    )
    assert report["changed"] is False and report["left_available"] is False
    assert report["status"] == "available"


def test_probe_times_out_with_one_line(rds: boto3.client, mocked_aws: None) -> None:
    emulator = RdsFailoverEmulator(failover_seconds=30).install()
    try:
        create_instance(rds)
        rds.reboot_db_instance(DBInstanceIdentifier="production-analytics-db", ForceFailover=True)
        with pytest.raises(ActivityFailed, match="still 'rebooting' after 0.2s"):
            probes.wait_for_failover_completion(
                db_instance_identifier="production-analytics-db",
                writer_az_before="eu-south-1a",
                timeout=0.2,
                poll_interval=0.05,
                settled_poll_interval=0.05,
                configuration=CONFIG,
            )
    finally:
        emulator.uninstall()


def test_probe_needs_exactly_one_db(rds: boto3.client) -> None:
    with pytest.raises(ActivityFailed, match="exactly one"):
        probes.wait_for_failover_completion(configuration=CONFIG)


def test_the_experiment_validates_with_the_example_env() -> None:
    """`chaos validate` has no --var-file in chaostoolkit 1.19: load the .env as chaos run
    --var-file would (KEY=VALUE lines into the environment)."""
    root = REPO
    env = {"PATH": os.environ["PATH"], "HOME": str(Path.home())}
    for line in (root / "experiments/env/staging.example.env").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            env[key] = value
    assert {"GAMEDAY_DB_INSTANCE", "GAMEDAY_DB_DSN", "GAMEDAY_FAILOVER_TIMEOUT"} <= set(env)
    done = subprocess.run(
        [CHAOS, "--no-log-file", "validate", str(root / "experiments/rds-forced-failover.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
