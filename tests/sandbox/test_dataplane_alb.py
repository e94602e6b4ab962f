"""The ALB emulator over in-process moto: routing, rules, WAF, NACL black holes, health."""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest

from chaosaws_ext.core.waiting import wait_until
from sandbox.elbv2.http import AlbEmulator
from sandbox.workload.api import ApiInstance
from tests.conftest import REGION

# Target group figures as an operator would set them; the emulator scales them.
INTERVAL_S, HEALTHY, UNHEALTHY = 5, 2, 2
TIME_SCALE = 0.05  # interval 0.25 s: an unhealthy mark after about 0.5 s


@dataclass
class Stack:
    alb: AlbEmulator
    instances: dict[str, ApiInstance]  # az -> instance
    lb_arn: str
    listener_arn: str
    tg_arn: str
    vpc_id: str
    private: dict[str, str]  # az -> subnet id
    targets: dict[str, str]  # az -> target ip

    def get(self, path: str, method: str = "GET", body: bytes | None = None):
        host, port = self.alb.address
        connection = http.client.HTTPConnection(host, port, timeout=5)
        try:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture
def stack(mocked_aws: None) -> Iterator[Stack]:
    ec2 = boto3.client("ec2", region_name=REGION)
    elbv2 = boto3.client("elbv2", region_name=REGION)
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    azs = [f"{REGION}a", f"{REGION}b"]
    public, private, targets = [], {}, {}
    for index, az in enumerate(azs):
        public.append(
            ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=az)[
                "Subnet"
            ]["SubnetId"]
        )
        private[az] = ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.0.{10 + index}.0/24", AvailabilityZone=az
        )["Subnet"]["SubnetId"]
        targets[az] = f"10.0.{10 + index}.10"
    lb_arn = elbv2.create_load_balancer(Name="tickets", Subnets=public)["LoadBalancers"][0][
        "LoadBalancerArn"
    ]
    tg_arn = elbv2.create_target_group(
        Name="tickets-api",
        Protocol="HTTP",
        Port=8080,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckPath="/health",
        HealthCheckIntervalSeconds=INTERVAL_S,
        HealthCheckTimeoutSeconds=2,
        HealthyThresholdCount=HEALTHY,
        UnhealthyThresholdCount=UNHEALTHY,
    )["TargetGroups"][0]["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": ip} for ip in targets.values()])
    listener_arn = elbv2.create_listener(
        LoadBalancerArn=lb_arn,
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
    )["Listeners"][0]["ListenerArn"]
    instances = [ApiInstance(f"api-{az[-1]}", REGION, az) for az in azs]
    addresses = {targets[i.az]: i.start() for i in instances}
    alb = AlbEmulator(
        REGION,
        lb_arn,
        addresses,
        time_scale=TIME_SCALE,
        connect_timeout_s=0.05,
        publish_health=True,
    )
    alb.start()
    try:
        by_az = {i.az: i for i in instances}
        yield Stack(alb, by_az, lb_arn, listener_arn, tg_arn, vpc_id, private, targets)
    finally:
        alb.stop()
        for instance in instances:
            instance.stop()


def _state(stack: Stack, az: str) -> str:
    return str(stack.alb.target_health()[stack.tg_arn][stack.targets[az]]["state"])


def _blackhole(stack: Stack, az: str) -> tuple[str, str]:
    """Swap the private subnet of ``az`` to an empty NACL (implicit deny); returns
    (subnet's original NACL id, new association id) for the undo."""
    ec2 = boto3.client("ec2", region_name=REGION)
    subnet = stack.private[az]
    acl = ec2.create_network_acl(VpcId=stack.vpc_id)["NetworkAcl"]["NetworkAclId"]
    current = next(
        (a, n["NetworkAclId"])
        for n in ec2.describe_network_acls()["NetworkAcls"]
        for a in n["Associations"]
        if a["SubnetId"] == subnet
    )
    new = ec2.replace_network_acl_association(
        AssociationId=current[0]["NetworkAclAssociationId"], NetworkAclId=acl
    )["NewAssociationId"]
    return current[1], new


def test_requests_reach_the_instances_round_robin(stack: Stack) -> None:
    served = []
    for _ in range(4):
        status, headers, body = stack.get("/api/tickets")
        assert status == 200
        assert headers["X-Served-By"] in body.decode()
        served.append(headers["X-Served-By"])
    assert served[0] != served[1] and served[:2] == served[2:]
    assert set(served) == {f"{REGION}a", f"{REGION}b"}
    status, headers, body = stack.get("/api/tickets", "POST", b'{"subject": "x"}')
    assert status == 201 and b'"subject": "x"' in body
    health = boto3.client("elbv2", region_name=REGION).describe_target_health(
        TargetGroupArn=stack.tg_arn
    )
    assert {d["TargetHealth"]["State"] for d in health["TargetHealthDescriptions"]} == {"healthy"}


def test_fixed_response_rule_takes_effect_and_goes_away(stack: Stack) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    assert stack.get("/health")[0] == 200
    rule = elbv2.create_rule(
        ListenerArn=stack.listener_arn,
        Priority=10,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/heal?h*"]}}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {
                    "StatusCode": "503",
                    "ContentType": "text/plain",
                    "MessageBody": "maintenance",
                },
            }
        ],
    )["Rules"][0]["RuleArn"]
    status, headers, body = stack.get("/health")
    assert (status, body, headers["Content-Type"]) == (503, b"maintenance", "text/plain")
    assert stack.get("/api/tickets")[0] == 200
    elbv2.delete_rule(RuleArn=rule)
    assert stack.get("/health")[0] == 200


def test_host_header_rule_only_for_its_host(stack: Stack) -> None:
    boto3.client("elbv2", region_name=REGION).create_rule(
        ListenerArn=stack.listener_arn,
        Priority=5,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["*.example.com"]}}],
        Actions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "418", "ContentType": "text/plain"},
            }
        ],
    )
    host, port = stack.alb.address
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/api/tickets", headers={"Host": "Tickets.Example.com:80"})
    assert connection.getresponse().status == 418
    connection.close()
    assert stack.get("/api/tickets")[0] == 200


def test_waf_byte_match_block_on_health(stack: Stack) -> None:
    waf = boto3.client("wafv2", region_name=REGION)
    visibility = {
        "SampledRequestsEnabled": False,
        "CloudWatchMetricsEnabled": False,
        "MetricName": "m",
    }
    acl = waf.create_web_acl(
        Name="tickets",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig=visibility,
        Rules=[
            {
                "Name": "count-api",
                "Priority": 0,
                "Statement": {
                    "ByteMatchStatement": {
                        "SearchString": b"/api",
                        "FieldToMatch": {"UriPath": {}},
                        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                        "PositionalConstraint": "STARTS_WITH",
                    }
                },
                "Action": {"Count": {}},
                "VisibilityConfig": visibility,
            },
            {
                "Name": "block-health",
                "Priority": 1,
                "Statement": {
                    "ByteMatchStatement": {
                        "SearchString": b"/health",
                        "FieldToMatch": {"UriPath": {}},
                        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                        "PositionalConstraint": "EXACTLY",
                    }
                },
                "Action": {"Block": {}},
                "VisibilityConfig": visibility,
            },
        ],
    )["Summary"]
    waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=stack.lb_arn)
    assert stack.get("/health")[0] == 403
    assert stack.get("/health/deep")[0] == 404  # EXACTLY: passes WAF, the API has no route
    assert stack.get("/api/tickets")[0] == 200  # Count does not terminate
    waf.disassociate_web_acl(ResourceArn=stack.lb_arn)
    assert stack.get("/health")[0] == 200


def test_blackholed_target_fails_until_the_health_check_takes_it_out(stack: Stack) -> None:
    bad, good = f"{REGION}a", f"{REGION}b"
    original_acl, association = _blackhole(stack, bad)
    t0 = time.monotonic()
    statuses: list[tuple[float, int]] = []

    def unhealthy_and_served() -> bool:
        statuses.append((time.monotonic() - t0, stack.get("/api/tickets")[0]))
        return _state(stack, bad) == "unhealthy"

    wait_until(unhealthy_and_served, timeout=10, interval=0.01, what="target a unhealthy")
    marked = time.monotonic() - t0
    failures = [t for t, status in statuses if status != 200]
    assert failures, "requests routed to the black-holed AZ must fail before the check acts"
    assert {status for _, status in statuses} <= {200, 504}
    # scaled interval x threshold, with one interval of phase slack and scheduling noise
    assert marked <= (UNHEALTHY + 1) * INTERVAL_S * TIME_SCALE + 1.0
    for _ in range(6):
        status, headers, _ = stack.get("/api/tickets")
        assert (status, headers["X-Served-By"]) == (200, good)
    health = boto3.client("elbv2", region_name=REGION).describe_target_health(
        TargetGroupArn=stack.tg_arn
    )
    states = {d["Target"]["Id"]: d["TargetHealth"] for d in health["TargetHealthDescriptions"]}
    assert states[stack.targets[bad]]["State"] == "unhealthy"
    assert states[stack.targets[bad]]["Reason"] == "Target.Timeout"

    boto3.client("ec2", region_name=REGION).replace_network_acl_association(
        AssociationId=association, NetworkAclId=original_acl
    )
    wait_until(lambda: _state(stack, bad) == "healthy", timeout=10, interval=0.02, what="back")
    served = {stack.get("/api/tickets")[1]["X-Served-By"] for _ in range(4)}
    assert served == {bad, good}


def test_all_targets_unhealthy_fails_open(stack: Stack) -> None:
    for az in stack.targets:
        _blackhole(stack, az)
    wait_until(
        lambda: all(_state(stack, az) == "unhealthy" for az in stack.targets),
        timeout=10,
        interval=0.02,
        what="both unhealthy",
    )
    # routed to all targets anyway: each attempt times out at the NACL
    assert stack.get("/api/tickets")[0] == 504


def test_fail_open_reaches_a_target_whose_health_check_alone_fails(stack: Stack) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    elbv2.modify_target_group(TargetGroupArn=stack.tg_arn, HealthCheckPath="/missing")
    wait_until(
        lambda: all(_state(stack, az) == "unhealthy" for az in stack.targets),
        timeout=10,
        interval=0.02,
        what="both unhealthy",
    )
    reason = stack.alb.target_health()[stack.tg_arn][stack.targets[f"{REGION}a"]]["reason"]
    assert reason == "Target.ResponseCodeMismatch"
    served = {stack.get("/api/tickets")[1]["X-Served-By"] for _ in range(4)}
    assert served == {f"{REGION}a", f"{REGION}b"}


def test_public_subnets_blackholed_for_clients_drops_the_connection(stack: Stack) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    lb = boto3.client("elbv2", region_name=REGION).describe_load_balancers(
        LoadBalancerArns=[stack.lb_arn]
    )["LoadBalancers"][0]
    acl = ec2.create_network_acl(VpcId=stack.vpc_id)["NetworkAcl"]["NetworkAclId"]
    for zone in lb["AvailabilityZones"]:
        association = next(
            a["NetworkAclAssociationId"]
            for n in ec2.describe_network_acls()["NetworkAcls"]
            for a in n["Associations"]
            if a["SubnetId"] == zone["SubnetId"]
        )
        ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        stack.get("/api/tickets")


def test_a_dead_instance_gets_502_until_its_health_check_fails(stack: Stack) -> None:
    bad, good = f"{REGION}a", f"{REGION}b"
    stack.instances[bad].stop()
    statuses: list[int] = []

    def unhealthy_and_served() -> bool:
        statuses.append(stack.get("/api/tickets")[0])
        return _state(stack, bad) == "unhealthy"

    wait_until(unhealthy_and_served, timeout=10, interval=0.01, what="dead target unhealthy")
    assert set(statuses) <= {200, 502}
    health = stack.alb.target_health()[stack.tg_arn][stack.targets[bad]]
    assert health["reason"] == "Target.FailedHealthChecks"
    assert {stack.get("/api/tickets")[1]["X-Served-By"] for _ in range(4)} == {good}


def test_unhealthy_instance_leaves_rotation_and_returns(stack: Stack) -> None:
    bad = f"{REGION}a"
    stack.instances[bad].set_healthy(False)
    wait_until(lambda: _state(stack, bad) == "unhealthy", 10, 0.02, "unhealthy")
    assert {stack.get("/api/tickets")[1]["X-Served-By"] for _ in range(4)} == {f"{REGION}b"}
    stack.instances[bad].set_healthy(True)
    wait_until(lambda: _state(stack, bad) == "healthy", 10, 0.02, "healthy again")


def test_waf_ip_set_allow_wins_unless_the_block_comes_first(stack: Stack) -> None:
    """WAF stops at the first terminating match: an IP-set Allow for the client ahead of
    a Block lets /health through; the same Block at a lower priority takes effect."""
    waf = boto3.client("wafv2", region_name=REGION)
    visibility = {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False}
    ip_set = waf.create_ip_set(
        Name="checkers",
        Scope="REGIONAL",
        IPAddressVersion="IPV4",
        Addresses=[f"{stack.alb.client_ip}/32"],
    )["Summary"]

    def rules(block_priority: int) -> list[dict]:
        return [
            {
                "Name": "allow-checkers",
                "Priority": 5,
                "Statement": {"IPSetReferenceStatement": {"ARN": ip_set["ARN"]}},
                "Action": {"Allow": {}},
                "VisibilityConfig": {**visibility, "MetricName": "allow"},
            },
            {
                "Name": "block-health",
                "Priority": block_priority,
                "Statement": {
                    "ByteMatchStatement": {
                        "SearchString": b"/health",
                        "FieldToMatch": {"UriPath": {}},
                        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                        "PositionalConstraint": "EXACTLY",
                    }
                },
                "Action": {"Block": {}},
                "VisibilityConfig": {**visibility, "MetricName": "block"},
            },
        ]

    acl = waf.create_web_acl(
        Name="tickets",
        Scope="REGIONAL",
        DefaultAction={"Block": {}},
        VisibilityConfig={**visibility, "MetricName": "acl"},
        Rules=rules(block_priority=6),
    )["Summary"]
    waf.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=stack.lb_arn)
    assert stack.get("/health")[0] == 200  # the Allow comes first
    found = waf.get_web_acl(Name="tickets", Scope="REGIONAL", Id=acl["Id"])
    waf.update_web_acl(
        Name="tickets",
        Scope="REGIONAL",
        Id=acl["Id"],
        DefaultAction={"Block": {}},
        VisibilityConfig={**visibility, "MetricName": "acl"},
        Rules=rules(block_priority=0),
        LockToken=found["LockToken"],
    )
    assert stack.get("/health")[0] == 403
    assert stack.get("/api/tickets")[0] == 200  # still allowed by the IP set


def _move_subnet_to_empty_nacl(stack: Stack, subnet: str) -> None:
    ec2 = boto3.client("ec2", region_name=REGION)
    acl = ec2.create_network_acl(VpcId=stack.vpc_id)["NetworkAcl"]["NetworkAclId"]
    association = next(
        a["NetworkAclAssociationId"]
        for n in ec2.describe_network_acls()["NetworkAcls"]
        for a in n["Associations"]
        if a["SubnetId"] == subnet
    )
    ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=acl)


def _node_get(address: str, port: int, timeout: float) -> int | str:
    connection = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        connection.request("GET", "/api/tickets")
        return connection.getresponse().status
    except TimeoutError:
        return "timed out"
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__
    finally:
        connection.close()


def test_a_node_whose_public_subnet_drops_traffic_never_answers(stack: Stack) -> None:
    """The node of a zone whose public subnet is on a deny-all NACL holds the connection
    without an answer (the client times out); the other node answers, forwarding from
    its own subnet to the targets of both zones (cross-zone)."""
    from sandbox.elbv2.nodes import AlbNodes

    port = stack.alb.address[1]
    lb = boto3.client("elbv2", region_name=REGION).describe_load_balancers(
        LoadBalancerArns=[stack.lb_arn]
    )["LoadBalancers"][0]
    public = {z["ZoneName"]: z["SubnetId"] for z in lb["AvailabilityZones"]}
    zone_a, zone_b = sorted(public)
    # health checks off (every target stays in rotation): the routing alone is looked at
    boto3.client("elbv2", region_name=REGION).modify_target_group(
        TargetGroupArn=stack.tg_arn, HealthCheckEnabled=False
    )
    with AlbNodes(stack.alb) as nodes:
        node = nodes.by_az()
        assert all(_node_get(node[az], port, 2) == 200 for az in (zone_a, zone_b))
        _move_subnet_to_empty_nacl(stack, public[zone_a])
        assert _node_get(node[zone_a], port, 0.5) == "timed out"
        # node b reaches target a from its own subnet: both targets answer through it
        served = set()
        for _ in range(4):
            connection = http.client.HTTPConnection(node[zone_b], port, timeout=2)
            connection.request("GET", "/api/tickets")
            response = connection.getresponse()
            assert response.status == 200
            served.add(response.getheader("X-Sandbox-Target"))
            connection.close()
        assert served == set(stack.targets.values())
        # the hold is bounded: with a short bound the node closes without an answer
        stack.alb.dropped_hold_s = 0.2
        assert _node_get(node[zone_a], port, 2) == "RemoteDisconnected"
