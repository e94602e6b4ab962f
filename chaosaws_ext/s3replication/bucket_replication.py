"""The shape of an S3 bucket's replication configuration: read it, derive the paused
copy (every rule ``Disabled``, nothing else changed), compare two configurations.

What the pause does and does not stop (AWS), and so what the measurement finds:

- The mechanism: this fault puts the configuration back with every rule ``Disabled``
  (PutBucketReplication). AWS FIS's ``aws:s3:bucket-pause-replication`` (AWS FIS User
  Guide, "AWS FIS actions reference", Amazon S3 actions) instead sends a pause request
  that only FIS can make: its PutReplicationConfiguration carries the condition key
  ``s3:isReplicationPauseRequest`` ("Filters access by request made via AWS FIS action
  aws:s3:bucket-pause-replication", Service Authorization Reference for Amazon S3, with
  the FIS-only privilege ``s3:PauseReplication``). FIS documents that it pauses
  replication to the destination buckets for ``duration``, targets buckets by tag, and
  that existing objects may continue to be replicated up to one hour after the action
  starts; it does not document what happens afterwards to objects written during the
  pause. A client outside FIS cannot make that request, so its semantics are not ours.
- What S3 documents for ours (Amazon S3 User Guide, "Managing or pausing live
  replication", https://docs.aws.amazon.com/AmazonS3/latest/userguide/disable-replication.html):
  "any new or changed objects that weren't replicated while the rule was disabled are
  not automatically replicated when the rule is re-enabled"; S3 Batch Replication copies
  them ("Replicating existing objects with Batch Replication"). A rule applies when it is
  ``Enabled`` at the time of the write, so such objects get no replication status.
- So: objects written BEFORE the pause whose replication was pending still complete;
  objects written DURING the pause are never replicated by live replication (catch-up:
  never, until someone runs Batch Replication); objects written after it replicate as
  usual. The failover RPO at the end of the pause is the whole pause, and it stays so
  after the pause: a finding about the plan (RPO 0 for the knowledge base), not a bug.
  The sandbox (``sandbox.s3``) emulates exactly this.

The restore puts back the recorded configuration byte-for-byte in meaning
(deep-compared after the call).
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
