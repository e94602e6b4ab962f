"""The shape of an S3 bucket's replication configuration: read it, derive the paused
copy (every rule ``Disabled``, nothing else changed), compare two configurations.

What the pause does and does not stop (AWS): S3 replicates an object when an ``Enabled``
rule matches it at the time it is written (Amazon S3 User Guide, "Replicating objects
within and across Regions" / "What does Amazon S3 replicate?"). With every rule
disabled, objects written during the pause get no replication status and are NOT
replicated when the rules are enabled again: live replication only replicates objects
written while a rule is enabled; the others need S3 Batch Replication ("Replicating
existing objects with Batch Replication": objects that existed before a replication
configuration was in place). Objects written before the pause whose replication was
already pending may still complete. AWS FIS's ``aws:s3:bucket-pause-replication``
(AWS FIS User Guide, Amazon S3 actions) pauses a bucket's replication for a duration and
warns that existing objects may continue to be replicated up to one hour after the
action starts; it targets buckets by tag. The restore puts back the recorded
configuration byte-for-byte in meaning (deep-compared after the call).
"""

from __future__ import annotations

import copy
from typing import Any

from botocore.exceptions import ClientError

from chaosaws_ext.core.clients import error_code

__all__ = [
    "NO_REPLICATION",
    "read_replication",
    "paused_copy",
    "same_configuration",
    "enabled_rule_ids",
    "bucket_tags",
]

NO_REPLICATION = "ReplicationConfigurationNotFoundError"


def read_replication(client: Any, bucket: str) -> dict[str, Any] | None:
    """The bucket's replication configuration as GetBucketReplication returns it, or
    None when the bucket has none."""
    try:
        return client.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
    except ClientError as error:
        if error_code(error) == NO_REPLICATION:
            return None
        raise


def paused_copy(configuration: dict[str, Any]) -> dict[str, Any]:
    """The same configuration with every rule ``Disabled`` (role, filters, destinations,
    delete-marker replication and priorities untouched)."""
    paused = copy.deepcopy(configuration)
    for rule in paused.get("Rules", []):
        rule["Status"] = "Disabled"
    return paused


def enabled_rule_ids(configuration: dict[str, Any] | None) -> list[str]:
    return [
        str(rule.get("ID", ""))
        for rule in (configuration or {}).get("Rules", [])
        if rule.get("Status") == "Enabled"
    ]


def _canonical(value: Any) -> Any:
    """Rules compared as a set keyed by ID (AWS may return them in another order)."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        return sorted(items, key=repr)
    return value


def same_configuration(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    """Deep equality of two replication configurations (rule order ignored)."""
    return _canonical(a) == _canonical(b)


def bucket_tags(client: Any, bucket: str) -> dict[str, str]:
    try:
        tag_set = client.get_bucket_tagging(Bucket=bucket).get("TagSet", [])
    except ClientError as error:
        if error_code(error) == "NoSuchTagSet":
            return {}
        raise
    return {t["Key"]: t["Value"] for t in tag_set}
