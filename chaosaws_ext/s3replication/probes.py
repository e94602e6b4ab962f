"""Read-only probes of the S3 replication pause: is the bucket replicating, which rules
are enabled (the steady state before and after)."""

from __future__ import annotations

from typing import Any

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.s3replication.bucket_replication import enabled_rule_ids, read_replication

__all__ = ["bucket_replication_enabled", "replication_rules"]


def replication_rules(
    bucket_name: str, configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """The bucket's rules as ``{id: status}`` (empty without replication)."""
    client = aws_client("s3", configuration, secrets)
    current = read_replication(client, bucket_name) or {}
    return {str(r.get("ID", "")): r.get("Status") for r in current.get("Rules", [])}


def bucket_replication_enabled(
    bucket_name: str, configuration: Configuration = None, secrets: Secrets = None
) -> bool:
    """True when at least one replication rule of the bucket is enabled."""
    client = aws_client("s3", configuration, secrets)
    return bool(enabled_rule_ids(read_replication(client, bucket_name)))
