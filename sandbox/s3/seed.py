"""The guide's S3 buckets (DR plan, Example 3 "CloudFormation - S3 Buckets con CRR"):
the knowledge-base bucket in the primary region replicating everything to its replica
in eu-west-1 (rule ``ReplicateAll``: prefix '', delete markers replicated, S3 RTC 15
minutes with metrics), and the logs bucket, which the plan's table puts on S3 CRR
(RPO < 24 h) although the template gives it no replication: here it replicates to
``<name>-replica`` in eu-west-1 with the same rule. Versioning on both sides, as
replication requires."""

from __future__ import annotations

from typing import Any

__all__ = ["seed_replicated_buckets", "replication_role_arn"]


def replication_role_arn(account_id: str, environment: str) -> str:
    return f"arn:aws:iam::{account_id}:role/{environment}-s3-replication-role"


def _bucket(client: Any, name: str, region: str, tags: dict[str, str]) -> None:
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    client.put_bucket_tagging(
        Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]}
    )


def _replicate_all(destination: str) -> dict[str, Any]:
    return {
        "ID": "ReplicateAll",
        "Priority": 1,
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "DeleteMarkerReplication": {"Status": "Enabled"},
        "Destination": {
            "Bucket": f"arn:aws:s3:::{destination}",
            "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
        },
    }


def seed_replicated_buckets(
    primary: Any,
    replica: Any,
    account_id: str,
    environment: str,
    primary_region: str,
    replica_region: str,
) -> dict[str, dict[str, str]]:
    """Create both pairs; returns ``{"knowledge_base"|"logs": {"source", "replica"}}``."""
    pairs = {
        "knowledge_base": (
            f"ai-support-kb-{environment}-{account_id}-primary",
            f"ai-support-kb-{environment}-{account_id}-replica",
        ),
        "logs": (
            f"ai-support-logs-{environment}-{account_id}",
            f"ai-support-logs-{environment}-{account_id}-replica",
        ),
    }
    role = replication_role_arn(account_id, environment)
    for purpose, (source, destination) in pairs.items():
        tags = {"Environment": environment, "Purpose": purpose}
        _bucket(primary, source, primary_region, tags)
        _bucket(replica, destination, replica_region, tags)
        primary.put_bucket_replication(
            Bucket=source,
            ReplicationConfiguration={"Role": role, "Rules": [_replicate_all(destination)]},
        )
    return {p: {"source": s, "replica": d} for p, (s, d) in pairs.items()}
