"""The FIS actions the sandbox executes, each with its revert, through moto's endpoint.

Each action is a function of an :class:`ActionContext` returning :class:`Started`: how
long the action lasts (None: it ends as soon as its calls return) and how to revert it
(None: nothing to revert, as FIS documents for a reboot). The executor calls the revert
exactly once, at the end of the duration or when the experiment stops. Semantics from
the AWS FIS user guide, "AWS FIS actions reference"
(https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html); calls go
to the sandbox's own moto endpoint, so the sandbox's emulations (NACL data plane, RDS
failover windows) apply exactly as for any other client.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from sandbox.fis.durations import scaled_duration
from sandbox.fis.targets import ClientFactory, Resource
from sandbox.timing import Timings

__all__ = [
    "ACTIONS",
    "ActionContext",
    "ActionError",
    "ActionSpec",
    "Started",
    "UNSUPPORTED_REASON",
]

log = logging.getLogger(__name__)

UNSUPPORTED_REASON = "Action {name} ({action_id}) is not supported by the sandbox's FIS emulation"
# A NACL just created may be unknown for a moment (EC2 eventual consistency,
# https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html): retried
# with back-off, at most this long.
_PROPAGATION_BOUND_S = 15.0
_NOT_FOUND = {"InvalidNetworkAclID.NotFound", "InvalidAssociationID.NotFound"}
# "FIS adds deny rules to the cloned network ACL, which has a tag managedByFIS=true"
# (actions reference, aws:network:disrupt-connectivity)
MANAGED_BY_FIS_TAG = {"Key": "managedByFIS", "Value": "true"}
_DEFAULT_DENY = 32767  # the NACL's implicit "*" rule (32768 for IPv6), not cloned


class ActionError(RuntimeError):
    """An action that could not run; ``str()`` is the reason the experiment reports."""


@dataclass
class ActionContext:
    client: ClientFactory
    region: str
    account: str
    timings: Timings
    parameters: dict[str, str]
    targets: dict[str, list[Resource]]  # the action's target keys (Subnets) -> resources


@dataclass
class Started:
    duration_s: float | None = None
    revert: Callable[[], None] | None = None


@dataclass(frozen=True)
class ActionSpec:
    run: Callable[[ActionContext], Started]
    target_key: str | None  # the key of the action's ``targets`` (None: no target)
    duration_parameter: str | None = None
    required: tuple[str, ...] = field(default=())


def _id_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _duration(context: ActionContext, name: str) -> float | None:
    text = context.parameters.get(name)
    return None if text in (None, "") else scaled_duration(str(text), context.timings)


def _retry_not_found(call: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + _PROPAGATION_BOUND_S
    delay = 0.05
    while True:
        try:
            return call()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in _NOT_FOUND or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(1.0, delay * 2)


# -- aws:network:disrupt-connectivity ----------------------------------------------------
def _deny_cidrs(ec2: Any, subnet: dict[str, Any], scope: str) -> list[str]:
    """``all``: "Denies all traffic entering and leaving the subnet" (intra-subnet traffic
    is never filtered by a NACL); ``availability-zone``: "Denies intra-VPC traffic to and
    from subnets in other Availability Zones" (actions reference)."""
    if scope == "all":
        return ["0.0.0.0/0"]
    if scope == "availability-zone":
        others = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]}])
        return sorted(
            s["CidrBlock"]
            for s in others["Subnets"]
            if s["AvailabilityZone"] != subnet["AvailabilityZone"]
        )
    raise ActionError(
        f"scope {scope!r} of aws:network:disrupt-connectivity is not supported by the "
        "sandbox's FIS emulation (supported: all, availability-zone)"
    )


def _association_of(ec2: Any, subnet_id: str) -> tuple[str, str]:
    """(network ACL id, association id) of ``subnet_id``."""
    found = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet_id]}]
    )["NetworkAcls"]
    for acl in found:
        for association in acl.get("Associations", []):
            if association.get("SubnetId") == subnet_id:
                return acl["NetworkAclId"], association["NetworkAclAssociationId"]
    raise ActionError(f"subnet {subnet_id} has no network ACL association")


def _create_clone(ec2: Any, vpc_id: str) -> str:
    created = ec2.create_network_acl(
        VpcId=vpc_id,
        TagSpecifications=[{"ResourceType": "network-acl", "Tags": [MANAGED_BY_FIS_TAG]}],
    )
    return str(created["NetworkAcl"]["NetworkAclId"])


def _fill_clone(ec2: Any, original_id: str, clone: str, cidrs: list[str]) -> None:
    """The denies in front, then a copy of the original's rules."""
    original = ec2.describe_network_acls(NetworkAclIds=[original_id])["NetworkAcls"][0]
    copied = [e for e in original.get("Entries", []) if int(e["RuleNumber"]) < _DEFAULT_DENY]
    # the denies come first: rule numbers 1..n; the original's rules keep their order
    shift = len(cidrs) if any(int(e["RuleNumber"]) <= len(cidrs) for e in copied) else 0
    for egress in (False, True):
        for number, cidr in enumerate(cidrs, start=1):
            _retry_not_found(
                partial(
                    ec2.create_network_acl_entry,
                    NetworkAclId=clone,
                    RuleNumber=number,
                    Protocol="-1",
                    RuleAction="deny",
                    Egress=egress,
                    CidrBlock=cidr,
                )
            )
    for entry in copied:
        kwargs = {
            k: entry[k]
            for k in ("CidrBlock", "Ipv6CidrBlock", "IcmpTypeCode", "PortRange")
            if k in entry
        }
        _retry_not_found(
            partial(
                ec2.create_network_acl_entry,
                NetworkAclId=clone,
                RuleNumber=min(_DEFAULT_DENY - 1, int(entry["RuleNumber"]) + shift),
                Protocol=str(entry["Protocol"]),
                RuleAction=entry["RuleAction"],
                Egress=bool(entry["Egress"]),
                **kwargs,
            )
        )


def disrupt_connectivity(context: ActionContext) -> Started:
    """Clone each subnet's NACL, deny in front, swap; revert: swap back, delete."""
    scope = context.parameters.get("scope", "all")
    duration = _duration(context, "duration")
    ec2 = context.client("ec2", context.region)
    swapped: list[tuple[str, str, str]] = []  # (subnet, original NACL, clone association)
    clones: list[str] = []

    def revert() -> None:
        for subnet_id, original_id, association in reversed(swapped):
            _retry_not_found(
                partial(
                    ec2.replace_network_acl_association,
                    AssociationId=association,
                    NetworkAclId=original_id,
                )
            )
            log.info("FIS: subnet %s back on %s", subnet_id, original_id)
        for clone in clones:
            _retry_not_found(partial(ec2.delete_network_acl, NetworkAclId=clone))
        swapped.clear()
        clones.clear()

    try:
        # every clone created first, so their propagation delays overlap
        planned: list[tuple[dict[str, Any], list[str], str, str, str]] = []
        for resource in context.targets.get("Subnets", []):
            subnet = resource.description
            cidrs = _deny_cidrs(ec2, subnet, scope)
            original_id, association = _association_of(ec2, subnet["SubnetId"])
            if not cidrs:
                continue  # scope availability-zone in a VPC with one AZ: nothing to deny
            clones.append(_create_clone(ec2, subnet["VpcId"]))
            planned.append((subnet, cidrs, original_id, association, clones[-1]))
        for subnet, cidrs, original_id, association, clone in planned:
            _fill_clone(ec2, original_id, clone, cidrs)
            new_association = _retry_not_found(
                partial(
                    ec2.replace_network_acl_association,
                    AssociationId=association,
                    NetworkAclId=clone,
                )
            )["NewAssociationId"]
            swapped.append((subnet["SubnetId"], original_id, new_association))
            log.info("FIS: subnet %s on clone %s (scope %s)", subnet["SubnetId"], clone, scope)
    except Exception:
        revert()
        raise
    return Started(duration, revert)


# -- RDS -------------------------------------------------------------------------------
def _flag(value: Any, default: bool = False) -> bool:
    if value in (None, ""):
        return default
    return str(value).strip().lower() == "true"


def reboot_db_instances(context: ActionContext) -> Started:
    """RebootDBInstance (ForceFailover from ``forceFailover``); nothing to revert."""
    rds = context.client("rds", context.region)
    force = _flag(context.parameters.get("forceFailover"))
    for resource in context.targets.get("DBInstances", []):
        rds.reboot_db_instance(
            DBInstanceIdentifier=resource.description["DBInstanceIdentifier"],
            ForceFailover=force,
        )
    return Started()


def failover_db_cluster(context: ActionContext) -> Started:
    rds = context.client("rds", context.region)
    for resource in context.targets.get("Clusters", []):
        rds.failover_db_cluster(DBClusterIdentifier=resource.description["DBClusterIdentifier"])
    return Started()


# -- EC2 instances -----------------------------------------------------------------------
def stop_instances(context: ActionContext) -> Started:
    """StopInstances; with ``startInstancesAfterDuration`` started again at its end."""
    ec2 = context.client("ec2", context.region)
    ids = [_id_of(r.arn) for r in context.targets.get("Instances", [])]
    duration = _duration(context, "startInstancesAfterDuration")
    if ids:
        ec2.stop_instances(InstanceIds=ids)
    if duration is None or not ids:
        return Started(duration)
    return Started(duration, lambda: ec2.start_instances(InstanceIds=ids))


# -- S3 ----------------------------------------------------------------------------------
def _rule_prefix(rule: dict[str, Any]) -> str:
    found = rule.get("Filter", {})
    return str(rule.get("Prefix") or found.get("Prefix") or found.get("And", {}).get("Prefix", ""))


def bucket_pause_replication(context: ActionContext) -> Started:
    """ "Pauses replication from target source buckets to destination buckets" in the
    ``region`` parameter, optionally only to ``destinationBuckets`` and for ``prefixes``
    (comma-separated): the matching rules of each source's replication configuration
    are disabled for the duration (PutBucketReplication, the call FIS's role is granted),
    then the configuration read before is put back exactly."""
    s3 = context.client("s3", context.region)
    region = context.parameters.get("region", "")
    only = {b.strip() for b in context.parameters.get("destinationBuckets", "").split(",")}
    prefixes = {p.strip() for p in context.parameters.get("prefixes", "").split(",")}
    only.discard("")
    prefixes.discard("")
    originals: list[tuple[str, dict[str, Any]]] = []

    def revert() -> None:
        for bucket, configuration in reversed(originals):
            s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=configuration)
        originals.clear()

    def destination_region(name: str) -> str:
        location = s3.get_bucket_location(Bucket=name).get("LocationConstraint")
        return str(location or "us-east-1")

    try:
        for resource in context.targets.get("Buckets", []):
            bucket = resource.description["Name"]
            try:
                found = s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]
            except ClientError:
                continue  # ReplicationConfigurationNotFoundError: nothing to pause
            paused = copy.deepcopy(found)
            changed = False
            for rule in paused.get("Rules", []):
                destination = str(rule["Destination"]["Bucket"]).rsplit(":", 1)[-1]
                if (
                    rule.get("Status") == "Enabled"
                    and destination_region(destination) == region
                    and (not only or destination in only)
                    and (not prefixes or _rule_prefix(rule) in prefixes)
                ):
                    rule["Status"] = "Disabled"
                    changed = True
            if changed:
                originals.append((bucket, found))
                s3.put_bucket_replication(Bucket=bucket, ReplicationConfiguration=paused)
                log.info("FIS: replication of %s to %s paused", bucket, region)
    except Exception:
        revert()
        raise
    return Started(_duration(context, "duration"), revert)


# -- DynamoDB ----------------------------------------------------------------------------
# "Pauses Amazon DynamoDB multi-Region eventually consistent global table replication to
# any replica table": FIS appends Deny statements for the replication service principal
# and the replication service-linked role to the replica's resource-based policy, with a
# DateLessThan aws:CurrentTime condition so the pause ends by itself, and removes them at
# the end (AWS FIS User Guide, "Amazon DynamoDB actions",
# https://docs.aws.amazon.com/fis/latest/userguide/fis-actions-reference.html). FIS's own
# Sids are not published; the emulation's carry the experiment's action and a counter.
_REPLICATION_SERVICE = "replication.dynamodb.amazonaws.com"
_SLR = f"role/aws-service-role/{_REPLICATION_SERVICE}/AWSServiceRoleForDynamoDBReplication"
_SLR_ACTIONS = [
    "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
    "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:Scan",
    "dynamodb:DescribeTimeToLive", "dynamodb:UpdateTimeToLive",
]  # fmt: skip
_POLICY_BUSY_S = 20.0  # "updates to a policy ... blocked for 15 seconds", retried this long
_sid_counter = iter(range(1, 1_000_000))


def _pause_statements(table_arn: str, account: str, until: str, sid: str) -> list[dict[str, Any]]:
    expiry = {"DateLessThan": {"aws:CurrentTime": until}}
    return [
        {
            "Sid": f"{sid}Service",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": ["dynamodb:ReadDataForReplication", "dynamodb:WriteDataForReplication"],
            "Resource": table_arn,
            "Condition": {
                **expiry,
                "StringEquals": {"aws:PrincipalServiceName": _REPLICATION_SERVICE},
            },
        },
        {
            "Sid": f"{sid}Role",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": list(_SLR_ACTIONS),
            "Resource": table_arn,
            "Condition": {
                **expiry,
                "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{account}:{_SLR}"},
            },
        },
    ]


def _policy_of(dynamodb: Any, arn: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        found = dynamodb.get_resource_policy(ResourceArn=arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "PolicyNotFoundException":
            return None, None
        raise
    return json.loads(found["Policy"]), found.get("RevisionId")


def _put_policy(dynamodb: Any, arn: str, document_of: Callable[[], dict[str, Any] | None]) -> None:
    """Write (or, with no statement left, delete) the policy ``document_of()`` builds from
    the policy as it is now, waiting out the 15 s between updates
    (ResourceInUseException), bounded: rebuilt at each attempt, so the expiry it carries
    counts from when it is written."""
    deadline = time.monotonic() + _POLICY_BUSY_S
    while True:
        _, revision = _policy_of(dynamodb, arn)
        document = document_of()
        try:
            if document and document.get("Statement"):
                kwargs = {"ExpectedRevisionId": revision} if revision else {}
                dynamodb.put_resource_policy(ResourceArn=arn, Policy=json.dumps(document), **kwargs)
            else:
                dynamodb.delete_resource_policy(ResourceArn=arn)
            return
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "PolicyNotFoundException" and not (document or {}).get("Statement"):
                return
            if code != "ResourceInUseException" or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def global_table_pause_replication(context: ActionContext) -> Started:
    """Deny statements (ending by themselves at the action's end) appended to each
    target replica's resource policy; removed again, exactly ours, at the end."""
    dynamodb = context.client("dynamodb", context.region)
    duration = _duration(context, "duration") or 0.0
    paused: list[tuple[str, list[str]]] = []

    def until() -> str:  # whole seconds, rounded up: never before the action's end
        ends = datetime.now(UTC) + timedelta(seconds=duration)
        return (ends.replace(microsecond=0) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def without(arn: str, sids: list[str]) -> dict[str, Any] | None:
        document, _ = _policy_of(dynamodb, arn)
        if document is None:
            return None
        return {**document, "Statement": [
            s for s in document.get("Statement", []) if s.get("Sid") not in sids]}  # fmt: skip

    def revert() -> None:
        for arn, sids in reversed(paused):
            _put_policy(dynamodb, arn, partial(without, arn, sids))
        paused.clear()

    def with_pause(arn: str, sid: str) -> dict[str, Any]:
        document, _ = _policy_of(dynamodb, arn)
        document = document or {"Version": "2012-10-17", "Statement": []}
        added = _pause_statements(arn, context.account, until(), sid)
        return {**document, "Statement": [*document.get("Statement", []), *added]}

    try:
        for resource in context.targets.get("Tables", []):
            sid = f"DoNotModifyFisDynamoDbPauseReplication{next(_sid_counter)}"
            _put_policy(dynamodb, resource.arn, partial(with_pause, resource.arn, sid))
            paused.append((resource.arn, [f"{sid}Service", f"{sid}Role"]))
            log.info("FIS: replication of %s paused for %.1f s", resource.arn, duration)
    except Exception:
        revert()
        raise
    return Started(duration, revert)


def fis_wait(context: ActionContext) -> Started:
    return Started(_duration(context, "duration"))


ACTIONS: dict[str, ActionSpec] = {
    "aws:network:disrupt-connectivity": ActionSpec(
        disrupt_connectivity, "Subnets", "duration", ("duration",)
    ),
    "aws:rds:reboot-db-instances": ActionSpec(reboot_db_instances, "DBInstances"),
    "aws:rds:failover-db-cluster": ActionSpec(failover_db_cluster, "Clusters"),
    "aws:ec2:stop-instances": ActionSpec(
        stop_instances, "Instances", "startInstancesAfterDuration"
    ),
    "aws:s3:bucket-pause-replication": ActionSpec(
        bucket_pause_replication, "Buckets", "duration", ("duration", "region")
    ),
    "aws:dynamodb:global-table-pause-replication": ActionSpec(
        global_table_pause_replication, "Tables", "duration", ("duration",)
    ),
    "aws:fis:wait": ActionSpec(fis_wait, None, "duration", ("duration",)),
}
