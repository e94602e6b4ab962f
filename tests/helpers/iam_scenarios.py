"""Run every path of the four experiments against a moto server and record their calls.

Used by tests/experiments/test_iam_authorization.py and ``python -m tests.helpers.iam_report``. The
moto server must run in this process (the RDS failover emulator and the DynamoDB
replicator patch its backends). Paths: each experiment's ``chaos run`` (rollbacks,
safety control, target lock, DynamoDB write markers, the blackhole's ticket-api markers
through the sandbox's ticket API over the world's table; the RDS instance AND cluster
failover, the listener-rule AND WAF block, the AZ-scoped blackhole), and, per
experiment, a run SIGKILLed after its inject followed by ``gameday recover --by-tag``
and ``gameday recover --ledger``. The world is harder than the one the other tests
use where the policies depend on it: the web ACL references an IP set, a regex pattern
set, a rule group and a managed rule group (Count rules), the global table has
three replicas, and a stop alarm lives in us-east-1 (where Route 53 health-check metrics
are), named ``us-east-1:name`` by one run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from chaosaws_ext.faults import fault_declarations, faults_used_by
from chaosaws_ext.ledger import Ledger
from sandbox.s3.seed import replication_role_arn, seed_replicated_buckets
from tests.helpers.aws_calls import Call, load_calls, recording_env
from tests.helpers.aws_world import (
    ACCOUNT,
    ALARM,
    API_INSTANCE_TAG,
    FIS_ROLE,
    LOCK_TABLE,
    OTHER_REGION,
    REGION,
    TABLE,
    VISIBILITY,
    client,
    experiment_env,
    seed_world,
    ticket_api,
    with_safety_control,
)
from tests.helpers.executables import chaos_executable, gameday_executable

__all__ = [
    "Scenario",
    "SCENARIOS",
    "seed",
    "run_scenario",
    "record_all",
    "fault_policy",
    "policy_values",
    "THIRD_REGION",
    "ALARM_REGION",
    "CROSS_REGION_ALARM",
    "BACKUP_COPY_VAULT",
]

THIRD_REGION = "us-east-1"  # a third replica: what multi-region strong consistency needs
CLUSTER = "analytics-aurora"
# Route 53 health-check metrics exist only in us-east-1, so an alarm on them lives there
# ("Monitoring health checks using CloudWatch", Amazon Route 53 Developer Guide).
ALARM_REGION = "us-east-1"
CROSS_REGION_ALARM = "route53-primary-unhealthy"
ROOT = Path(__file__).resolve().parents[2]
# The fault package behind a call's origin -> the policy that must grant it (``gameday
# recover --by-tag`` runs every fault's orphan finder).
FAULT_POLICIES: dict[str, str | tuple[str, ...]] = {
    # a scenario's policy grants the calls of the faults it composes (their own first)
    "chaosaws_ext.blackhole": ("az-nacl-blackhole", "az-power-interruption"),
    "chaosaws_ext.healthcheck": "healthcheck-path-block",
    "chaosaws_ext.dynamodb": "dynamodb-replica-conflict",
    "chaosaws_ext.rds": ("rds-forced-failover", "az-power-interruption"),
    "chaosaws_ext.s3replication": "s3-replication-pause",
    "chaosaws_ext.fis": "fis-az-disrupt-connectivity",
    "chaosaws_ext.rdsrestore": "rds-restore-drill",
    "chaosaws_ext.dynamodbrestore": "dynamodb-pitr-drill",
    "chaosaws_ext.dynamodbpause": "dynamodb-replication-pause",
    "chaosaws_ext.ec2stop": ("ec2-stop-instances", "az-power-interruption"),
    "chaosaws_ext.dnsfailover": "region-failover-drill",
    # the write markers in DynamoDB are the DynamoDB experiments' (the RDS experiment's
    # are PostgreSQL rows): ``recover --by-tag`` searching them needs one of their
    # policies (the first, from another experiment's path)
    "probes.markers": (
        "dynamodb-replica-conflict",
        "dynamodb-replication-pause",
        "region-failover-drill",
    ),
    # the marker objects in the replicated bucket are the S3 pause experiment's
    "probes.s3_markers": "s3-replication-pause",
}
FAULT_EXPERIMENTS = ("az-nacl-blackhole", "healthcheck-path-block", "dynamodb-replica-conflict",
                     "rds-forced-failover", "s3-replication-pause",
                     "fis-az-disrupt-connectivity", "rds-restore-drill",
                     "dynamodb-pitr-drill", "dynamodb-replication-pause",
                     "ec2-stop-instances", "region-failover-drill")  # fmt: skip
# the AWS Backup copy vault of the DR plan's Example 7 (tests/experiments runs the
# sandbox's backup job of the world's DB into it: sandbox.backup)
BACKUP_COPY_VAULT = "production-replica-vault"
DRILL_ZONE = "drill.example.com"  # the DR drill's hosted zone
DRILL_ENV = {"GAMEDAY_RESTORE_POLL_INTERVAL": "0.1", "GAMEDAY_MARKER_INTERVAL": "0.1"}


@dataclass(frozen=True)
class Scenario:
    """One path of one experiment, checked against ``policy``."""

    name: str
    experiment: str
    policy: str
    env: dict[str, str] = field(default_factory=dict)
    crash: bool = False  # SIGKILL after the inject, then recover by tag and by ledger
    variant: Callable[[dict[str, Any]], None] | None = None  # edits the experiment
    # recover --ledger before --by-tag: a fault whose undo only the ledger can hold (the
    # S3 pause's original configuration) leaves --by-tag saying so until it is undone
    ledger_first: bool = False


def _cluster_path(loaded: dict[str, Any]) -> None:
    """The RDS experiment on a DB cluster, as its description says to run it."""
    loaded["configuration"]["db_cluster"] = {"type": "env", "key": "GAMEDAY_DB_CLUSTER"}
    hypothesis = loaded["steady-state-hypothesis"]
    hypothesis["probes"] = [
        p for p in hypothesis["probes"] if "db_instance_identifier" not in str(p)
    ]
    for activity in [*loaded["method"], *loaded.get("rollbacks", [])]:
        provider = activity.get("provider", {})
        arguments = provider.get("arguments") or {}
        if "db_instance_identifier" in arguments:
            arguments.pop("db_instance_identifier")
            arguments["db_cluster_identifier"] = "${db_cluster}"
        if provider.get("func") == "failover_db_instance":
            provider["func"] = "failover_db_cluster"


def _hold_after_the_restore(loaded: dict[str, Any]) -> None:
    """The restore drill waits for restorable markers first: hold after the restore."""
    method = loaded["method"]
    hold = next(a for a in method if a.get("name") == "hold-the-fault")
    method.remove(hold)
    restore = next(i for i, a in enumerate(method) if a.get("name") == "restore-db-instance")
    method.insert(restore + 1, hold)


def _drill_without_data_plane(loaded: dict[str, Any]) -> None:
    """The DR drill in a world without ALBs, DNS server or Route 53 checkers: the table
    sampled instead of the name (it judges the windows), judged against a row whose RPO
    a pause of seconds meets (OpenSearch: 1 h), so every path runs to its end."""
    for control in loaded["controls"]:
        arguments = control["provider"].get("arguments") or {}
        if control["name"] == "measurement":
            arguments["service"] = "opensearch"
            arguments["samplers"] = [
                {"name": "table-primary", "kind": "dynamodb", "table": "${table_name}",
                 "region": "${aws_region}"}
            ]  # fmt: skip
        if control["name"] == "failback":
            arguments["samplers"] = ["table-primary"]


def _scenario_without_database(loaded: dict[str, Any]) -> None:
    """The AZ scenario in a world without a PostgreSQL: the database's sampler, markers
    and verdicts dropped; the Ticket API's sampler and its ticket markers (through the
    world's ticket API, read back from the table) kept, so their calls are checked."""
    for control in loaded["controls"]:
        arguments = control["provider"].get("arguments") or {}
        if control["name"] == "measurement":
            arguments.pop("services", None)
            arguments["samplers"] = [
                s for s in arguments["samplers"] if s.get("service") != "rds-analytics"
            ]
            arguments["markers"] = [
                m for m in arguments["markers"] if m.get("service") != "rds-analytics"
            ]

    def keep(activity: dict[str, Any]) -> bool:
        provider_arguments = (activity.get("provider") or {}).get("arguments") or {}
        return provider_arguments.get("service") != "rds-analytics"

    hypothesis = loaded["steady-state-hypothesis"]
    hypothesis["probes"] = [p for p in hypothesis["probes"] if keep(p)]


def _drill_hold_after_the_dns_change(loaded: dict[str, Any]) -> None:
    """SIGKILLed with every fault in: the block, the pause and the record change."""
    _drill_without_data_plane(loaded)
    method = loaded["method"]
    hold = next(a for a in method if a.get("name") == "hold-the-fault")
    method.remove(hold)
    changed = next(i for i, a in enumerate(method) if a.get("name") == "fail-over-to-secondary")
    method.insert(changed + 1, hold)


SCENARIOS = (
    Scenario(
        "blackhole az-scope run",
        "az-nacl-blackhole",
        "az-nacl-blackhole",
        {"GAMEDAY_BLACKHOLE_SCOPE": "availability-zone"},
    ),
    Scenario("blackhole crash + recover", "az-nacl-blackhole", "az-nacl-blackhole", crash=True),
    Scenario("rds instance run", "rds-forced-failover", "rds-forced-failover"),
    Scenario("rds instance crash + recover", "rds-forced-failover", "rds-forced-failover",
             crash=True),
    Scenario("rds cluster run", "rds-forced-failover", "rds-forced-failover-cluster",
             variant=_cluster_path),
    Scenario("rds cluster crash + recover", "rds-forced-failover", "rds-forced-failover-cluster",
             crash=True, variant=_cluster_path),
    Scenario("rds instance run, stop alarm in another region", "rds-forced-failover",
             "rds-forced-failover",
             {"GAMEDAY_STOP_ALARMS": f"{ALARM},{ALARM_REGION}:{CROSS_REGION_ALARM}"}),
    Scenario("healthcheck listener-rule run", "healthcheck-path-block", "healthcheck-path-block",
             {"GAMEDAY_BLOCK_MECHANISM": "listener-rule"}),
    Scenario("healthcheck listener-rule crash + recover", "healthcheck-path-block",
             "healthcheck-path-block", {"GAMEDAY_BLOCK_MECHANISM": "listener-rule"}, crash=True),
    Scenario("healthcheck waf run", "healthcheck-path-block", "healthcheck-path-block",
             {"GAMEDAY_BLOCK_MECHANISM": "waf"}),
    Scenario("healthcheck waf crash + recover", "healthcheck-path-block",
             "healthcheck-path-block", {"GAMEDAY_BLOCK_MECHANISM": "waf"}, crash=True),
    Scenario("dynamodb run", "dynamodb-replica-conflict", "dynamodb-replica-conflict"),
    Scenario("dynamodb crash + recover", "dynamodb-replica-conflict",
             "dynamodb-replica-conflict", crash=True),
    Scenario("s3 replication pause run", "s3-replication-pause", "s3-replication-pause"),
    Scenario("s3 replication pause crash + recover", "s3-replication-pause",
             "s3-replication-pause", crash=True, ledger_first=True),
    Scenario("fis run", "fis-az-disrupt-connectivity", "fis-az-disrupt-connectivity"),
    Scenario("fis crash + recover", "fis-az-disrupt-connectivity",
             "fis-az-disrupt-connectivity", crash=True),
    Scenario("rds restore drill run", "rds-restore-drill", "rds-restore-drill"),
    Scenario("rds restore drill from snapshot", "rds-restore-drill", "rds-restore-drill",
             {"GAMEDAY_RESTORE_SOURCE": "snapshot"}),
    Scenario("rds restore drill from the DR region's backup copy", "rds-restore-drill",
             "rds-restore-drill",
             {"GAMEDAY_RESTORE_SOURCE": "backup-copy", "GAMEDAY_DR_REGION": OTHER_REGION,
              "GAMEDAY_BACKUP_VAULT": BACKUP_COPY_VAULT}),
    Scenario("rds restore drill crash + recover", "rds-restore-drill", "rds-restore-drill",
             crash=True, variant=_hold_after_the_restore),
    Scenario("dynamodb pitr drill run", "dynamodb-pitr-drill", "dynamodb-pitr-drill", DRILL_ENV),
    Scenario("dynamodb pitr drill crash + recover", "dynamodb-pitr-drill",
             "dynamodb-pitr-drill", DRILL_ENV, crash=True),
    # the instance path (the world's cluster is named to every path: not this one's)
    Scenario("az power interruption run", "az-power-interruption", "az-power-interruption",
             {"GAMEDAY_DB_CLUSTER": ""}, variant=_scenario_without_database),
    Scenario("az power interruption crash + recover", "az-power-interruption",
             "az-power-interruption", {"GAMEDAY_DB_CLUSTER": ""}, crash=True,
             variant=_scenario_without_database),
    Scenario("dynamodb replication pause run", "dynamodb-replication-pause",
             "dynamodb-replication-pause"),
    Scenario("dynamodb replication pause crash + recover", "dynamodb-replication-pause",
             "dynamodb-replication-pause", crash=True),
    Scenario("ec2 stop run", "ec2-stop-instances", "ec2-stop-instances"),
    Scenario("ec2 stop crash + recover", "ec2-stop-instances", "ec2-stop-instances",
             crash=True),
    Scenario("region failover drill run", "region-failover-drill", "region-failover-drill",
             variant=_drill_without_data_plane),
    Scenario("region failover drill crash + recover", "region-failover-drill",
             "region-failover-drill", crash=True, variant=_drill_hold_after_the_dns_change),
)  # fmt: skip


def _waf_references(endpoint: str, world: dict[str, Any]) -> None:
    """Count rules in the web ACL referencing every kind of WAF resource UpdateWebACL's
    authorization covers (ip set, regex set, rule group, managed rule group)."""
    wafv2 = client("wafv2", endpoint)
    ipset = wafv2.create_ip_set(
        Name="office", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=["192.0.2.0/24"]
    )["Summary"]["ARN"]
    regex = wafv2.create_regex_pattern_set(
        Name="bots", Scope="REGIONAL", RegularExpressionList=[{"RegexString": "^bot"}]
    )["Summary"]["ARN"]
    group = wafv2.create_rule_group(
        Name="extra", Scope="REGIONAL", Capacity=10, VisibilityConfig=VISIBILITY, Rules=[]
    )["Summary"]["ARN"]
    acl = wafv2.get_web_acl(Scope="REGIONAL", Name=world["web_acl"]["Name"],
                            Id=world["web_acl"]["Id"])  # fmt: skip
    web_acl = acl["WebACL"]
    agent = {"SingleHeader": {"Name": "user-agent"}}
    none = [{"Priority": 0, "Type": "NONE"}]
    statements = {
        "office-ips": {"IPSetReferenceStatement": {"ARN": ipset}},
        "bot-agents": {
            "RegexPatternSetReferenceStatement": {
                "ARN": regex, "FieldToMatch": agent, "TextTransformations": none
            }
        },
        "extra-group": {"RuleGroupReferenceStatement": {"ARN": group}},
        "aws-common": {
            "ManagedRuleGroupStatement": {
                "VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"
            }
        },
    }  # fmt: skip
    rules = list(web_acl.get("Rules", []))
    for n, (name, statement) in enumerate(statements.items()):
        rule: dict[str, Any] = {
            "Name": name,
            "Priority": 20 + n,
            "Statement": statement,
            "VisibilityConfig": {**VISIBILITY, "MetricName": name},
        }
        if "IPSetReferenceStatement" in statement or "RegexPatternSetReferenceStatement" in (
            statement
        ):
            rule["Action"] = {"Count": {}}
        else:
            rule["OverrideAction"] = {"Count": {}}
        rules.append(rule)
    wafv2.update_web_acl(
        Name=web_acl["Name"],
        Scope="REGIONAL",
        Id=web_acl["Id"],
        DefaultAction=web_acl["DefaultAction"],
        VisibilityConfig=web_acl["VisibilityConfig"],
        Rules=rules,
        LockToken=acl["LockToken"],
    )


def _cluster(endpoint: str) -> None:
    rds = client("rds", endpoint)
    rds.create_db_cluster(
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-1",
    )
    for index, zone in enumerate((f"{REGION}a", f"{REGION}b")):
        rds.create_db_instance(
            DBInstanceIdentifier=f"{CLUSTER}-{index}",
            DBClusterIdentifier=CLUSTER,
            Engine="aurora-postgresql",
            DBInstanceClass="db.r6g.large",
            AvailabilityZone=zone,
        )


def _cross_region_alarm(endpoint: str, world: dict[str, Any]) -> None:
    client("cloudwatch", endpoint, region=ALARM_REGION).put_metric_alarm(
        AlarmName=CROSS_REGION_ALARM,
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": world["health_check_id"]}],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )


def _api_instances(endpoint: str, world: dict[str, Any]) -> list[str]:
    """The API's instances the ec2-stop experiment stops: two in its zone (one
    protected, left out), one in another zone (not selected)."""
    ec2 = client("ec2", endpoint)
    key, value = API_INSTANCE_TAG
    ids = []
    for zone, protected in ((f"{REGION}a", False), (f"{REGION}a", True), (f"{REGION}b", False)):
        tags = [{"Key": key, "Value": value}, {"Key": "Name", "Value": f"ticket-api-{zone}"}]
        if protected:
            tags.append({"Key": "chaos:protected", "Value": "true"})
        ids += [
            i["InstanceId"]
            for i in ec2.run_instances(
                ImageId="ami-12c6146b", MinCount=1, MaxCount=1, SubnetId=world["subnets"][zone],
                TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
            )["Instances"]
        ]  # fmt: skip
    return ids


def _failover_zone(endpoint: str, world: dict[str, Any]) -> None:
    """The DR drill's hosted zone: a failover pair of alias records, the PRIMARY guarded
    by the world's health check (the health-check block's plan requires it)."""
    route53 = client("route53", endpoint)
    zone = route53.create_hosted_zone(Name=DRILL_ZONE, CallerReference=f"drill-{time.time()}")
    zone_id = zone["HostedZone"]["Id"].split("/")[-1]
    balancer = client("elbv2", endpoint).describe_load_balancers(
        LoadBalancerArns=[world["load_balancer_arn"]]
    )["LoadBalancers"][0]
    targets = {"PRIMARY": balancer["DNSName"], "SECONDARY": f"standby.{OTHER_REGION}.elb.test"}
    changes = []
    for role, dns_name in targets.items():
        record: dict[str, Any] = {
            "Name": f"api.{DRILL_ZONE}", "Type": "A", "SetIdentifier": role.lower(),
            "Failover": role,
            "AliasTarget": {"HostedZoneId": balancer["CanonicalHostedZoneId"],
                            "DNSName": dns_name, "EvaluateTargetHealth": True},
        }  # fmt: skip
        if role == "PRIMARY":
            record["HealthCheckId"] = world["health_check_id"]
        changes.append({"Action": "CREATE", "ResourceRecordSet": record})
    route53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
    world.update(hosted_zone_id=zone_id, failover_record=f"api.{DRILL_ZONE}", zone_name=DRILL_ZONE)


def seed(endpoint: str, replicator: Any) -> dict[str, Any]:
    """The world of tests/helpers/aws_world.py, plus the harder parts (module docstring)."""
    world = seed_world(endpoint)
    replicator.make_global(TABLE, [REGION, OTHER_REGION, THIRD_REGION])
    _waf_references(endpoint, world)
    _cluster(endpoint)
    _cross_region_alarm(endpoint, world)
    world["api_instances"] = _api_instances(endpoint, world)
    world["cluster"] = CLUSTER
    buckets = seed_replicated_buckets(
        client("s3", endpoint), client("s3", endpoint, region=OTHER_REGION), ACCOUNT,
        "production", REGION, OTHER_REGION,
    )  # fmt: skip
    world["bucket"] = buckets["knowledge_base"]["source"]
    world["replica_bucket"] = buckets["knowledge_base"]["replica"]
    world["replication_role"] = replication_role_arn(ACCOUNT, "production").split("/")[-1]
    _failover_zone(endpoint, world)
    return world


def policy_values(world: dict[str, Any]) -> dict[str, str]:
    """What ``gameday policy NAME --account ... --region ... --set ...`` fills in."""
    return {
        "account": ACCOUNT,
        "region": REGION,
        "vpc_id": world["vpc_id"],
        "db_instance": world["db"],
        "db_cluster": world["cluster"],
        "health_check_id": world["health_check_id"],
        "table": world["table"],
        "lock_table": world.get("lock_table", LOCK_TABLE),
        "bucket": world.get("bucket", ""),  # only the S3 scenarios' worlds have one
        "replica_bucket": world.get("replica_bucket", ""),
        "replication_role": world.get("replication_role", ""),
        "fis_role": FIS_ROLE,
        "dr_region": OTHER_REGION,
        "backup_vault": BACKUP_COPY_VAULT,
        "instance_tag_key": API_INSTANCE_TAG[0],
        "instance_tag_value": API_INSTANCE_TAG[1],
        "hosted_zone_id": world.get("hosted_zone_id", ""),
        "failover_record": world.get("failover_record", ""),
        "zone_name": world.get("zone_name", ""),
    }


def _experiment(scenario: Scenario, workdir: Path) -> Path:
    path, _ = with_safety_control(
        scenario.experiment, workdir, hold_seconds=120 if scenario.crash else None,
        ticket_api=True,
    )  # fmt: skip
    if scenario.variant is not None:
        loaded = yaml.safe_load(path.read_text())
        scenario.variant(loaded)
        path.write_text(yaml.safe_dump(loaded, sort_keys=False))
    return path


def _wait_for_hold(log: Path, process: subprocess.Popen[str], timeout: float) -> None:
    """Until ``chaos run`` logs the hold action: the inject is complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"chaos run ended (exit {process.returncode}) before the hold")
        if log.exists() and "hold-the-fault" in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"chaos run did not reach the hold within {timeout} s")


def _gameday(env: dict[str, str], workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [gameday_executable(), *args],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def run_scenario(
    scenario: Scenario, world: dict[str, Any], endpoint: str, workdir: Path
) -> list[Call]:
    """Run one path with the recorder on; its calls (each run's outcome is asserted:
    a path that failed half way would check only half of its calls)."""
    workdir.mkdir(parents=True, exist_ok=True)
    calls = workdir / "calls.jsonl"
    path = _experiment(scenario, workdir)
    env = experiment_env(
        scenario.experiment,
        world,
        workdir,
        endpoint,
        **{
            "GAMEDAY_LOCK_TABLE": LOCK_TABLE,
            "GAMEDAY_DB_CLUSTER": world["cluster"],
            **scenario.env,
            **recording_env(calls),
        },
    )
    command = [chaos_executable(), "--no-version-check", "--no-log-file", "run",
               "--journal-path", str(workdir / "journal.json"), str(path)]  # fmt: skip
    ledger = workdir / "ledger.jsonl"
    if not scenario.crash:
        done = subprocess.run(
            command, cwd=workdir, env=env, capture_output=True, text=True, timeout=180
        )
        if done.returncode != 0:
            raise AssertionError(f"{scenario.name}: chaos run failed\n{done.stdout}{done.stderr}")
        return load_calls(calls)
    log = workdir / "chaos.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT, text=True
        )
        try:
            _wait_for_hold(log, process, timeout=90)
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    if not Ledger(ledger).unreverted():
        raise AssertionError(f"{scenario.name}: nothing left to recover after the SIGKILL")
    regions = (REGION, OTHER_REGION, THIRD_REGION)
    # every experiment's configuration, as the SRE gives it (``--var-file`` of each):
    # recover --by-tag searches what each names (tables, markers, lock table)
    everything = {}
    for experiment in FAULT_EXPERIMENTS:
        everything.update(experiment_env(experiment, world, workdir, endpoint))

    def by_tag() -> subprocess.CompletedProcess[str]:
        return _gameday({**everything, **env}, workdir, "recover", "--by-tag", "--force",
                        "--regions", *regions)  # fmt: skip

    def by_ledger() -> subprocess.CompletedProcess[str]:
        return _gameday(env, workdir, "recover", "--ledger", str(ledger), "--region", REGION)

    order = (by_ledger, by_tag) if scenario.ledger_first else (by_tag, by_ledger)
    for recover in order:
        done = recover()
        if done.returncode != 0:
            raise AssertionError(f"{scenario.name}: {done.args}\n{done.stdout}{done.stderr}")
    return load_calls(calls)


@cache
def _fault_packages(experiment: str) -> frozenset[str]:
    """The fault packages an experiment's own activities come from (a scenario that
    composes several faults needs every one of them granted by its own policy)."""
    loaded = yaml.safe_load((ROOT / "experiments" / f"{experiment}.yaml").read_text())
    used = faults_used_by(loaded)
    return frozenset(d.package for d in fault_declarations() if d.id in used)


def fault_policy(call: Call, scenario: Scenario) -> str:
    """The policy that must grant ``call``: the scenario's, unless another fault's code
    made it (an orphan finder during ``gameday recover --by-tag``). Keyed by package
    (``chaosaws_ext.<fault>``), whatever module of it made the call; a fault the
    scenario's experiment itself applies is the scenario's."""
    own = _fault_packages(scenario.experiment)
    for package, owners in FAULT_POLICIES.items():
        ours = call.origin == package or call.origin.startswith(package + ".")
        policies = (owners,) if isinstance(owners, str) else owners
        if ours and not scenario.policy.startswith(policies) and package not in own:
            return policies[0]
    return scenario.policy


def _drop_lock_table(endpoint: str) -> None:
    dynamodb = client("dynamodb", endpoint)
    try:
        dynamodb.delete_table(TableName=LOCK_TABLE)
    except dynamodb.exceptions.ResourceNotFoundException:
        return


def record_all(
    world: dict[str, Any], endpoint: str, workdir: Path, scenarios: tuple[Scenario, ...] = SCENARIOS
) -> dict[str, list[Call]]:
    """Every scenario run once; the recorded calls, per policy that must grant them.

    The lock table is dropped before the first path of each policy, so that each one
    creates it (CreateTable with tags) as a first run in an account does."""
    by_policy: dict[str, list[Call]] = {}
    # the blackhole's sampler and ticket-api write markers reach the sandbox's ticket API
    with ticket_api(world, endpoint):
        for n, scenario in enumerate(scenarios):
            if all(s.policy != scenario.policy for s in scenarios[:n]):
                _drop_lock_table(endpoint)
            for call in run_scenario(scenario, world, endpoint, workdir / f"{n:02d}"):
                by_policy.setdefault(fault_policy(call, scenario), []).append(call)
    return by_policy
