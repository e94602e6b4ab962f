"""The dynamodb-conflict fault: conflicting writes, convergence, undo, refusals, e2e."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext import undo
from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.dynamodb import actions, probes
from chaosaws_ext.dynamodb import undo as dynamodb_undo
from chaosaws_ext.ledger import Ledger
from chaosaws_ext.runcontext import RunContext
from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator
from tests.conftest import OTHER_REGION, REGION
from tests.helpers import REPO
from tests.helpers.executables import chaos_executable

ROOT = REPO
TABLE = "support-tickets"
LAG = 0.2
CHAOS = chaos_executable()
READS = ("Describe", "Get", "List", "Scan", "Query", "BatchGet")


@pytest.fixture
def replicator(mocked_aws: None) -> Iterator[GlobalTableReplicator]:
    rep = GlobalTableReplicator(lag_seconds=LAG).start()
    yield rep
    rep.stop()


def _client(region: str):
    return boto3.client("dynamodb", region_name=region)


def _create_table(
    region: str = REGION, name: str = TABLE, range_type: str | None = "S", tags: list | None = None
) -> None:
    schema = [{"AttributeName": "ticket", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "ticket", "AttributeType": "S"}]
    if range_type:
        schema.append({"AttributeName": "version", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "version", "AttributeType": range_type})
    extra: dict[str, Any] = {"Tags": tags} if tags else {}
    _client(region).create_table(
        TableName=name,
        KeySchema=schema,
        AttributeDefinitions=attrs,
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )


def _seed(region: str = REGION, range_type: str = "S") -> None:
    version = {range_type: "1"}
    for n in range(3):
        _client(region).put_item(
            TableName=TABLE,
            Item={"ticket": {"S": f"T-{n}"}, "version": version, "body": {"S": "help"}},
        )
    # looks like ours but is not (no run id attribute): must survive
    _client(region).put_item(
        TableName=TABLE, Item={"ticket": {"S": "chaos-not-ours"}, "version": version}
    )


def _scan(region: str) -> list[dict]:
    items = _client(region).scan(TableName=TABLE, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: json.dumps(i, sort_keys=True))


def _global_table(replicator: GlobalTableReplicator, **table: Any) -> dict[str, list]:
    _create_table(**table)
    _seed(range_type=table.get("range_type") or "S")
    replicator.make_global(TABLE, [REGION, OTHER_REGION])
    return {REGION: _scan(REGION), OTHER_REGION: _scan(OTHER_REGION)}


def _record_mutations(configuration: dict) -> list[str]:
    """Every non-read DynamoDB call of the clients the activities will use."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        if not model.name.startswith(READS):
            calls.append(model.name)

    for region in (REGION, OTHER_REGION):
        aws_client("dynamodb", configuration, None, region=region).meta.events.register(
            "before-call.dynamodb", record
        )
    return calls


def test_conflicting_writes_converge_and_undo_deletes_exactly_ours(
    replicator: GlobalTableReplicator, run_context: RunContext
):
    before = _global_table(replicator)
    assert before[REGION] == before[OTHER_REGION]
    configuration = {"aws_region": REGION}

    result = actions.write_conflicting_items(
        TABLE, keys=2, writes_per_region=5, timeout=20, configuration=configuration
    )

    assert result["regions"] == [REGION, OTHER_REGION]
    assert result["writes"] == result["acknowledged"] == 2 * 2 * 5
    assert result["keys"] == [f"chaos-{run_context.run_id}-1", f"chaos-{run_context.run_id}-2"]
    for region in (REGION, OTHER_REGION):
        ours = [i for i in _scan(region) if i not in before[region]]
        assert sorted(i["ticket"]["S"] for i in ours) == result["keys"]
        assert all(i["chaos_run_id"] == {"S": run_context.run_id} for i in ours)
        assert all(i["version"] == {"S": "chaos-conflict"} for i in ours)
        assert [i for i in _scan(region) if i in before[region]] == before[region]

    report = probes.wait_for_convergence(timeout=10, interval=0.02, configuration=configuration)

    assert report["converged"] is True, report
    assert report["mode"] == "EVENTUAL"
    assert report["lww_consistent"] is True
    # measured, not judged here (a busy CI machine delays the replicator thread)
    assert 0 <= report["time_to_converge_s"] < 10
    # each key: one region's last acknowledged write won, the other's was silently lost
    assert report["lost"] == 2 * (2 - 1)
    for key in report["keys"]:
        assert key["winner"][1] == 5  # a region's last write
        assert key["winner_is_last_writer"] or key["order_ambiguous"], key
        assert key["lost_writes"] == [
            [r, 5] for r in (REGION, OTHER_REGION) if r != key["winner"][0]
        ]
        assert {entry[1] for entry in key["seen"]} == {REGION, OTHER_REGION}
        pk = {"ticket": {"S": key["key"]}, "version": {"S": "chaos-conflict"}}
        finals = [
            _client(r).get_item(TableName=TABLE, Key=pk, ConsistentRead=True)["Item"]
            for r in (REGION, OTHER_REGION)
        ]
        assert finals[0] == finals[1]
        assert [finals[0]["chaos_writer_region"]["S"], int(finals[0]["chaos_seq"]["N"])] == key[
            "winner"
        ]
    json.dumps(report)  # small and serialisable

    ledger = Ledger(run_context.ledger_path)
    entries = ledger.unreverted(fault="dynamodb-conflict")
    assert sorted(e.region for e in entries) == sorted([REGION, OTHER_REGION])
    assert all(e.outcome == "applied" for e in entries)

    undone = actions.delete_conflict_items(configuration=configuration)

    assert undone["reverted"] == 2
    assert replicator.drain(timeout=5)
    assert {REGION: _scan(REGION), OTHER_REGION: _scan(OTHER_REGION)} == before
    assert ledger.unreverted(fault="dynamodb-conflict") == []
    # idempotent
    assert actions.delete_conflict_items(configuration=configuration)["reverted"] == 0


def test_orphans_are_found_by_prefix_and_run_id(
    replicator: GlobalTableReplicator, run_context: RunContext
):
    before = _global_table(replicator, range_type="N")
    configuration = {"aws_region": REGION, "table_name": TABLE}
    actions.write_conflicting_items(TABLE, writes_per_region=2, configuration=configuration)
    assert replicator.drain(timeout=5)

    # registered for `gameday recover` (find_orphans would also run every other fault's)
    undo.load_undo_modules()
    assert undo._ORPHAN_FINDERS["dynamodb-conflict"] is dynamodb_undo.find_conflict_items
    ours = dynamodb_undo.find_conflict_items(configuration=configuration, region=REGION)

    assert len(ours) == 1
    assert ours[0]["args"]["run_id"] == run_context.run_id
    assert ours[0]["args"]["keys"] == [
        {"ticket": {"S": f"chaos-{run_context.run_id}-1"}, "version": {"N": "0"}}
    ]
    dynamodb_undo.delete_items(**ours[0]["args"], configuration=configuration)
    assert replicator.drain(timeout=5)
    assert _scan(REGION) == before[REGION] and _scan(OTHER_REGION) == before[OTHER_REGION]


def test_strong_consistency_counts_replicated_write_conflicts(
    mocked_aws: None, run_context: RunContext, request: pytest.FixtureRequest
):
    # a conflict window wide enough that a slow machine still overlaps the writes
    replicator = GlobalTableReplicator(lag_seconds=LAG, conflict_window_seconds=1.0).start()
    request.addfinalizer(replicator.stop)
    _create_table()
    replicator.make_global(TABLE, [REGION, OTHER_REGION], mode="STRONG")
    configuration = {"aws_region": REGION}

    result = actions.write_conflicting_items(
        TABLE, writes_per_region=5, configuration=configuration
    )
    report = probes.wait_for_convergence(timeout=5, interval=0.02, configuration=configuration)

    assert result["mode"] == "STRONG"
    assert result["replicated_write_conflicts"] >= 1
    assert result["acknowledged"] + result["replicated_write_conflicts"] == 10
    assert report["converged"] is True
    assert report["lost"] is None
    assert report["replicated_write_conflicts"] == result["replicated_write_conflicts"]
    actions.delete_conflict_items(configuration=configuration)


@pytest.mark.parametrize(
    ("setup", "arguments", "message"),
    [
        (
            "single",
            {},
            f"refusing dynamodb-conflict: table {TABLE} has 1 active replica ({REGION}); "
            "a write conflict needs at least 2",
        ),
        (
            "global",
            {"table_name": "no-such-table"},
            f"refusing dynamodb-conflict: table no-such-table not found in {REGION}",
        ),
        (
            "global",
            {"writes_per_region": 100000, "keys": 0},
            "refusing dynamodb-conflict: keys must be 1..25, got 0; "
            "writes_per_region must be 1..1000, got 100000",
        ),
        (
            "global",
            {"regions": [REGION, "us-east-1"]},
            f"refusing dynamodb-conflict: us-east-1 not among the active replicas of {TABLE} "
            f"({REGION}, {OTHER_REGION})",
        ),
        (
            "protected",
            {},
            f"arn:aws:dynamodb:{REGION}:123456789012:table/{TABLE} carries the protection tag "
            "'chaos:protected'",
        ),
        (
            "protected-replica",
            {},
            f"arn:aws:dynamodb:{OTHER_REGION}:123456789012:table/{TABLE} carries the protection "
            "tag 'chaos:protected'",
        ),
    ],
)
def test_refusals_make_no_mutating_call(
    replicator: GlobalTableReplicator,
    run_context: RunContext,
    setup: str,
    arguments: dict,
    message: str,
):
    tags = [{"Key": "chaos:protected", "Value": "yes"}] if setup == "protected" else None
    _create_table(tags=tags)
    if setup != "single":
        replicator.make_global(TABLE, [REGION, OTHER_REGION])
    if setup == "protected-replica":
        replica = _client(OTHER_REGION).describe_table(TableName=TABLE)["Table"]["TableArn"]
        _client(OTHER_REGION).tag_resource(
            ResourceArn=replica, Tags=[{"Key": "chaos:protected", "Value": "yes"}]
        )
    configuration = {"aws_region": REGION}
    calls = _record_mutations(configuration)

    with pytest.raises(ActivityFailed) as raised:
        actions.write_conflicting_items(
            **{"table_name": TABLE, **arguments}, configuration=configuration
        )

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)
    assert calls == []
    assert Ledger(run_context.ledger_path).entries() == []
    assert _client(REGION).scan(TableName=TABLE)["Items"] == []


def test_plan_is_read_only_and_names_the_target(
    replicator: GlobalTableReplicator, run_context: RunContext
):
    _global_table(replicator)
    configuration = {"aws_region": REGION}
    calls = _record_mutations(configuration)

    plan = actions.plan_conflicting_writes(
        TABLE, keys=3, writes_per_region=4, configuration=configuration
    )

    assert calls == []
    assert plan.target == f"dynamodb-conflict:{TABLE}"
    assert [c.resource.split(":")[3] for c in plan.changes] == [REGION, OTHER_REGION]
    assert plan.details["keys"][2] == {
        "ticket": {"S": f"chaos-{run_context.run_id}-3"},
        "version": {"S": "chaos-conflict"},
    }


def test_gameday_plan_of_the_experiment(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    from gameday.planner import plan_experiment

    monkeypatch.setenv("GAMEDAY_TABLE", TABLE)
    replicator = GlobalTableReplicator(lag_seconds=LAG).start()
    try:
        before = _global_table(replicator)

        result = plan_experiment(ROOT / "experiments" / "dynamodb-replica-conflict.yaml", [])

        [planned] = result["plans"]
        assert planned["problems"] == [], planned
        assert planned["plan"]["target"] == f"dynamodb-conflict:{TABLE}"
        assert planned["plan"]["details"]["regions"] == [REGION, OTHER_REGION]
        assert planned["plan"]["details"]["writes_per_region"] == 10
        assert {REGION: _scan(REGION), OTHER_REGION: _scan(OTHER_REGION)} == before
    finally:
        replicator.stop()


@pytest.mark.e2e
def test_chaos_run_end_to_end(moto_endpoint: str, tmp_path: Path):
    replicator = GlobalTableReplicator(lag_seconds=0.3).start()
    try:
        _create_table()
        _seed()
        replicator.make_global(TABLE, [REGION, OTHER_REGION])
        before = {REGION: _scan(REGION), OTHER_REGION: _scan(OTHER_REGION)}
        env = {
            **os.environ,
            "GAMEDAY_TABLE": TABLE,
            "GAMEDAY_OTHER_REGION": OTHER_REGION,
            "GAMEDAY_CONFLICT_WRITES": "5",
            "GAMEDAY_CONVERGENCE_TIMEOUT": "20",
            "GAMEDAY_LEDGER": str(tmp_path / "ledger.jsonl"),
            "GAMEDAY_QUIET_PERIOD": "1",
        }
        journal = tmp_path / "journal.json"
        done = subprocess.run(
            [
                CHAOS,
                "--no-log-file",
                "--no-version-check",
                "run",
                "--journal-path",
                str(journal),
                str(ROOT / "experiments" / "dynamodb-replica-conflict.yaml"),
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(journal.read_text())
        assert result["status"] == "completed"
        assert result["deviated"] is False
        runs = {r["activity"]["name"]: r for r in result["run"]}
        written = runs["write-conflicting-items"]["output"]
        report = runs["wait-for-convergence"]["output"]
        assert written["acknowledged"] == 10
        assert report["converged"] is True
        assert report["lost"] == 1
        assert result["rollbacks"][0]["output"]["reverted"] == 2
        recovery = result["recovery"]
        assert recovery["service"] == "dynamodb"
        assert recovery["rto"]["met"] is True and recovery["rpo"]["lost"] == 0
        assert recovery["fault"]["detail"]["conflict"]["lost"] == 1
        assert "conflict_converged_s" in recovery["rto"]["phases"]
        lag = recovery["replication_lag_s"]
        assert lag["p50"] is not None and 0.2 <= lag["p50"] < 5  # lag configured 0.3 s
        assert result["safety"]["all_reverted"] is True
        assert replicator.drain(timeout=5)
        assert {REGION: _scan(REGION), OTHER_REGION: _scan(OTHER_REGION)} == before
    finally:
        replicator.stop()


def test_undo_never_deletes_an_item_of_someone_else(mocked_aws: None, run_context: RunContext):
    _create_table()
    _seed()
    before = _scan(REGION)
    foreign = [
        {"ticket": {"S": "chaos-not-ours"}, "version": {"S": "1"}},  # no chaos_run_id
        {"ticket": {"S": "T-1"}, "version": {"S": "1"}},  # not even our prefix
    ]

    result = dynamodb_undo.delete_items(
        TABLE, [REGION], foreign, run_id=run_context.run_id, configuration={"aws_region": REGION}
    )

    assert result["deleted"] == {REGION: 0}
    assert _scan(REGION) == before


THIRD_REGION = "us-east-1"


def test_a_three_replica_table_is_written_and_undone_in_two_regions_only(
    replicator: GlobalTableReplicator, run_context: RunContext
):
    """Default writers: this region and ``other_region``; the undo deletes there only,
    and the deletes replicate to the third replica (which is never called)."""
    _create_table()
    _seed()
    replicator.make_global(TABLE, [REGION, OTHER_REGION, THIRD_REGION])
    before = {r: _scan(r) for r in (REGION, OTHER_REGION, THIRD_REGION)}
    configuration = {"aws_region": REGION, "other_region": OTHER_REGION}
    third_calls: list[str] = []
    aws_client("dynamodb", configuration, None, region=THIRD_REGION).meta.events.register(
        "before-call.dynamodb", lambda model, **_: third_calls.append(model.name)
    )

    result = actions.write_conflicting_items(
        TABLE, writes_per_region=3, configuration=configuration
    )

    assert result["regions"] == [REGION, OTHER_REGION]
    assert replicator.drain(timeout=5)
    label = result["keys"][0]
    assert any(i["ticket"]["S"] == label for i in _scan(THIRD_REGION))  # replicated there
    entries = Ledger(run_context.ledger_path).unreverted(fault="dynamodb-conflict")
    assert [e.undo["args"]["regions"] for e in entries] == [[REGION, OTHER_REGION]] * 2

    actions.delete_conflict_items(configuration=configuration)

    assert replicator.drain(timeout=5)
    assert {r: _scan(r) for r in (REGION, OTHER_REGION, THIRD_REGION)} == before
    assert third_calls == []


def test_regions_all_writes_from_every_active_replica(
    replicator: GlobalTableReplicator, run_context: RunContext
):
    _create_table()
    replicator.make_global(TABLE, [REGION, OTHER_REGION, THIRD_REGION])
    plan = actions.plan_conflicting_writes(
        TABLE, regions="all", configuration={"aws_region": REGION}
    )
    assert plan.details["regions"] == sorted([REGION, OTHER_REGION, THIRD_REGION])
    # without other_region the default pair is this region and the first other replica
    plan = actions.plan_conflicting_writes(TABLE, configuration={"aws_region": REGION})
    assert plan.details["regions"] == [REGION, OTHER_REGION]


def test_a_legacy_global_table_is_refused_in_one_line(
    replicator: GlobalTableReplicator, run_context: RunContext
):
    """A 2017.11.29 table: DescribeTable says GlobalTableVersion 2017.11.29 and lists no
    replicas (its replicas are only in DescribeGlobalTable)."""
    _create_table()
    configuration = {"aws_region": REGION}
    client = aws_client("dynamodb", configuration, None, region=REGION)

    def legacy(parsed: dict, model: Any, **_: Any) -> None:
        if model.name == "DescribeTable" and "Table" in parsed:
            parsed["Table"]["GlobalTableVersion"] = "2017.11.29"

    client.meta.events.register("after-call.dynamodb.DescribeTable", legacy)
    calls = _record_mutations(configuration)

    with pytest.raises(ActivityFailed) as raised:
        actions.write_conflicting_items(TABLE, configuration=configuration)

    assert str(raised.value) == (
        f"refusing dynamodb-conflict: table {TABLE} is a legacy global table (2017.11.29); "
        "legacy global tables (2017.11.29) are not supported; upgrade to 2019.11.21"
    )
    assert calls == []
    assert Ledger(run_context.ledger_path).entries() == []
