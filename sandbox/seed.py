"""Seed the reference architecture into a moto server with plain API calls.

Not CloudFormation: moto's CloudFormation silently skips network ACLs, DynamoDB global
tables, CloudWatch alarms and WAFv2, and ``Fn::GetAZs ""`` answers us-east-1 zones.
Names and sizes come from the DR plan (seed 000): VPC 10.0.0.0/16 with public
(10.0.1-3.0/24), private (10.0.11-13.0/24) and data (10.0.21-23.0/24) subnets in three
AZs, the Multi-AZ PostgreSQL ``production-analytics-db`` (db.t3.medium, 15.4), the
``production-ai-support-tickets`` table (ticket_id + created_at, NEW_AND_OLD_IMAGES
stream), Route 53 failover records for ``api.ai-support.example.com`` with ``/health``
checks (FailureThreshold 3), and the seed's CloudWatch alarms.

Seeding is split in steps because some values exist only once the data plane runs
(the ALB emulator's loopback port becomes the listener's port and the health check's).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ENVIRONMENT = "production"
PRIMARY_REGION = "eu-south-1"
STANDBY_REGION = "eu-west-1"
AZ_SUFFIXES = ("a", "b", "c")
# The DR plan gives the primary VPC; the standby's range is ours (non-overlapping).
VPC_CIDRS = {PRIMARY_REGION: "10.0.0.0/16", STANDBY_REGION: "10.1.0.0/16"}
# Third octet per tier and AZ, as in the plan's multi-az-vpc.yaml.
SUBNET_OCTETS = {"public": (1, 2, 3), "private": (11, 12, 13), "data": (21, 22, 23)}
API_PORT = 8080
DB_INSTANCE_ID = f"{ENVIRONMENT}-analytics-db"
DB_PORT = 5432  # PostgreSQL's default port, what RDS describes
DB_NAME = "analytics"  # the database the DR guide's test_rds_failover.py connects to
TABLE_NAME = f"{ENVIRONMENT}-ai-support-tickets"
ZONE_NAME = "ai-support.example.com"
RECORD_NAME = f"api.{ZONE_NAME}"
HEALTH_PATH = "/health"
API_PATH = "/api/tickets"
# the ticket API's EC2 instances, one per AZ, tagged as an SRE tags them (FIS and our
# ec2-stop fault select them by this tag)
API_APP_TAG = ("app", "ticket-api")
API_INSTANCE_TYPE = "t3.small"
API_IMAGE_ID = "ami-12c6146b"  # any image id: moto checks none
ALARM_REGION_ROUTE53 = "us-east-1"  # Route 53 metrics exist only in us-east-1

ClientFactory = Callable[[str, str], Any]  # (service, region) -> boto3 client


@dataclass
class RegionNetwork:
    region: str
    vpc_id: str
    cidr: str
    # tier -> az -> subnet id
    subnets: dict[str, dict[str, str]] = field(default_factory=dict)
    # tier -> az -> subnet cidr
    subnet_cidrs: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def azs(self) -> list[str]:
        return list(self.subnets["public"])

    def all_subnet_ids(self) -> list[str]:
        return [s for tier in self.subnets.values() for s in tier.values()]


@dataclass
class LoadBalancerSeed:
    arn: str
    dns_name: str
    name: str
    target_group_arn: str
    # az -> the API target's IP (in that AZ's private subnet)
    target_ips: dict[str, str]
    security_group_id: str
    canonical_hosted_zone_id: str = ""


def azs_of(region: str) -> list[str]:
    return [f"{region}{suffix}" for suffix in AZ_SUFFIXES]


def _tags(name: str, **extra: str) -> list[dict[str, str]]:
    tags = {"Name": name, "Environment": ENVIRONMENT, **extra}
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def seed_network(ec2: Any, region: str) -> RegionNetwork:
    """VPC + public/private/data subnets in three AZs (nine subnets)."""
    cidr = VPC_CIDRS[region]
    vpc_id = ec2.create_vpc(
        CidrBlock=cidr,
        TagSpecifications=[{"ResourceType": "vpc", "Tags": _tags(f"{ENVIRONMENT}-vpc")}],
    )["Vpc"]["VpcId"]
    network = RegionNetwork(region=region, vpc_id=vpc_id, cidr=cidr)
    second_octet = cidr.split(".")[1]
    for tier, octets in SUBNET_OCTETS.items():
        network.subnets[tier] = {}
        network.subnet_cidrs[tier] = {}
        for number, (az, octet) in enumerate(zip(azs_of(region), octets, strict=True), 1):
            subnet_cidr = f"10.{second_octet}.{octet}.0/24"
            subnet_id = ec2.create_subnet(
                VpcId=vpc_id,
                CidrBlock=subnet_cidr,
                AvailabilityZone=az,
                TagSpecifications=[
                    {
                        "ResourceType": "subnet",
                        "Tags": _tags(f"{ENVIRONMENT}-{tier}-subnet-az{number}", Tier=tier),
                    }
                ],
            )["Subnet"]["SubnetId"]
            network.subnets[tier][az] = subnet_id
            network.subnet_cidrs[tier][az] = subnet_cidr
    return network


def target_ip(network: RegionNetwork, az: str) -> str:
    """The API instance's private address in ``az`` (the .10 of its private subnet)."""
    base = network.subnet_cidrs["private"][az].split("/")[0].rsplit(".", 1)[0]
    return f"{base}.10"


def seed_api_instances(ec2: Any, network: RegionNetwork) -> dict[str, str]:
    """One EC2 instance per AZ for the ticket API, in that AZ's private subnet with the
    address the target group registers (:func:`target_ip`); returns {AZ: instance id}."""
    found: dict[str, str] = {}
    key, value = API_APP_TAG
    for az in network.azs:
        instance = ec2.run_instances(
            ImageId=API_IMAGE_ID,
            InstanceType=API_INSTANCE_TYPE,
            MinCount=1,
            MaxCount=1,
            SubnetId=network.subnets["private"][az],
            PrivateIpAddress=target_ip(network, az),
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": _tags(f"ticket-api-{az}", **{key: value})}
            ],
        )["Instances"][0]
        found[az] = instance["InstanceId"]
    return found


def seed_load_balancer(ec2: Any, elbv2: Any, network: RegionNetwork) -> LoadBalancerSeed:
    """Internet-facing ALB in the public subnets; IP target group, one API per AZ (the
    private address of that AZ's API instance, :func:`seed_api_instances`)."""
    region = network.region
    short = "primary" if region == PRIMARY_REGION else "standby"
    sg_id = ec2.create_security_group(
        GroupName=f"{ENVIRONMENT}-alb-sg",
        Description="ALB: HTTP from anywhere",
        VpcId=network.vpc_id,
    )["GroupId"]
    name = f"{ENVIRONMENT}-{short}-alb"
    lb = elbv2.create_load_balancer(
        Name=name,
        Subnets=list(network.subnets["public"].values()),
        SecurityGroups=[sg_id],
        Scheme="internet-facing",
        Type="application",
        IpAddressType="ipv4",
        Tags=_tags(name),
    )["LoadBalancers"][0]
    tg = elbv2.create_target_group(
        Name=f"{ENVIRONMENT}-{short}-api",
        Protocol="HTTP",
        Port=API_PORT,
        VpcId=network.vpc_id,
        TargetType="ip",
        HealthCheckProtocol="HTTP",
        HealthCheckPath=HEALTH_PATH,
        HealthCheckIntervalSeconds=10,
        HealthyThresholdCount=3,
        UnhealthyThresholdCount=2,
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]
    ips = {az: target_ip(network, az) for az in network.azs}
    elbv2.register_targets(
        TargetGroupArn=tg["TargetGroupArn"],
        Targets=[{"Id": ip, "Port": API_PORT, "AvailabilityZone": az} for az, ip in ips.items()],
    )
    return LoadBalancerSeed(
        arn=lb["LoadBalancerArn"],
        dns_name=lb["DNSName"],
        name=name,
        target_group_arn=tg["TargetGroupArn"],
        target_ips=ips,
        security_group_id=sg_id,
        canonical_hosted_zone_id=str(lb.get("CanonicalHostedZoneId", "")),
    )


def seed_listener(elbv2: Any, lb: LoadBalancerSeed, port: int) -> str:
    """HTTP listener on ``port`` (= the ALB emulator's loopback port) forwarding to the
    API target group."""
    return elbv2.create_listener(
        LoadBalancerArn=lb.arn,
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": lb.target_group_arn}],
    )["Listeners"][0]["ListenerArn"]


def seed_web_acl(wafv2: Any, region: str, lb_arn: str) -> str:
    """A regional web ACL (default allow, one benign rule) associated with the ALB."""
    short = "primary" if region == PRIMARY_REGION else "standby"
    name = f"{ENVIRONMENT}-{short}-api-acl"
    visibility = {
        "SampledRequestsEnabled": True,
        "CloudWatchMetricsEnabled": True,
        "MetricName": name,
    }
    acl = wafv2.create_web_acl(
        Name=name,
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        Description="API protection (sandbox)",
        Rules=[
            {
                "Name": "block-admin-paths",
                "Priority": 10,
                "Statement": {
                    "ByteMatchStatement": {
                        "SearchString": b"/admin",
                        "FieldToMatch": {"UriPath": {}},
                        "TextTransformations": [{"Priority": 0, "Type": "LOWERCASE"}],
                        "PositionalConstraint": "STARTS_WITH",
                    }
                },
                "Action": {"Block": {}},
                "VisibilityConfig": {**visibility, "MetricName": "block-admin-paths"},
            }
        ],
        VisibilityConfig=visibility,
        Tags=_tags(name),
    )["Summary"]
    wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=lb_arn)
    return acl["ARN"]


def seed_database(rds: Any, network: RegionNetwork) -> dict[str, Any]:
    """The Multi-AZ PostgreSQL instance of the DR plan, in the data subnets."""
    group = f"{ENVIRONMENT}-db-subnet-group"
    rds.create_db_subnet_group(
        DBSubnetGroupName=group,
        DBSubnetGroupDescription="Subnet group for RDS Multi-AZ",
        SubnetIds=list(network.subnets["data"].values()),
    )
    db = rds.create_db_instance(
        DBInstanceIdentifier=DB_INSTANCE_ID,
        Engine="postgres",
        EngineVersion="15.4",
        Port=DB_PORT,
        DBName=DB_NAME,
        DBInstanceClass="db.t3.medium",
        AllocatedStorage=100,
        StorageType="gp3",
        MultiAZ=True,
        AvailabilityZone=network.azs[0],
        DBSubnetGroupName=group,
        MasterUsername="postgres",
        MasterUserPassword="sandbox-not-a-secret",
        BackupRetentionPeriod=7,
        PubliclyAccessible=False,
        Tags=_tags(DB_INSTANCE_ID, Backup="true"),
    )["DBInstance"]
    return {"id": db["DBInstanceIdentifier"], "arn": db["DBInstanceArn"], "az": network.azs[0]}


# The DR plan's Example 7 (AWS Backup): the primary vault, the rule DailyBackups
# (cron(0 3 * * ? *), 7 days) with its copy to the replica vault in eu-west-1
BACKUP_VAULT = f"{ENVIRONMENT}-primary-vault"
BACKUP_COPY_VAULT = f"{ENVIRONMENT}-replica-vault"
BACKUP_PLAN_NAME = f"{ENVIRONMENT}-backup-plan"


def seed_dr_db_subnet_group(rds: Any, network: RegionNetwork) -> str:
    """The DB subnet group of the plan's name in the standby region's data subnets (a
    CloudFormation stack per region names it alike): where a restore in the DR region
    goes."""
    group = f"{ENVIRONMENT}-db-subnet-group"
    rds.create_db_subnet_group(
        DBSubnetGroupName=group,
        DBSubnetGroupDescription="Subnet group for RDS restores in the DR region",
        SubnetIds=list(network.subnets["data"].values()),
    )
    return group


def seed_backup(backup: Any, backup_copy: Any) -> dict[str, str]:
    """Example 7's vaults (primary region; the copy's in the standby region) and plan.
    moto runs no job: :mod:`sandbox.backup` emulates the plan's backups and copies."""
    primary = backup.create_backup_vault(
        BackupVaultName=BACKUP_VAULT, BackupVaultTags={"Environment": ENVIRONMENT}
    )
    replica = backup_copy.create_backup_vault(
        BackupVaultName=BACKUP_COPY_VAULT, BackupVaultTags={"Environment": ENVIRONMENT}
    )
    plan = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": BACKUP_PLAN_NAME,
            "Rules": [
                {
                    "RuleName": "DailyBackups",
                    "TargetBackupVaultName": BACKUP_VAULT,
                    "ScheduleExpression": "cron(0 3 * * ? *)",
                    "StartWindowMinutes": 60,
                    "CompletionWindowMinutes": 120,
                    "Lifecycle": {"DeleteAfterDays": 7},
                    "RecoveryPointTags": {"BackupType": "Daily", "Environment": ENVIRONMENT},
                    "CopyActions": [
                        {
                            "DestinationBackupVaultArn": replica["BackupVaultArn"],
                            "Lifecycle": {"DeleteAfterDays": 7},
                        }
                    ],
                }
            ],
        },
        BackupPlanTags={"Environment": ENVIRONMENT},
    )
    return {
        "vault": primary["BackupVaultArn"],
        "copy_vault": replica["BackupVaultArn"],
        "plan": plan["BackupPlanArn"],
    }


FIS_ROLE_NAME = f"{ENVIRONMENT}-fis-experiments"
# "The experiment role [...] trust policy [...] allows the AWS FIS service to assume the
# role": principal fis.amazonaws.com (AWS FIS user guide, "IAM roles for AWS FIS
# experiments", https://docs.aws.amazon.com/fis/latest/userguide/getting-started-iam-service-role.html)
FIS_TRUST_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
    '"Principal": {"Service": "fis.amazonaws.com"}, "Action": "sts:AssumeRole"}]}'
)


def seed_fis_role(iam: Any) -> str:
    """The IAM role FIS experiment templates name (``roleArn``); returns its ARN."""
    role = iam.create_role(
        RoleName=FIS_ROLE_NAME,
        AssumeRolePolicyDocument=FIS_TRUST_POLICY,
        Description="Role AWS FIS assumes to run the game-day experiment templates",
        Tags=_tags(FIS_ROLE_NAME),
    )["Role"]
    return str(role["Arn"])


def seed_table(dynamodb: Any) -> dict[str, Any]:
    """The tickets table (keys, indexes and stream of the plan's global table)."""
    attributes = ("ticket_id", "customer_id", "created_at", "status")
    index_keys = {"customer-index": "customer_id", "status-index": "status"}
    table = dynamodb.create_table(
        TableName=TABLE_NAME,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in attributes],
        KeySchema=[
            {"AttributeName": "ticket_id", "KeyType": "HASH"},
            {"AttributeName": "created_at", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, hash_key in index_keys.items()
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        Tags=_tags(f"{ENVIRONMENT}-tickets-primary"),
    )["TableDescription"]
    # the plan's global table has point-in-time recovery on (Esempio 4, CloudFormation:
    # PointInTimeRecoverySpecification: PointInTimeRecoveryEnabled: true)
    dynamodb.update_continuous_backups(
        TableName=TABLE_NAME,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    return {"name": table["TableName"], "arn": table["TableArn"]}


@dataclass(frozen=True)
class FailoverEndpoint:
    """One side of the failover pair as the outside world reaches it."""

    region: str
    ip_address: str
    port: int
    fqdn: str  # the ALB's DNS name: the health check's host and the alias target
    alias_zone_id: str = ""  # the ALB's canonical hosted zone


def seed_dns(
    route53: Any,
    primary: FailoverEndpoint,
    secondary: FailoverEndpoint,
    request_interval: int,
    failure_threshold: int,
) -> dict[str, Any]:
    """Hosted zone, one health check per endpoint, PRIMARY/SECONDARY failover alias A
    records to the two ALBs, each with its health check and ``EvaluateTargetHealth``
    (the DR guide's Example 5 CloudFormation). Alias records carry no TTL: Route 53
    answers with the ELB record's own TTL."""
    zone = route53.create_hosted_zone(
        Name=ZONE_NAME,
        CallerReference=f"sandbox-{uuid.uuid4()}",
        HostedZoneConfig={"Comment": "AI support API (sandbox)", "PrivateZone": False},
    )["HostedZone"]
    zone_id = zone["Id"].split("/")[-1]
    health_checks: dict[str, str] = {}
    changes = []
    for role, endpoint in (("PRIMARY", primary), ("SECONDARY", secondary)):
        hc_id = route53.create_health_check(
            CallerReference=f"sandbox-{role.lower()}-{uuid.uuid4()}",
            HealthCheckConfig={
                "IPAddress": endpoint.ip_address,
                "Port": endpoint.port,
                "Type": "HTTP",  # the ALB emulator speaks plain HTTP on loopback
                "ResourcePath": HEALTH_PATH,
                "FullyQualifiedDomainName": endpoint.fqdn,
                "RequestInterval": request_interval,
                "FailureThreshold": failure_threshold,
                "MeasureLatency": True,
            },
        )["HealthCheck"]["Id"]
        name = f"{'primary' if role == 'PRIMARY' else 'secondary'}-endpoint-health"
        route53.change_tags_for_resource(
            ResourceType="healthcheck",
            ResourceId=hc_id,
            AddTags=[{"Key": "Name", "Value": name}, {"Key": "Region", "Value": endpoint.region}],
        )
        health_checks[role] = hc_id
        changes.append(
            {
                "Action": "CREATE",
                "ResourceRecordSet": {
                    "Name": RECORD_NAME,
                    "Type": "A",
                    "SetIdentifier": f"{role.lower()}-{endpoint.region}",
                    "Failover": role,
                    "HealthCheckId": hc_id,
                    "AliasTarget": {
                        "HostedZoneId": endpoint.alias_zone_id,
                        "DNSName": endpoint.fqdn,
                        "EvaluateTargetHealth": True,
                    },
                },
            }
        )
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Comment": "failover pair", "Changes": changes},
    )
    return {"zone_id": zone_id, "health_checks": health_checks}


def seed_alarms(
    clients: ClientFactory,
    health_checks: dict[str, str],
    lb_full_name: str,
    target_group_full_name: str,
) -> list[dict[str, str]]:
    """The plan's alarms (Route 53 ones live in us-east-1, as in AWS) + an API 5xx alarm.

    Returns ``[{"name", "region"}]``. moto never evaluates alarms: they stay OK unless
    someone calls ``set_alarm_state``.
    """
    route53_alarms = [
        ("route53-health-check-failing", health_checks["PRIMARY"], 2),
        ("route53-primary-endpoint-unhealthy", health_checks["PRIMARY"], 1),
        ("route53-secondary-endpoint-unhealthy", health_checks["SECONDARY"], 1),
    ]
    created: list[dict[str, str]] = []
    cloudwatch = clients("cloudwatch", ALARM_REGION_ROUTE53)
    for name, hc_id, periods in route53_alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            AlarmDescription="Route 53 health check failing",
            Namespace="AWS/Route53",
            MetricName="HealthCheckStatus",
            Dimensions=[{"Name": "HealthCheckId", "Value": hc_id}],
            Statistic="Minimum",
            Period=60,
            EvaluationPeriods=periods,
            Threshold=1,
            ComparisonOperator="LessThanThreshold",
            TreatMissingData="breaching",
        )
        created.append({"name": name, "region": ALARM_REGION_ROUTE53})
    cloudwatch = clients("cloudwatch", PRIMARY_REGION)
    regional = [
        (
            f"{ENVIRONMENT}-api-5xx",
            "AWS/ApplicationELB",
            "HTTPCode_Target_5XX_Count",
            [
                {"Name": "LoadBalancer", "Value": lb_full_name},
                {"Name": "TargetGroup", "Value": target_group_full_name},
            ],
            "Sum",
            10.0,
            "GreaterThanThreshold",
        ),
        (
            f"{ENVIRONMENT}-rds-high-cpu",
            "AWS/RDS",
            "CPUUtilization",
            [{"Name": "DBInstanceIdentifier", "Value": DB_INSTANCE_ID}],
            "Average",
            80.0,
            "GreaterThanThreshold",
        ),
        (
            f"{ENVIRONMENT}-rds-low-storage",
            "AWS/RDS",
            "FreeStorageSpace",
            [{"Name": "DBInstanceIdentifier", "Value": DB_INSTANCE_ID}],
            "Average",
            10.0 * 1024**3,
            "LessThanThreshold",
        ),
        (
            f"{ENVIRONMENT}-dynamodb-replication-lag",
            "AWS/DynamoDB",
            "ReplicationLatency",
            [
                {"Name": "TableName", "Value": TABLE_NAME},
                {"Name": "ReceivingRegion", "Value": STANDBY_REGION},
            ],
            "Average",
            60_000.0,
            "GreaterThanThreshold",
        ),
    ]
    for name, namespace, metric, dimensions, statistic, threshold, operator in regional:
        cloudwatch.put_metric_alarm(
            AlarmName=name,
            Namespace=namespace,
            MetricName=metric,
            Dimensions=dimensions,
            Statistic=statistic,
            Period=60,
            EvaluationPeriods=2,
            Threshold=threshold,
            ComparisonOperator=operator,
            TreatMissingData="notBreaching",
        )
        created.append({"name": name, "region": PRIMARY_REGION})
    return created


def cloudwatch_dimension(arn: str) -> str:
    """The CloudWatch dimension value of an ELBv2 ARN: ``app/name/id`` for a load
    balancer, ``targetgroup/name/id`` for a target group."""
    resource = arn.split(":", 5)[5]
    return resource.removeprefix("loadbalancer/")
