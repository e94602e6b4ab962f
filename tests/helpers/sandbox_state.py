"""What the sandbox holds of ours, read from its AWS (moto) and PostgreSQL state, not
from our records: shared by the recovery tests and bench/bench_interrupts.py."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOCK_TABLE = "gameday-locks"


def client(topology: Any, service: str, region: str | None = None) -> Any:
    return boto3.client(
        service,
        region_name=region or topology.region,
        endpoint_url=topology.endpoint_url,
        aws_access_key_id="SANDBOXDUMMYKEYID",
        aws_secret_access_key="sandbox-dummy-secret-access-key",
    )


def listener_rules(topology: Any) -> set[str]:
    elbv2 = client(topology, "elbv2")
    found = set()
    for balancer in elbv2.describe_load_balancers()["LoadBalancers"]:
        for listener in elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])[
            "Listeners"
        ]:
            rules = elbv2.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
            found |= {r["RuleArn"] for r in rules}
    return found


def nacls(topology: Any) -> dict[str, Any]:
    """Every network ACL of the primary VPC: entries, associated subnets, tags and
    whether it is the default, sorted (deep-compared before and after a run)."""
    found = client(topology, "ec2").describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [topology.primary.vpc_id]}]
    )["NetworkAcls"]
    return {
        acl["NetworkAclId"]: {
            "entries": sorted(json.dumps(e, sort_keys=True) for e in acl["Entries"]),
            "subnets": sorted(a["SubnetId"] for a in acl["Associations"]),
            "tags": sorted((t["Key"], t["Value"]) for t in acl.get("Tags", [])),
            "default": acl["IsDefault"],
        }
        for acl in found
    }


def drill_state(topology: Any) -> dict[str, Any]:
    """What the Full DR drill changes, as AWS describes it: the zone's record sets, the
    primary listener's rules (their content), the replica's resource policy."""
    records = client(topology, "route53").list_resource_record_sets(
        HostedZoneId=topology.hosted_zone_id
    )["ResourceRecordSets"]
    rules = client(topology, "elbv2").describe_rules(ListenerArn=topology.primary.listener_arn)
    replica_arn = topology.table_arn.replace(f":{topology.region}:", f":{topology.other_region}:")
    try:
        policy = client(topology, "dynamodb", topology.other_region).get_resource_policy(
            ResourceArn=replica_arn
        )["Policy"]
    except ClientError:
        policy = None
    return {
        "record_sets": sorted(json.dumps(r, sort_keys=True) for r in records),
        "listener_rules": sorted(
            json.dumps({k: v for k, v in r.items() if k != "RuleArn"}, sort_keys=True)
            for r in rules["Rules"]
        ),
        "replica_policy": policy,
    }


def waf_rules(topology: Any) -> set[str]:
    wafv2 = client(topology, "wafv2")
    found = set()
    for acl in wafv2.list_web_acls(Scope="REGIONAL")["WebACLs"]:
        rules = wafv2.get_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"])["WebACL"]
        found |= {f"{acl['Name']}/{r['Name']}" for r in rules.get("Rules", [])}
    return found


def our_items(topology: Any) -> dict[str, list[str]]:
    """Conflict items (chaos-*) and write markers (gameday-marker#*) in each region."""
    found = {}
    for region in (topology.region, topology.other_region):
        items = client(topology, "dynamodb", region).scan(TableName=topology.table_name)["Items"]
        keys = [str(next(iter(v.values()))) for item in items for v in item.values()]
        found[region] = sorted(k for k in keys if k.startswith(("chaos-", "gameday-marker#")))
    return found


def locks(topology: Any) -> list[Any]:
    dynamodb = client(topology, "dynamodb")
    try:
        return dynamodb.scan(TableName=LOCK_TABLE)["Items"]
    except dynamodb.exceptions.ResourceNotFoundException:
        return []


def postgres_markers(topology: Any) -> int:
    """Rows of the markers table, through the DB proxy (which refuses connections
    while a failover is emulated: retried, bounded)."""
    import psycopg

    for _ in range(100):
        try:
            with psycopg.connect(topology.db_dsn, connect_timeout=5, autocommit=True) as conn:
                try:
                    return int(conn.execute("SELECT count(*) FROM gameday_markers").fetchone()[0])
                except psycopg.errors.UndefinedTable:
                    return 0
        except psycopg.OperationalError:
            time.sleep(0.2)
    raise AssertionError("the sandbox database never answered")


def state(topology: Any) -> dict[str, Any]:
    return {
        "listener rules": listener_rules(topology),
        "waf rules": waf_rules(topology),
        "conflict items and dynamodb markers": our_items(topology),
        "lock items": len(locks(topology)),
        "postgres markers": postgres_markers(topology),
    }


def var_file(topology: Any, path: Path, **overrides: str) -> Path:
    """The sandbox's env file with ``overrides`` (a var file's values override the
    environment in ``chaos run``, so they must go in the file)."""
    text = Path(topology.env_file).read_text()
    for key, value in overrides.items():
        text = re.sub(rf"(?m)^{key}=.*$", "", text) + f"\n{key}={value}\n"
    path.write_text(text)
    return path
