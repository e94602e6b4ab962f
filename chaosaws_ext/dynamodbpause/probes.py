"""Read-only probes of the DynamoDB replication pause: the pause statements of ours in a
replica's resource policy (the steady state before and after: none)."""

from __future__ import annotations

from typing import Any

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.dynamodbpause.table_policy import our_statements, read_policy

__all__ = ["pause_statements_in_policy", "replication_not_paused"]


def pause_statements_in_policy(
    table_name: str,
    replica_region: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> list[dict[str, Any]]:
    """Our pause statements in the resource policy of ``table_name`` in
    ``replica_region`` (default: the experiment's region)."""
    region = replica_region or region_of(configuration)
    client = aws_client("dynamodb", configuration, secrets, region=region)
    arn = client.describe_table(TableName=table_name)["Table"]["TableArn"]
    policy, _ = read_policy(client, arn)
    return our_statements(policy)


def replication_not_paused(
    table_name: str,
    replica_region: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> bool:
    """True when no pause statement of ours is in the replica's resource policy."""
    return not pause_statements_in_policy(table_name, replica_region, configuration, secrets)
