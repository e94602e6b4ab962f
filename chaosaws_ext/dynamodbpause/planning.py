"""The read-only plan of the DynamoDB replication pause: the replica whose resource policy
gets our statements, the statements and their expiry, the policy as it is, and the
refusals (no table, not a global table, MRSC, legacy, protection tag, already paused,
policy too big), for the inject and for ``gameday plan``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code, region_of
from chaosaws_ext.core.identity import current_run
from chaosaws_ext.dynamodbpause import FAULT
from chaosaws_ext.dynamodbpause.table_policy import (
    MAX_POLICY_BYTES,
    our_statements,
    pause_statements,
    read_policy,
    with_statements,
)
from chaosaws_ext.planning import FaultPlan, PlannedChange

__all__ = ["plan_table_replication_pause", "expiry_in"]

LEGACY_GLOBAL_TABLE_VERSION = "2017.11.29"


def _refuse(reason: str) -> ActivityFailed:
    return ActivityFailed(f"refusing {FAULT}: {reason}")


def expiry_in(seconds: float, now: datetime | None = None) -> str:
    """The ``aws:CurrentTime`` bound ``seconds`` from now (ISO 8601 UTC, milliseconds)."""
    moment = (now or datetime.now(UTC)) + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _describe(client: Any, table_name: str, region: str) -> dict[str, Any]:
    try:
        return dict(client.describe_table(TableName=table_name)["Table"])
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            raise _refuse(f"table {table_name} not found in {region}") from None
        raise _refuse(f"table {table_name} not readable in {region}: {error_code(error)}") from None


def _replica_region(
    asked: str | None, home: str, replicas: list[str], configuration: Configuration
) -> str:
    """The replica to pause: as asked, else configuration ``other_region`` when it is a
    replica, else the only other replica."""
    if asked:
        return asked
    other = str((configuration or {}).get("other_region") or "")
    if other in replicas:
        return other
    others = [r for r in replicas if r != home]
    if len(others) == 1:
        return others[0]
    raise _refuse(f"replica_region must name one of {', '.join(others)}")


def plan_table_replication_pause(
    table_name: str,
    duration: float = 60,
    replica_region: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read-only plan of :func:`~chaosaws_ext.dynamodbpause.actions.pause_table_replication`
    (same arguments); ActivityFailed with one line when refused, changes nothing."""
    home = region_of(configuration)
    run = current_run(configuration)
    try:
        seconds = float(duration)
    except (TypeError, ValueError):
        seconds = -1.0
    if not table_name:
        raise _refuse("table_name is empty")
    if not 0 < seconds <= run.max_fault_seconds:
        raise _refuse(f"duration must be in (0, {run.max_fault_seconds:g}] s, got {duration!r}")
    table = _describe(aws_client("dynamodb", configuration, secrets, region=home), table_name, home)
    replicas = sorted({home, *(r["RegionName"] for r in table.get("Replicas") or [])})
    if table.get("GlobalTableVersion") == LEGACY_GLOBAL_TABLE_VERSION:
        raise _refuse(
            f"table {table_name} is a legacy global table (2017.11.29), which supports no "
            "resource-based policy; upgrade to 2019.11.21"
        )
    if len(replicas) < 2:
        raise _refuse(f"table {table_name} is not a global table (no replica besides {home})")
    if table.get("MultiRegionConsistency") == "STRONG":
        raise _refuse(
            f"table {table_name} is a multi-Region strongly consistent (MRSC) global table: "
            "its replication cannot be paused this way, only MREC tables"
        )
    region = _replica_region(replica_region, home, replicas, configuration)
    if region not in replicas:
        raise _refuse(f"{region} is not a replica region of {table_name} ({', '.join(replicas)})")
    arn = str(table["TableArn"]).replace(f":{home}:", f":{region}:")
    client = aws_client("dynamodb", configuration, secrets, region=region)
    try:
        tags = {t["Key"]: t["Value"] for t in client.list_tags_of_resource(ResourceArn=arn)["Tags"]}
        policy, revision = read_policy(client, arn)
    except ClientError as error:
        raise _refuse(f"replica {arn} not readable: {error_code(error)}") from None
    left = our_statements(policy)
    if left:
        raise _refuse(
            f"the resource policy of {arn} already holds a pause of ours "
            f"({', '.join(str(s.get('Sid')) for s in left)}): run `gameday recover` first"
        )
    expiry = expiry_in(seconds)
    statements = pause_statements(arn, run.run_id, expiry)
    paused = with_statements(policy, statements)
    if len(paused.encode()) > MAX_POLICY_BYTES:
        raise _refuse(
            f"the resource policy of {arn} would be {len(paused.encode())} bytes with the "
            f"pause, more than AWS's {MAX_POLICY_BYTES}"
        )
    details: dict[str, Any] = {
        "table": table_name,
        "replica_region": region,
        "replica_arn": arn,
        "replica_regions": replicas,
        "duration_s": seconds,
        "expires_at": expiry,
        "statements": statements,
        "policy_before": policy,
        "revision_before": revision,
    }
    sids = ", ".join(s["Sid"] for s in statements)
    # the plan's region is the experiment's (its lock, allowed_regions); the policy
    # changed is the replica's, in ``replica_region``
    return FaultPlan(
        fault=FAULT,
        region=home,
        target=f"{FAULT}:{table_name}@{region}",
        changes=[
            PlannedChange(
                resource=arn,
                change=(
                    f"{'PutResourcePolicy adding' if policy else 'PutResourcePolicy (new) with'}"
                    f" Deny statements {sids} for the replication service until {expiry} "
                    f"({seconds:g} s): writes stop replicating to and from {region}"
                ),
                undo=(
                    "remove exactly those statements (the policy before restored, or "
                    "DeleteResourcePolicy when there was none), with ExpectedRevisionId; "
                    f"AWS ignores them after {expiry} anyway"
                ),
                resource_tags=tags,
                kind="table",
            )
        ],
        details=details,
    )
