"""Target resolution as FIS does it: resource type, ARNs or tags, filters, parameters,
selection mode.

"AWS FIS identifies all targets at the start of the experiment, before starting any of
the actions" and "If no targets are found, the experiment fails" (AWS FIS user guide,
"Targets for AWS FIS", https://docs.aws.amazon.com/fis/latest/userguide/targets.html).
The resources are described through the sandbox's own moto endpoint; a filter's ``path``
walks the describe output (``Placement.AvailabilityZone``, ``State.Name``); a list on
the way matches when any element does; ``values`` are alternatives; all filters and all
``resourceTags`` must match. Selection modes (same page and
CreateExperimentTemplateTargetInput): ``ALL``; ``COUNT(n)``: n chosen at random;
``PERCENT(n)``: n percent chosen at random (rounded down; FIS publishes no rounding rule).
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ClientFactory",
    "Resource",
    "TargetError",
    "describe_resources",
    "resolve_target",
    "select",
    "SUPPORTED_RESOURCE_TYPES",
]

log = logging.getLogger(__name__)

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client


class TargetError(ValueError):
    """A target the sandbox cannot resolve (unknown type, bad selection mode)."""


@dataclass(frozen=True)
class Resource:
    """One resolved target: its ARN, its tags and what its describe call returned."""

    arn: str
    tags: dict[str, str]
    description: dict[str, Any] = field(hash=False, compare=False)


def _tags(items: Iterable[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in items or []}


def _subnets(client: ClientFactory, region: str, account: str, parameters: dict[str, str]):
    filters = []
    zone = parameters.get("availabilityZoneIdentifier")
    if zone:  # an AZ name (eu-south-1a) or an AZ id (eus1-az1)
        name = "availability-zone" if zone.startswith(region) else "availability-zone-id"
        filters.append({"Name": name, "Values": [zone]})
    if parameters.get("vpc"):
        filters.append({"Name": "vpc-id", "Values": [parameters["vpc"]]})
    pages = client("ec2", region).get_paginator("describe_subnets").paginate(Filters=filters)
    for page in pages:
        for subnet in page["Subnets"]:
            arn = subnet.get("SubnetArn") or (
                f"arn:aws:ec2:{region}:{account}:subnet/{subnet['SubnetId']}"
            )
            yield Resource(arn, _tags(subnet.get("Tags")), subnet)


def _instances(client: ClientFactory, region: str, account: str, parameters: dict[str, str]):
    for page in client("ec2", region).get_paginator("describe_instances").paginate():
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                arn = f"arn:aws:ec2:{region}:{account}:instance/{instance['InstanceId']}"
                yield Resource(arn, _tags(instance.get("Tags")), instance)


def _db_instances(client: ClientFactory, region: str, account: str, parameters: dict[str, str]):
    for page in client("rds", region).get_paginator("describe_db_instances").paginate():
        for db in page["DBInstances"]:
            yield Resource(db["DBInstanceArn"], _tags(db.get("TagList")), db)


def _db_clusters(client: ClientFactory, region: str, account: str, parameters: dict[str, str]):
    for page in client("rds", region).get_paginator("describe_db_clusters").paginate():
        for cluster in page["DBClusters"]:
            yield Resource(cluster["DBClusterArn"], _tags(cluster.get("TagList")), cluster)


def _global_tables(client: ClientFactory, region: str, account: str, parameters: dict[str, str]):
    dynamodb = client("dynamodb", region)
    for page in dynamodb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            table = dynamodb.describe_table(TableName=name)["Table"]
            if not table.get("Replicas"):
                continue  # not a global table (version 2019.11.21)
            tags = dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags")
            yield Resource(table["TableArn"], _tags(tags), table)


def _buckets(client: ClientFactory, region: str, account: str, parameters: dict[str, str]):
    s3 = client("s3", region)
    for bucket in s3.list_buckets().get("Buckets", []):
        name = bucket["Name"]
        located = s3.get_bucket_location(Bucket=name).get("LocationConstraint") or "us-east-1"
        if located != region:
            continue
        try:
            tags = s3.get_bucket_tagging(Bucket=name).get("TagSet")
        except s3.exceptions.ClientError:
            tags = []  # NoSuchTagSet
        yield Resource(f"arn:aws:s3:::{name}", _tags(tags), {"Name": name, **bucket})


_DESCRIBERS: dict[str, Callable[..., Iterator[Resource]]] = {
    "aws:ec2:subnet": _subnets,
    "aws:ec2:instance": _instances,
    "aws:rds:db": _db_instances,
    "aws:rds:cluster": _db_clusters,
    "aws:dynamodb:global-table": _global_tables,
    "aws:s3:bucket": _buckets,
}
SUPPORTED_RESOURCE_TYPES = tuple(_DESCRIBERS)


def describe_resources(
    client: ClientFactory, resource_type: str, region: str, account: str, parameters: dict
) -> list[Resource]:
    describer = _DESCRIBERS.get(resource_type)
    if describer is None:
        raise TargetError(
            f"resource type {resource_type!r} is not supported by the sandbox's FIS "
            f"emulation (supported: {', '.join(SUPPORTED_RESOURCE_TYPES)})"
        )
    return list(describer(client, region, account, parameters or {}))


def _values_at(document: Any, path: list[str]) -> Iterator[Any]:
    if isinstance(document, list):
        for item in document:
            yield from _values_at(item, path)
        return
    if not path:
        yield document
        return
    if isinstance(document, dict) and path[0] in document:
        yield from _values_at(document[path[0]], path[1:])


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _matches(resource: Resource, filters: list[dict[str, Any]]) -> bool:
    for item in filters:
        wanted = {str(v) for v in item.get("values", [])}
        found = {_text(v) for v in _values_at(resource.description, item["path"].split("."))}
        if not wanted & found:
            return False
    return True


_COUNT = re.compile(r"^COUNT\((\d+)\)$")
_PERCENT = re.compile(r"^PERCENT\((\d+)\)$")


def select(resources: list[Resource], mode: str, rng: random.Random) -> list[Resource]:
    """Apply ``selectionMode``; the random choice draws from ``rng`` (seedable)."""
    ordered = sorted(resources, key=lambda r: r.arn)
    text = (mode or "ALL").strip().upper()
    if text == "ALL":
        return ordered
    count = _COUNT.match(text)
    percent = _PERCENT.match(text)
    if count:
        wanted = int(count.group(1))
    elif percent and int(percent.group(1)) <= 100:
        wanted = math.floor(len(ordered) * int(percent.group(1)) / 100)
    else:
        raise TargetError(f"selectionMode {mode!r} is not ALL, COUNT(n) or PERCENT(n)")
    return sorted(rng.sample(ordered, min(wanted, len(ordered))), key=lambda r: r.arn)


# Resource types FIS resolves by tag through the Resource Groups Tagging API, so the
# experiment role needs tag:GetResources (the AWS managed policy
# AWSFaultInjectionSimulatorRDSAccess grants it for this, Sid "TargetResolutionByTags")
TAGGING_TYPES = {"aws:rds:db": "rds:db", "aws:rds:cluster": "rds:cluster"}
MAX_TAGGING_PAGES = 20


def _tagged_arns(
    client: ClientFactory, region: str, resource_type: str, tags: dict[str, str]
) -> set[str]:
    """The ARNs GetResources answers for ``tags`` (bounded pages)."""
    tagging = client("resourcegroupstaggingapi", region)
    request: dict[str, Any] = {
        "TagFilters": [{"Key": k, "Values": [v]} for k, v in tags.items()],
        "ResourceTypeFilters": [resource_type],
    }
    arns: set[str] = set()
    for _ in range(MAX_TAGGING_PAGES):
        page = tagging.get_resources(**request)
        arns |= {str(m["ResourceARN"]) for m in page.get("ResourceTagMappingList", [])}
        if not page.get("PaginationToken"):
            break
        request["PaginationToken"] = page["PaginationToken"]
    return arns


def resolve_target(
    client: ClientFactory, target: dict[str, Any], region: str, account: str, rng: random.Random
) -> list[Resource]:
    """The resources one template target selects (may be empty)."""
    found = describe_resources(
        client, target.get("resourceType", ""), region, account, target.get("parameters") or {}
    )
    arns = target.get("resourceArns")
    if arns:
        wanted = set(arns)
        found = [r for r in found if r.arn in wanted]
    tags = target.get("resourceTags") or {}
    found = [r for r in found if all(r.tags.get(k) == v for k, v in tags.items())]
    tagging_type = TAGGING_TYPES.get(target.get("resourceType", ""))
    if tags and tagging_type:
        tagged = _tagged_arns(client, region, tagging_type, tags)
        found = [r for r in found if r.arn in tagged]
    found = [r for r in found if _matches(r, target.get("filters") or [])]
    chosen = select(found, target.get("selectionMode", "ALL"), rng)
    log.debug("target %s: %d found, %d chosen", target.get("resourceType"), len(found), len(chosen))
    return chosen
