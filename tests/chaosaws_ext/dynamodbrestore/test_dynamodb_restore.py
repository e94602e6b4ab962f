"""The DynamoDB restore drill in-process (moto + the sandbox's point-in-time recovery
emulation): the plan names what would be created and refuses what would collide, the
drill restores into a new tagged table without touching the source, the rollback
deletes the copy and the backup, and the finder finds them by name without the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.identity import TAG_FAULT, TAG_MANAGED, TAG_RUN_ID, RunContext
from chaosaws_ext.core.timeline import clear_phases, fault_details
from chaosaws_ext.dynamodbrestore import actions, undo
from chaosaws_ext.dynamodbrestore.planning import plan_table_restore
from chaosaws_ext.dynamodbrestore.tables import backup_name, count_items, restored_table_name
from chaosaws_ext.ledger import Ledger
from sandbox.dynamodb.pitr import PointInTimeRecovery
from tests.conftest import REGION

TABLE = "production-ai-support-tickets"
SCALE = 0.001  # restore 1.2 s, latest restorable lag 0.3 s
FAST: dict[str, Any] = {"history_s": 0.2, "poll_interval_s": 0.05, "timeout": 30}


@pytest.fixture
def dynamodb(mocked_aws: None) -> Iterator[Any]:
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "ticket_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "ticket_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName=TABLE, Item={"ticket_id": {"S": "T-1"}})
    client.update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    clear_phases()
    with PointInTimeRecovery(time_scale=SCALE):
        yield client
    clear_phases()  # the drill's fault details are process-wide: no later test sees them


def _config(run: RunContext) -> dict[str, Any]:
    return {"aws_region": REGION, "chaos_ledger_path": str(run.ledger_path)}


def _ours(client: Any) -> tuple[list[str], list[str]]:
    tables = [t for t in client.list_tables()["TableNames"] if t.startswith("chaos-drill-")]
    backups = [b["BackupName"] for b in client.list_backups(TableName=TABLE)["BackupSummaries"]]
    return tables, backups


def test_the_plan_names_the_table_and_backup_it_would_create(
    dynamodb: Any, run_context: RunContext
) -> None:
    plan = plan_table_restore(TABLE, configuration=_config(run_context))
    restored = restored_table_name(run_context.run_id, TABLE)
    assert [c.kind for c in plan.changes] == ["backup", "table"]
    assert "billing PAY_PER_REQUEST" in plan.changes[1].change
    assert restored in plan.changes[1].change and "DeleteTable" in plan.changes[1].undo
    assert plan.changes[0].undo == f"DeleteBackup {backup_name(run_context.run_id)}"
    assert _ours(dynamodb) == ([], [])  # read only


def test_the_plan_refuses_a_name_that_exists_and_a_table_without_pitr(
    dynamodb: Any, run_context: RunContext
) -> None:
    restored = restored_table_name(run_context.run_id, TABLE)
    dynamodb.create_table(
        TableName=restored,
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(ActivityFailed) as exists:
        actions.restore_table_drill(TABLE, configuration=_config(run_context), **FAST)
    assert str(exists.value) == (
        f"refusing dynamodb-restore: table {restored} already exists: refusing to restore over it"
    )
    dynamodb.delete_table(TableName=restored)
    with pytest.raises(ActivityFailed) as too_long:
        plan_table_restore(TABLE, timeout=5000, configuration=_config(run_context))
    assert str(too_long.value) == (
        "refusing dynamodb-restore: timeout must be in (0, 900] s, got 5000"
    )
    dynamodb.update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False}
    )
    with pytest.raises(ActivityFailed, match="point-in-time recovery is not enabled on"):
        plan_table_restore(TABLE, configuration=_config(run_context))
    assert _ours(dynamodb) == ([], [])
    assert (
        Ledger(run_context.ledger_path).entries() == []
        if run_context.ledger_path.exists()
        else True
    )


def test_the_drill_restores_a_tagged_copy_and_the_rollback_deletes_it(
    dynamodb: Any, run_context: RunContext
) -> None:
    config = _config(run_context)
    result = actions.restore_table_drill(TABLE, configuration=config, **FAST)
    restored = result["restored"]
    assert [p["name"] for p in result["phases"]] == ["api_accepted", "active", "first_read"]
    assert 1200 * SCALE <= result["restore_rto_s"] <= 1200 * SCALE + 0.5
    arn = dynamodb.describe_table(TableName=restored)["Table"]["TableArn"]
    tags = {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags[TAG_RUN_ID] == run_context.run_id and tags[TAG_FAULT] == "dynamodb-restore"
    assert tags[TAG_MANAGED] == "chaosaws-ext"
    items = dynamodb.scan(TableName=restored)["Items"]
    assert items == [{"ticket_id": {"S": "T-1"}}]  # as of the restore point
    # the source counted at the restore call, the copy once it answered reads
    assert (result["source_items"], result["restored_items"]) == (1, 1)
    began, ended = fault_details()["restore"]["source_count_mono"]  # type: ignore[index]
    assert began <= ended
    assert _ours(dynamodb) == ([restored], [backup_name(run_context.run_id)])

    actions.delete_drill_resources(configuration=config)
    assert _ours(dynamodb) == ([], [])
    assert Ledger(run_context.ledger_path).unreverted() == []
    assert fault_details()["restore"]["deleted"] is True  # type: ignore[index]
    assert dynamodb.describe_table(TableName=TABLE)["Table"]["ItemCount"] >= 0  # source kept


def test_the_finder_finds_an_untagged_copy_and_the_backup_by_name(
    dynamodb: Any, run_context: RunContext
) -> None:
    restored = restored_table_name(run_context.run_id, TABLE)
    dynamodb.create_backup(TableName=TABLE, BackupName=backup_name(run_context.run_id))
    dynamodb.restore_table_to_point_in_time(
        SourceTableName=TABLE, TargetTableName=restored, UseLatestRestorableTime=True
    )  # a run killed before it could tag the copy
    dynamodb.create_table(  # a look-alike that is not a restore: never ours
        TableName="chaos-drill-someone-else",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    found = undo.find_drill_resources(configuration={"aws_region": REGION}, region=REGION)
    assert sorted(f["undoer"] for f in found) == [undo.BACKUP_UNDOER, undo.TABLE_UNDOER]
    for spec in found:  # the undo waits for the restore to finish, then deletes
        func = undo.delete_restored_table if spec["undoer"] == undo.TABLE_UNDOER else None
        (func or undo.delete_drill_backup)(**spec["args"], region=REGION)
    assert _ours(dynamodb) == (["chaos-drill-someone-else"], [])  # the look-alike is kept


def test_the_undo_refuses_a_table_that_is_not_a_drill_copy(dynamodb: Any) -> None:
    with pytest.raises(ValueError, match="is not a drill's restored table"):
        undo.delete_restored_table(TABLE, "run-1", region=REGION)
    assert TABLE in dynamodb.list_tables()["TableNames"]


class _Pages:
    """A Scan that answers ``pages`` pages of ``per_page`` counted items."""

    def __init__(self, pages: int, per_page: int) -> None:
        self.pages, self.per_page = pages, per_page
        self.requests: list[dict[str, Any]] = []

    def scan(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        page = len(self.requests)
        answer: dict[str, Any] = {"Count": self.per_page}
        if page < self.pages:
            answer["LastEvaluatedKey"] = {"ticket_id": {"S": f"T-{page}"}}
        return answer


def test_the_item_count_follows_every_page_and_gives_up_beyond_its_bound() -> None:
    client = _Pages(pages=3, per_page=40)
    assert count_items(client, TABLE) == 120
    assert [r.get("ExclusiveStartKey") for r in client.requests] == [
        None,
        {"ticket_id": {"S": "T-1"}},
        {"ticket_id": {"S": "T-2"}},
    ]
    assert all(r["Select"] == "COUNT" and r["ConsistentRead"] for r in client.requests)
    bounded = _Pages(pages=5, per_page=1)
    assert count_items(bounded, TABLE, max_pages=4) is None
    assert len(bounded.requests) == 4
