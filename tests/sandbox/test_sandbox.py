"""The sandbox: seeded topology, env file, DNS failover, start/stop hygiene."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from chaosaws_ext.core.waiting import wait_until
from sandbox.envfile import ENV_KEYS, parse_env
from sandbox.server import Sandbox, Topology
from sandbox.topology import RegionTopology
from tests.helpers import REPO

TIME_SCALE = 0.02  # health check interval 10 s -> 0.2 s
REPO = REPO


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(time_scale=TIME_SCALE, health_check_request_interval=10)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def topology(sandbox: Sandbox) -> Topology:
    assert sandbox.topology is not None
    return sandbox.topology


def test_network_of_both_regions(sandbox: Sandbox, topology: Topology) -> None:
    for side, cidr in ((topology.primary, "10.0.0.0/16"), (topology.standby, "10.1.0.0/16")):
        ec2 = sandbox.client("ec2", side.region)
        vpc = ec2.describe_vpcs(VpcIds=[side.vpc_id])["Vpcs"][0]
        assert vpc["CidrBlock"] == cidr
        subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [side.vpc_id]}])[
            "Subnets"
        ]
        assert len(subnets) == 9
        octet = cidr.split(".")[1]
        expected = {
            f"10.{octet}.{n}.0/24": f"{side.region}{az}"
            for numbers in ((1, 2, 3), (11, 12, 13), (21, 22, 23))
            for n, az in zip(numbers, "abc", strict=True)
        }
        assert {s["CidrBlock"]: s["AvailabilityZone"] for s in subnets} == expected
        assert side.azs == [f"{side.region}{az}" for az in "abc"]


def test_load_balancer_targets_listener_and_waf(sandbox: Sandbox, topology: Topology) -> None:
    for side in (topology.primary, topology.standby):
        elbv2 = sandbox.client("elbv2", side.region)
        lb = elbv2.describe_load_balancers(LoadBalancerArns=[side.load_balancer_arn])[
            "LoadBalancers"
        ][0]
        assert lb["Scheme"] == "internet-facing"
        assert {z["SubnetId"] for z in lb["AvailabilityZones"]} == set(
            side.subnets["public"].values()
        )
        health = elbv2.describe_target_health(TargetGroupArn=side.target_group_arn)
        targets = {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]}
        assert targets == set(side.target_ips.values())
        assert len(targets) == 3
        private = {az: cidr for az, cidr in side.subnets["private"].items()}
        assert set(private) == set(side.target_ips)
        listeners = elbv2.describe_listeners(LoadBalancerArn=side.load_balancer_arn)["Listeners"]
        assert [(x["Port"], x["Protocol"]) for x in listeners] == [(side.alb_address[1], "HTTP")]
        assert listeners[0]["DefaultActions"][0]["TargetGroupArn"] == side.target_group_arn
        wafv2 = sandbox.client("wafv2", side.region)
        acl = wafv2.get_web_acl_for_resource(ResourceArn=side.load_balancer_arn)["WebACL"]
        assert acl["ARN"] == side.web_acl_arn
        assert [r["Name"] for r in acl["Rules"]] == ["block-admin-paths"]
    # one port for both regions' public faces, different loopback addresses
    assert topology.primary.alb_address[1] == topology.standby.alb_address[1]
    assert topology.primary.alb_address[0] != topology.standby.alb_address[0]


def test_database_and_table(sandbox: Sandbox, topology: Topology) -> None:
    rds = sandbox.client("rds", topology.region)
    db = rds.describe_db_instances(DBInstanceIdentifier="production-analytics-db")["DBInstances"][0]
    assert (db["Engine"], db["MultiAZ"], db["DBInstanceStatus"]) == ("postgres", True, "available")
    assert db["AvailabilityZone"] == "eu-south-1a"
    table = sandbox.client("dynamodb", topology.region).describe_table(
        TableName="production-ai-support-tickets"
    )["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["ticket_id", "created_at"]
    assert table["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert "eu-west-1" in [r["RegionName"] for r in table.get("Replicas", [])]
    replica = sandbox.client("dynamodb", "eu-west-1").describe_table(
        TableName="production-ai-support-tickets"
    )["Table"]
    assert replica["TableStatus"] == "ACTIVE"
    assert topology.table_regions == ["eu-south-1", "eu-west-1"]


def test_hosted_zone_failover_records_and_health_checks(
    sandbox: Sandbox, topology: Topology
) -> None:
    route53 = sandbox.client("route53", "us-east-1")
    zone = route53.get_hosted_zone(Id=topology.hosted_zone_id)["HostedZone"]
    assert zone["Name"] == "ai-support.example.com."
    records = [
        r
        for r in route53.list_resource_record_sets(HostedZoneId=topology.hosted_zone_id)[
            "ResourceRecordSets"
        ]
        if r["Type"] == "A"
    ]
    assert {r["Failover"]: r["HealthCheckId"] for r in records} == topology.health_check_ids
    assert {r["Name"] for r in records} == {"api.ai-support.example.com."}
    # The DR guide's Example 5: alias records to the two ALBs, with health checks and
    # EvaluateTargetHealth; an alias record has no TTL of its own.
    assert all("TTL" not in r and "ResourceRecords" not in r for r in records)
    elbv2 = {
        region: sandbox.client("elbv2", region).describe_load_balancers()["LoadBalancers"][0]
        for region in (topology.region, topology.other_region)
    }
    aliases = {
        r["Failover"]: {**r["AliasTarget"], "DNSName": r["AliasTarget"]["DNSName"].rstrip(".")}
        for r in records
    }
    assert aliases == {
        role: {
            "HostedZoneId": elbv2[side.region]["CanonicalHostedZoneId"],
            "DNSName": side.load_balancer_dns,
            "EvaluateTargetHealth": True,
        }
        for role, side in (("PRIMARY", topology.primary), ("SECONDARY", topology.standby))
    }
    # one answer per primary ALB node, each with the ELB record's TTL: 60 s x 0.02
    assert [ttl for _, ttl in sandbox.resolve(topology.record_name)] == [1, 1, 1]
    for role, side in (("PRIMARY", topology.primary), ("SECONDARY", topology.standby)):
        config = route53.get_health_check(HealthCheckId=topology.health_check_ids[role])[
            "HealthCheck"
        ]["HealthCheckConfig"]
        assert config["IPAddress"] == side.alb_address[0]
        assert config["Port"] == side.alb_address[1]
        assert config["ResourcePath"] == "/health"
        assert config["FullyQualifiedDomainName"] == side.load_balancer_dns
        assert (config["RequestInterval"], config["FailureThreshold"]) == (10, 3)


def test_alarms(sandbox: Sandbox, topology: Topology) -> None:
    names = set()
    for region in {a["region"] for a in topology.alarms}:
        alarms = sandbox.client("cloudwatch", region).describe_alarms()["MetricAlarms"]
        names |= {a["AlarmName"] for a in alarms}
    assert {a["name"] for a in topology.alarms} == names
    assert {"route53-health-check-failing", "production-api-5xx"} <= names


def sandbox_db_host(topology: Topology) -> str:
    host = topology.db_dsn.split("@", 1)[1].split(":", 1)[0]
    assert host.startswith("127.") and host != "127.0.0.1"
    return host


def test_env_file_has_every_key(topology: Topology) -> None:
    text = Path(topology.env_file).read_text()
    env = parse_env(text)
    assert set(ENV_KEYS) <= set(env)
    keys = [line.split("=", 1)[0] for line in text.splitlines() if line and line[0] != "#"]
    assert len(keys) == len(set(keys)), "a key written twice"
    assert env["AWS_ENDPOINT_URL"] == topology.endpoint_url
    assert env["GAMEDAY_TARGET"] == "sandbox"
    assert env["GAMEDAY_VPC_ID"] == topology.primary.vpc_id
    assert env["GAMEDAY_HEALTH_CHECK_ID"] == topology.health_check_ids["PRIMARY"]
    assert env["GAMEDAY_SUBNET_TAG"] == ""
    host, port = topology.primary.alb_address
    assert env["GAMEDAY_API_URL"] == f"http://{host}:{port}/api/tickets"
    dns_host, dns_port = topology.dns_server
    assert env["GAMEDAY_DNS_SERVER"] == f"{dns_host}:{dns_port}"
    assert env["GAMEDAY_DB_DSN"] == topology.db_dsn
    # the described RDS endpoint: a loopback address of this sandbox's own, port 5432
    assert topology.db_dsn == f"postgresql://postgres@{sandbox_db_host(topology)}:5432/postgres"
    assert (Path(topology.env_file).stat().st_mode & 0o777) == 0o600


def test_env_file_covers_the_staging_example(topology: Topology) -> None:
    """Every key the experiments' example env names is in the sandbox env file."""
    example = parse_env((REPO / "experiments/env/staging.example.env").read_text())
    env = parse_env(Path(topology.env_file).read_text())
    not_for_sandbox = {"GAMEDAY_LEDGER"}  # `gameday run` sets it under --out
    assert set(example) - not_for_sandbox <= set(env)


def test_api_answers_through_the_alb(topology: Topology) -> None:
    response = requests.get(topology.api_url, timeout=5)
    assert response.status_code == 200
    assert response.json()["region"] == "eu-south-1"


def test_each_regions_api_stores_tickets_in_its_own_replica(
    sandbox: Sandbox, topology: Topology
) -> None:
    """A POST through each region's ALB is in that region's replica of the tickets table
    once acknowledged (strongly consistent read there), read back through the API; the
    global table then carries it to the other region."""
    for side in (topology.primary, topology.standby):
        host, port = side.alb_address
        ticket_id = f"sandbox-test-{side.region}"
        posted = requests.post(
            f"http://{host}:{port}/api/tickets", json={"ticket_id": ticket_id}, timeout=5
        )
        assert posted.status_code == 201 and posted.json()["region"] == side.region
        dynamodb = sandbox.client("dynamodb", side.region)
        key = {"ticket_id": {"S": ticket_id}, "created_at": {"S": posted.json()["created_at"]}}
        item = dynamodb.get_item(TableName=topology.table_name, Key=key, ConsistentRead=True)
        assert item["Item"]["region"] == {"S": side.region}
        read = requests.get(f"http://{host}:{port}/api/tickets/{ticket_id}", timeout=5)
        assert read.status_code == 200 and read.json()["ticket_id"] == ticket_id
        other = topology.standby if side is topology.primary else topology.primary
        replica = sandbox.client("dynamodb", other.region)

        def replicated(client: Any = replica, key: dict[str, Any] = key) -> bool:
            return "Item" in client.get_item(TableName=topology.table_name, Key=key)

        wait_until(replicated, timeout=10, interval=0.05,
                   what=f"{ticket_id} replicated to {other.region}")  # fmt: skip
        for region in (side.region, other.region):
            sandbox.client("dynamodb", region).delete_item(TableName=topology.table_name, Key=key)


def _nodes(side: RegionTopology) -> list[str]:
    """What the side's ALB (and an alias to it) answers: its nodes, in AZ order."""
    return [side.alb_nodes[az] for az in side.azs]


def test_dns_fails_over_when_the_primary_health_check_fails(
    sandbox: Sandbox, topology: Topology
) -> None:
    """The healthcheck-path-block story: a listener rule answers 503 on /health."""
    primary_ips, standby_ips = _nodes(topology.primary), _nodes(topology.standby)
    cloudwatch = sandbox.client("cloudwatch", "us-east-1")

    def alarm_state(name: str) -> str:
        return cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]

    record = topology.record_name
    primary_hc = topology.health_check_ids["PRIMARY"]
    wait_until(lambda: sandbox.health.is_healthy(primary_hc), timeout=10, interval=0.05)
    assert [ip for ip, _ in sandbox.resolve(record)] == primary_ips
    elbv2 = sandbox.client("elbv2", topology.region)
    rule = elbv2.create_rule(
        ListenerArn=topology.primary.listener_arn,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/health"]}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "503", "ContentType": "text/plain"},
            }
        ],
    )["Rules"][0]["RuleArn"]
    try:
        wait_until(
            lambda: sandbox.resolve(record) == [(ip, 1) for ip in standby_ips],
            timeout=15,
            interval=0.05,
            what="DNS answers the standby",
        )
        assert not sandbox.health.is_healthy(primary_hc)
        statuses = [
            o["StatusReport"]["Status"]
            for o in sandbox.client("route53", "us-east-1").get_health_check_status(
                HealthCheckId=primary_hc
            )["HealthCheckObservations"]
        ]
        assert statuses and all(s.startswith("Failure: HTTP Status Code 503") for s in statuses)
        import dns.resolver

        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [topology.dns_server[0]]
        resolver.port = topology.dns_server[1]
        answer = resolver.resolve(record, "A", lifetime=5)
        assert [a.address for a in answer] == standby_ips
        assert answer.rrset.ttl == 1
        # the seed's alarm on the primary's HealthCheckStatus (Period 60 s x 0.02)
        wait_until(
            lambda: alarm_state("route53-primary-endpoint-unhealthy") == "ALARM",
            timeout=15,
            interval=0.05,
            what="route53-primary-endpoint-unhealthy in ALARM",
        )
        assert alarm_state("route53-secondary-endpoint-unhealthy") == "OK"
    finally:
        elbv2.delete_rule(RuleArn=rule)
    wait_until(
        lambda: sandbox.resolve(record) == [(ip, 1) for ip in primary_ips],
        timeout=15,
        interval=0.05,
        what="DNS answers the primary again",
    )
    wait_until(
        lambda: alarm_state("route53-primary-endpoint-unhealthy") == "OK",
        timeout=15,
        interval=0.05,
        what="alarm OK again",
    )


def test_dns_fails_over_when_the_primary_albs_targets_are_unhealthy(
    sandbox: Sandbox, topology: Topology
) -> None:
    """EvaluateTargetHealth: the primary ALB's target group turns unhealthy while the
    Route 53 health check through its listener still passes (the ALB fails open), and
    DNS answers the standby; it answers the primary again once the targets recover."""
    primary_ips, standby_ips = _nodes(topology.primary), _nodes(topology.standby)
    record, primary_hc = topology.record_name, topology.health_check_ids["PRIMARY"]
    answers_primary = [(ip, 1) for ip in primary_ips]
    wait_until(lambda: sandbox.resolve(record) == answers_primary, timeout=10, interval=0.05)
    elbv2 = sandbox.client("elbv2", topology.region)
    group = topology.primary.target_group_arn
    elbv2.modify_target_group(TargetGroupArn=group, HealthCheckPath="/not-served")
    try:
        wait_until(
            lambda: sandbox.resolve(record) == [(ip, 1) for ip in standby_ips],
            timeout=15,
            interval=0.05,
            what="DNS answers the standby",
        )
        states = {
            d["TargetHealth"]["State"]
            for d in elbv2.describe_target_health(TargetGroupArn=group)["TargetHealthDescriptions"]
        }
        assert states == {"unhealthy"}
        assert sandbox.health.is_healthy(primary_hc)  # the health check itself still passes
    finally:
        elbv2.modify_target_group(TargetGroupArn=group, HealthCheckPath="/health")
    wait_until(
        lambda: sandbox.resolve(record) == [(ip, 1) for ip in primary_ips],
        timeout=15,
        interval=0.05,
        what="DNS answers the primary again",
    )


def test_database_proxy_follows_the_rds_failover(sandbox: Sandbox, topology: Topology) -> None:
    import psycopg

    def query() -> bool:
        try:
            with psycopg.connect(topology.db_dsn, connect_timeout=2) as connection:
                return connection.execute("select 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False

    assert query()
    sandbox.client("rds", topology.region).reboot_db_instance(
        DBInstanceIdentifier=topology.db_instance_id, ForceFailover=True
    )
    assert not sandbox.rds.is_available(topology.db_instance_id)
    # the proxy refuses during the failover window (1.8 s here; on a very slow machine
    # the window may already be over when the connection arrives)
    refused = not query()
    assert refused or sandbox.rds.is_available(topology.db_instance_id)
    assert sandbox.db_proxy.refused >= 1 or not refused
    wait_until(query, timeout=30, interval=0.1, what="database reachable after failover")
    assert sandbox.rds.writer_az(topology.db_instance_id) == "eu-south-1b"


def test_the_described_rds_endpoint_is_where_clients_connect(
    sandbox: Sandbox, topology: Topology
) -> None:
    import psycopg

    found = sandbox.client("rds", topology.region).describe_db_instances(
        DBInstanceIdentifier=topology.db_instance_id
    )["DBInstances"][0]["Endpoint"]
    address = found["Address"]
    assert found["Port"] == 5432 and address.startswith("127.") and address != "127.0.0.1"
    assert sandbox.db_proxy.address == (address, 5432)
    assert topology.db_dsn == f"postgresql://postgres@{address}:5432/postgres"
    with psycopg.connect(
        host=address, port=5432, user="postgres", dbname="postgres", connect_timeout=5
    ) as connection:
        assert connection.execute("select 1").fetchone() == (1,)


@pytest.mark.e2e
def test_python_m_sandbox_runs_until_sigint(tmp_path: Path) -> None:
    env_file = tmp_path / "sandbox.env"
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--time-scale", "0.05", "--env-file", str(env_file)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops the sandbox" in line:
                break
        output = "".join(lines)
        assert f"env file: {env_file}" in output
        assert "GAMEDAY_API_URL=http://" in output
        env = parse_env(env_file.read_text())
        assert requests.get(env["GAMEDAY_API_URL"], timeout=5).status_code == 200
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0, output + rest
    assert "sandbox stopped" in rest
