"""One small AWS world on a moto server for the four experiments, and its state.

Shared by tests/experiments/test_iam_policies.py, tests/gameday/test_bad_input.py and
bench/bench_interrupts.py. The moto server must run in the calling process (the RDS
failover emulator and the DynamoDB replicator patch its backends).

- :func:`seed_world` creates, with plain boto3 calls: a VPC with one subnet per AZ
  (az-nacl-blackhole), an ALB + listener + rule + associated WAF web ACL + Route 53
  health check on its DNS name (healthcheck-path-block), a Multi-AZ PostgreSQL instance
  (rds-forced-failover), a table made global over two regions (dynamodb-replica-conflict)
  and a CloudWatch alarm used as stop condition.
- :func:`world_state` is what "nothing changed" compares: NACLs (entries, associations),
  listener rules, web ACL rules, the DB status, the table items in both regions.
- :func:`experiment_env` gives the ``chaos run`` environment of one experiment;
  :func:`with_safety_control` a copy of an experiment carrying the safety control;
  :func:`ticket_api` runs the sandbox's ticket API over the world's table (the
  blackhole's sampler and write markers).
- :class:`ServerCalls` records, server side, every ``service:Action`` moto authorises.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import yaml

REGION = "eu-south-1"
OTHER_REGION = "eu-west-1"
ACCOUNT = "123456789012"
ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = (
    "az-nacl-blackhole",
    "rds-forced-failover",
    "healthcheck-path-block",
    "dynamodb-replica-conflict",
)
TABLE = "support-tickets"
DB = "production-analytics-db"
ALARM = "gameday-stop"
API_INSTANCE_TAG = ("app", "ticket-api")  # the ec2-stop experiment's instances
LOCK_TABLE = "gameday-locks"
SAFETY_MODULE = "chaosaws_ext.controls.safety"
VISIBILITY = {
    "SampledRequestsEnabled": False,
    "CloudWatchMetricsEnabled": False,
    "MetricName": "api-acl",
}


def client(service: str, endpoint: str, region: str = REGION, **credentials: str) -> Any:
    creds = credentials or {
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    return boto3.client(service, region_name=region, endpoint_url=endpoint, **creds)


def seed_world(endpoint: str, replicator: Any | None = None) -> dict[str, Any]:
    """Create every resource the four experiments act on; return their ids."""
    ec2 = client("ec2", endpoint)
    elbv2 = client("elbv2", endpoint)
    wafv2 = client("wafv2", endpoint)
    route53 = client("route53", endpoint)
    rds = client("rds", endpoint)
    cloudwatch = client("cloudwatch", endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        az: ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.30.{n}.0/24", AvailabilityZone=az)[
            "Subnet"
        ]["SubnetId"]
        for n, az in enumerate((f"{REGION}a", f"{REGION}b", f"{REGION}c"), 1)
    }
    balancer = elbv2.create_load_balancer(
        Name="api", Subnets=[subnets[f"{REGION}a"], subnets[f"{REGION}b"]], Type="application"
    )["LoadBalancers"][0]
    ok = {"StatusCode": "200", "ContentType": "text/plain", "MessageBody": "ok"}
    listener = elbv2.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": ok}],
    )["Listeners"][0]["ListenerArn"]
    elbv2.create_rule(
        ListenerArn=listener,
        Priority=1,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/api/*"]}}],
        Actions=[{"Type": "fixed-response", "FixedResponseConfig": ok}],
    )
    check = route53.create_health_check(
        CallerReference=uuid.uuid4().hex,
        HealthCheckConfig={
            "Type": "HTTP",
            "ResourcePath": "/health",
            "FullyQualifiedDomainName": balancer["DNSName"],
            "Port": 80,
            "RequestInterval": 10,
            "FailureThreshold": 3,
        },
    )["HealthCheck"]["Id"]
    acl = wafv2.create_web_acl(
        Name="api-acl",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig=VISIBILITY,
        Rules=[
            {
                "Name": "block-admin",
                "Priority": 10,
                "Statement": {
                    "ByteMatchStatement": {
                        "SearchString": b"/admin",
                        "FieldToMatch": {"UriPath": {}},
                        "TextTransformations": [{"Priority": 0, "Type": "NONE"}],
                        "PositionalConstraint": "STARTS_WITH",
                    }
                },
                "Action": {"Block": {}},
                "VisibilityConfig": {**VISIBILITY, "MetricName": "block-admin"},
            }
        ],
    )["Summary"]
    wafv2.associate_web_acl(WebACLArn=acl["ARN"], ResourceArn=balancer["LoadBalancerArn"])
    rds.create_db_instance(
        DBInstanceIdentifier=DB,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MultiAZ=True,
        AvailabilityZone=f"{REGION}a",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
    )
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        MetricName="5XXError",
        Namespace="AWS/ApplicationELB",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    dynamodb = client("dynamodb", endpoint)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[
            {"AttributeName": "ticket", "KeyType": "HASH"},
            {"AttributeName": "version", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "ticket", "AttributeType": "S"},
            {"AttributeName": "version", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(3):
        dynamodb.put_item(
            TableName=TABLE,
            Item={"ticket": {"S": f"T-{n}"}, "version": {"S": "1"}, "body": {"S": "help"}},
        )
    # point-in-time recovery on, as the plan's table has it (the restore drill needs it)
    dynamodb.update_continuous_backups(
        TableName=TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
    )
    if replicator is not None:
        replicator.make_global(TABLE, [REGION, OTHER_REGION])
    return {
        "vpc_id": vpc,
        "subnets": subnets,
        "load_balancer_arn": balancer["LoadBalancerArn"],
        "listener_arn": listener,
        "health_check_id": check,
        "web_acl": {"Name": acl["Name"], "Id": acl["Id"], "ARN": acl["ARN"]},
        "db": DB,
        "table": TABLE,
        "alarm": ALARM,
    }


def _nacls(ec2: Any, vpc: str) -> list[dict[str, Any]]:
    acls = ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    return sorted(
        (
            {
                "id": a["NetworkAclId"],
                "default": a["IsDefault"],
                "entries": sorted(
                    json.dumps(e, sort_keys=True, default=str) for e in a.get("Entries", [])
                ),
                "subnets": sorted(x["SubnetId"] for x in a.get("Associations", [])),
                "tags": sorted((t["Key"], t["Value"]) for t in a.get("Tags", [])),
            }
            for a in acls["NetworkAcls"]
        ),
        key=lambda a: a["id"],
    )


def _items(endpoint: str, region: str, table: str) -> list[str]:
    try:
        found = client("dynamodb", endpoint, region).scan(TableName=table, ConsistentRead=True)
    except client("dynamodb", endpoint, region).exceptions.ResourceNotFoundException:
        return []
    return sorted(json.dumps(i, sort_keys=True) for i in found["Items"])


def world_state(endpoint: str, world: dict[str, Any]) -> dict[str, Any]:
    """Everything an experiment may change, in comparable form."""
    elbv2 = client("elbv2", endpoint)
    wafv2 = client("wafv2", endpoint)
    rds = client("rds", endpoint)
    rules = elbv2.describe_rules(ListenerArn=world["listener_arn"])["Rules"]
    acl = wafv2.get_web_acl(
        Scope="REGIONAL", Name=world["web_acl"]["Name"], Id=world["web_acl"]["Id"]
    )
    db = rds.describe_db_instances(DBInstanceIdentifier=world["db"])["DBInstances"][0]
    return {
        "nacls": _nacls(client("ec2", endpoint), world["vpc_id"]),
        "listener_rules": sorted(
            json.dumps({k: v for k, v in r.items() if k != "RuleArn"}, sort_keys=True)
            for r in rules
        ),
        "web_acl_rules": json.dumps(acl["WebACL"].get("Rules", []), sort_keys=True, default=str),
        "db_status": db["DBInstanceStatus"],
        "items": {r: _items(endpoint, r, world["table"]) for r in (REGION, OTHER_REGION)},
    }


def experiment_state(endpoint: str, world: dict[str, Any], experiment: str) -> dict[str, Any]:
    """:func:`state_of` of :func:`world_state`, reading only what ``experiment`` touches."""
    if experiment == "az-nacl-blackhole":
        return {"nacls": _nacls(client("ec2", endpoint), world["vpc_id"])}
    if experiment == "healthcheck-path-block":
        rules = client("elbv2", endpoint).describe_rules(ListenerArn=world["listener_arn"])
        acl = client("wafv2", endpoint).get_web_acl(
            Scope="REGIONAL", Name=world["web_acl"]["Name"], Id=world["web_acl"]["Id"]
        )
        return {
            "listener_rules": sorted(
                json.dumps({k: v for k, v in r.items() if k != "RuleArn"}, sort_keys=True)
                for r in rules["Rules"]
            ),
            "web_acl_rules": json.dumps(
                acl["WebACL"].get("Rules", []), sort_keys=True, default=str
            ),
        }
    if experiment == "rds-forced-failover":
        found = client("rds", endpoint).describe_db_instances(DBInstanceIdentifier=world["db"])
        return {"db_status": found["DBInstances"][0]["DBInstanceStatus"]}
    return {"items": {r: _items(endpoint, r, world["table"]) for r in (REGION, OTHER_REGION)}}


def state_of(experiment: str, state: dict[str, Any]) -> dict[str, Any]:
    """The part of :func:`world_state` one experiment touches."""
    keys = {
        "az-nacl-blackhole": ("nacls",),
        "healthcheck-path-block": ("listener_rules", "web_acl_rules"),
        "rds-forced-failover": ("db_status",),
        "dynamodb-replica-conflict": ("items",),
    }[experiment]
    return {k: state[k] for k in keys}


FIS_ROLE = "fis-experiments"  # the role FIS assumes (the template's roleArn)


def writer_az(endpoint: str, world: dict[str, Any]) -> str:
    """The AZ of the world's DB instance's writer, read now."""
    found = client("rds", endpoint).describe_db_instances(DBInstanceIdentifier=world["db"])
    return str(found["DBInstances"][0]["AvailabilityZone"])


def experiment_env(
    experiment: str,
    world: dict[str, Any],
    workdir: Path,
    endpoint: str,
    credentials: dict[str, str] | None = None,
    **extra: str,
) -> dict[str, str]:
    """Environment for ``chaos run`` of ``experiment`` against the seeded world."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    creds = credentials or {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    env.update(creds)
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            "AWS_MAX_ATTEMPTS": "1",
            "GAMEDAY_ALLOWED_ACCOUNTS": ACCOUNT,
            "GAMEDAY_LEDGER": str(workdir / "ledger.jsonl"),
            "GAMEDAY_STOP_ALARMS": world["alarm"],
            "GAMEDAY_STOP_POLL_INTERVAL": "1",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(
        {
            "az-nacl-blackhole": {
                "GAMEDAY_AZ": f"{REGION}a",
                "GAMEDAY_VPC_ID": world["vpc_id"],
                # the world's ticket API when it runs one (ticket_api()): moto's NACLs
                # never cut it off, so no outage and every ticket acknowledged
                "GAMEDAY_API_URL": world.get("api_health_url", "http://127.0.0.1:9/health"),
                "GAMEDAY_TICKETS_URL": world.get("tickets_url", ""),
                "GAMEDAY_TABLE": world["table"],
                "GAMEDAY_QUIET_PERIOD": "1",
            },
            "rds-forced-failover": {
                "GAMEDAY_DB_INSTANCE": world["db"],
                "GAMEDAY_FAILOVER_TIMEOUT": "30",
                "GAMEDAY_DB_DSN": "",
            },
            "healthcheck-path-block": {
                "GAMEDAY_HEALTH_CHECK_ID": world["health_check_id"],
                "GAMEDAY_HEALTH_CHECK_WAIT_SECONDS": "1",
                "GAMEDAY_DNS_SERVER": "127.0.0.1:9",
            },
            "dynamodb-replica-conflict": {
                "GAMEDAY_TABLE": world["table"],
                "GAMEDAY_OTHER_REGION": OTHER_REGION,
                "GAMEDAY_CONFLICT_WRITES": "3",
                "GAMEDAY_CONVERGENCE_TIMEOUT": "20",
            },
            "s3-replication-pause": {
                "GAMEDAY_BUCKET": world.get("bucket", ""),
                "GAMEDAY_PAUSE_SECONDS": "1",
                "GAMEDAY_OTHER_REGION": OTHER_REGION,
                # the logs row (RPO < 24 h): a 1 s pause meets it, so the run passes
                "GAMEDAY_SERVICE": "logs",
                "GAMEDAY_BASELINE_SECONDS": "0.5",
                "GAMEDAY_SETTLE_SECONDS": "0.5",
                "GAMEDAY_CATCHUP_WINDOW": "1",
            },
            # the scenario: the blackhole's and the RDS failover's, in the AZ that holds
            # the writer now (an earlier failover may have moved it), so both steps run
            "az-power-interruption": {
                "GAMEDAY_AZ": "",  # read below, for this experiment only
                "GAMEDAY_VPC_ID": world["vpc_id"],
                # the world's ticket API (as for the blackhole): its sampler and markers
                "GAMEDAY_API_URL": world.get("api_health_url", "http://127.0.0.1:9/health"),
                "GAMEDAY_TICKETS_URL": world.get("tickets_url", ""),
                "GAMEDAY_TABLE": world["table"],
                "GAMEDAY_QUIET_PERIOD": "1",
                "GAMEDAY_DB_INSTANCE": world["db"],
                "GAMEDAY_FAILOVER_TIMEOUT": "30",
                "GAMEDAY_DB_DSN": "",
                "GAMEDAY_SYMPTOMS_SECONDS": "0",
                "GAMEDAY_API_INSTANCE_TAG_KEY": API_INSTANCE_TAG[0],
                "GAMEDAY_API_INSTANCE_TAG_VALUE": API_INSTANCE_TAG[1],
                "GAMEDAY_INSTANCE_POLL_INTERVAL": "0.2",
                "GAMEDAY_INSTANCE_TIMEOUT": "30",
            },
            "fis-az-disrupt-connectivity": {
                "GAMEDAY_AZ": f"{REGION}a",
                "GAMEDAY_VPC_ID": world["vpc_id"],
                "GAMEDAY_API_URL": "http://127.0.0.1:9/health",
                "GAMEDAY_FIS_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/{FIS_ROLE}",
                "GAMEDAY_POLL_INTERVAL": "0.2",
            },
            # no data plane: the drill's AWS calls, without its first query
            "rds-restore-drill": {
                "GAMEDAY_DB_INSTANCE": world["db"],
                "GAMEDAY_DB_DSN": "",
                "GAMEDAY_RESTORE_TIMEOUT": "30",
                "GAMEDAY_RESTORE_POLL_INTERVAL": "0.2",
                "GAMEDAY_RESTORABLE_TIMEOUT": "30",
            },
            "dynamodb-pitr-drill": {
                "GAMEDAY_TABLE": world["table"],
                "GAMEDAY_RESTORE_TIMEOUT": "60",
            },
            "ec2-stop-instances": {
                "GAMEDAY_AZ": f"{REGION}a",
                "GAMEDAY_API_URL": "http://127.0.0.1:9/health",
                "GAMEDAY_API_INSTANCE_TAG_KEY": API_INSTANCE_TAG[0],
                "GAMEDAY_API_INSTANCE_TAG_VALUE": API_INSTANCE_TAG[1],
                "GAMEDAY_INSTANCE_POLL_INTERVAL": "0.2",
                "GAMEDAY_INSTANCE_TIMEOUT": "30",
            },
            # the DR drill without a data plane (tests/helpers/iam_scenarios.py swaps its
            # HTTP/DNS samplers for the table's): short windows, no Route 53 checkers
            "region-failover-drill": {
                "GAMEDAY_HOSTED_ZONE_ID": world.get("hosted_zone_id", ""),
                "GAMEDAY_FAILOVER_RECORD": world.get("failover_record", ""),
                "GAMEDAY_HEALTH_CHECK_ID": world["health_check_id"],
                "GAMEDAY_HEALTH_CHECK_WAIT_SECONDS": "1",
                "GAMEDAY_POLL_INTERVAL": "0.2",
                "GAMEDAY_DNS_SERVER": "127.0.0.1:9",
                "GAMEDAY_FAILOVER_URL": "http://api.drill.example.com:9/health",
                # the world's ticket API (ticket_api()): the drill's markers go through it
                "GAMEDAY_TICKETS_URL": world.get("tickets_url", ""),
                "GAMEDAY_API_URL": "http://127.0.0.1:9/health",
                "GAMEDAY_TABLE": world["table"],
                "GAMEDAY_OTHER_REGION": OTHER_REGION,
                "GAMEDAY_FAILBACK_WINDOW_10": "0.5",
                "GAMEDAY_FAILBACK_WINDOW_50": "0.5",
                "GAMEDAY_SAMPLING_HZ": "10",
                "GAMEDAY_QUIET_PERIOD": "1",
                "GAMEDAY_RECOVERY_TIMEOUT": "30",
                "GAMEDAY_CATCHUP_WINDOW": "1",
            },
            "dynamodb-replication-pause": {
                "GAMEDAY_TABLE": world["table"],
                "GAMEDAY_OTHER_REGION": OTHER_REGION,
                # shorter than the plan's < 1 s RPO: the failover RPO it measures (about
                # the pause) keeps the run met, so every path of it runs to its end
                "GAMEDAY_PAUSE_SECONDS": "0.4",
            },
        }[experiment]
    )
    if experiment == "az-power-interruption":
        env["GAMEDAY_AZ"] = writer_az(endpoint, world)
    env.update(extra)
    return env


@contextmanager
def ticket_api(
    world: dict[str, Any], endpoint: str, credentials: dict[str, str] | None = None
) -> Iterator[dict[str, Any]]:
    """The sandbox's ticket API (one instance) storing into the world's table under its
    own key names (``ticket``, ``version``): ``world`` gains ``api_health_url`` (the
    blackhole's sampler) and ``tickets_url`` (its write markers) while it runs.
    ``credentials`` (``aws_access_key_id``, ``aws_secret_access_key``): the API's own,
    when the server enforces IAM."""
    from sandbox.workload.api import ApiInstance
    from sandbox.workload.tickets import TicketStore

    dynamodb = client("dynamodb", endpoint, **(credentials or {}))
    store = TicketStore(dynamodb, TABLE, "ticket", "version")
    instance = ApiInstance("api-world", REGION, f"{REGION}a", store=store)
    host, port = instance.start()
    world.update(
        api_health_url=f"http://{host}:{port}/health",
        tickets_url=f"http://{host}:{port}/api/tickets",
    )
    try:
        yield world
    finally:
        instance.stop()
        world.pop("api_health_url", None)
        world.pop("tickets_url", None)


def has_safety_control(experiment: dict[str, Any]) -> bool:
    return any(
        (c.get("provider") or {}).get("module") == SAFETY_MODULE
        for c in experiment.get("controls") or []
    )


MEASUREMENT_MODULE = "chaosaws_ext.controls.measurement"


def _measures_aws(control: dict[str, Any], ticket_api: bool = False) -> bool:
    """Whether a measurement control calls AWS (DynamoDB or S3 samplers or markers; the
    ticket API's markers, read back from the table, when the world runs a ticket API)."""
    arguments = (control.get("provider") or {}).get("arguments") or {}
    kinds = [s.get("kind") for s in arguments.get("samplers") or []]
    markers = arguments.get("markers") or []  # one block, or one per service
    kinds += [m.get("kind") for m in (markers if isinstance(markers, list) else [markers])]
    return bool({"dynamodb", "s3", *(["ticket-api"] if ticket_api else [])} & set(kinds))


def _strip_measurement(
    loaded: dict[str, Any], keep_aws: bool = True, ticket_api: bool = False
) -> None:
    """Drop a measurement that needs no AWS (HTTP/DNS/PostgreSQL targets these tests do
    not run; every measurement unless ``keep_aws``) with its verdict and recovery probes
    (module ``probes.*``)."""
    controls = loaded.get("controls") or []
    drop = [
        c
        for c in controls
        if (c.get("provider") or {}).get("module") == MEASUREMENT_MODULE
        and not (keep_aws and _measures_aws(c, ticket_api))
    ]
    if not drop:
        return
    loaded["controls"] = [c for c in controls if c not in drop]

    def keep(activity: dict[str, Any]) -> bool:
        return not str((activity.get("provider") or {}).get("module", "")).startswith("probes.")

    hypothesis = loaded.get("steady-state-hypothesis") or {}
    if hypothesis.get("probes"):
        hypothesis["probes"] = [a for a in hypothesis["probes"] if keep(a)]
    loaded["method"] = [a for a in loaded.get("method") or [] if keep(a)]


def with_safety_control(
    experiment: str,
    workdir: Path,
    hold_seconds: float | None = None,
    measured: bool = True,
    ticket_api: bool = False,
) -> tuple[Path, bool]:
    """A copy of the experiment in ``workdir`` to run against the seeded world.

    - carries the safety control: appended as the experiments declare it (stop alarms
      from GAMEDAY_STOP_ALARMS, poll interval from GAMEDAY_STOP_POLL_INTERVAL) when the
      experiment lacks it;
    - a measurement control that calls no AWS API is dropped with its ``probes.*``
      activities (its HTTP/DNS/PostgreSQL targets are not part of this world); one that
      samples DynamoDB is kept (it needs IAM permissions too) unless ``measured`` is False;
      one writing ticket-api markers only with ``ticket_api`` (the world runs
      :func:`ticket_api`: its sampler and markers reach it);
    - ``hold_seconds``: a ``sleep`` action right after the inject holds the fault.

    Returns (path, whether the safety control had to be added).
    """
    source = ROOT / "experiments" / f"{experiment}.yaml"
    loaded = yaml.safe_load(source.read_text())
    _strip_measurement(loaded, keep_aws=measured, ticket_api=ticket_api)
    if hold_seconds is not None:
        loaded["method"].insert(
            1,
            {
                "type": "action",
                "name": "hold-the-fault",
                "provider": {"type": "process", "path": "sleep", "arguments": str(hold_seconds)},
            },
        )
    added = not has_safety_control(loaded)
    if added:
        configuration = loaded.setdefault("configuration", {})
        configuration["stop_alarms"] = {
            "type": "env",
            "key": "GAMEDAY_STOP_ALARMS",
            "default": "",
        }
        configuration["stop_poll_interval"] = {
            "type": "env",
            "key": "GAMEDAY_STOP_POLL_INTERVAL",
            "default": 5,
            "env_var_type": "float",
        }
        loaded.setdefault("controls", []).append(
            {
                "name": "safety",
                "provider": {
                    "type": "python",
                    "module": SAFETY_MODULE,
                    "arguments": {
                        "stop_alarms": "${stop_alarms}",
                        "stop_poll_interval": "${stop_poll_interval}",
                    },
                },
            }
        )
    target = workdir / f"{experiment}.yaml"
    target.write_text(yaml.safe_dump(loaded, sort_keys=False))
    return target, added


class ServerCalls:
    """Server side: every ``service:Action`` moto authorises (or refuses), per access key.

    Patches moto's action authenticator in this process, so it sees the calls of every
    client of the server (subprocesses included) under the IAM action names moto uses
    (``monitoring:`` for CloudWatch, ``elasticloadbalancing:`` for ELBv2).
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    @contextmanager
    def recording(self) -> Iterator[ServerCalls]:
        from moto.core.authorization import ActionAuthenticatorMixin

        original = ActionAuthenticatorMixin._authenticate_and_authorize_action
        calls = self.calls

        def record(handler: Any, iam_request_cls: type, resource: str = "*") -> None:
            header = handler.headers.get("Authorization") or ""
            scope = header.partition("Credential=")[2].partition(",")[0].split("/")
            if len(scope) >= 4:
                action = handler._get_action()
                action = action[0] if isinstance(action, list) else action
                calls.append((scope[0], f"{scope[3]}:{action}"))
            return original(handler, iam_request_cls, resource)

        ActionAuthenticatorMixin._authenticate_and_authorize_action = record  # type: ignore[method-assign]
        try:
            yield self
        finally:
            ActionAuthenticatorMixin._authenticate_and_authorize_action = original  # type: ignore[method-assign]

    def of(self, access_key: str) -> set[str]:
        return {action for key, action in self.calls if key == access_key}
