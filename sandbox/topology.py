"""What a started sandbox is, as a client of it needs to know it: ids, ARNs, addresses.

:class:`Topology` is what ``Sandbox.start()`` returns; :meth:`Topology.env` is the env
file ``chaos run --var-file`` reads.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox import seed
from sandbox.envfile import FIXED

__all__ = ["RegionTopology", "Topology"]


@dataclass
class RegionTopology:
    region: str
    vpc_id: str
    vpc_cidr: str
    subnets: dict[str, dict[str, str]]  # tier (public/private/data) -> AZ -> subnet id
    load_balancer_arn: str
    load_balancer_name: str
    load_balancer_dns: str
    target_group_arn: str
    target_ips: dict[str, str]  # AZ -> registered IP target
    listener_arn: str
    listener_port: int
    web_acl_arn: str
    alb_address: tuple[str, int]  # the region's front: the ALB as a retrying client sees it
    api_instances: dict[str, tuple[str, int]]  # AZ -> API instance address
    # AZ -> the loopback address of the ALB's node there (what load_balancer_dns answers;
    # each listens on listener_port)
    alb_nodes: dict[str, str] = field(default_factory=dict)
    # AZ -> the ticket API's EC2 instance there (its server follows the instance's power)
    api_instance_ids: dict[str, str] = field(default_factory=dict)

    @property
    def azs(self) -> list[str]:
        return list(self.subnets["public"])


@dataclass
class Topology:
    """Everything started and seeded, as a client of the sandbox needs to know it."""

    endpoint_url: str
    account_id: str
    region: str
    other_region: str
    time_scale: float
    workdir: str
    env_file: str
    primary: RegionTopology
    standby: RegionTopology
    db_instance_id: str
    db_instance_arn: str
    db_dsn: str  # PostgreSQL DSN of the DB proxy ("" when the DB part is missing)
    table_name: str
    table_arn: str
    table_regions: list[str]
    hosted_zone_id: str
    zone_name: str
    record_name: str
    health_check_ids: dict[str, str]  # PRIMARY / SECONDARY -> health check id
    health_check_interval_s: float  # scaled interval the checkers probe at
    health_check_threshold: int
    dns_ttl: int
    dns_server: tuple[str, int]
    alarms: list[dict[str, str]]  # [{"name", "region"}]
    api_url: str
    missing: list[str] = field(default_factory=list)  # parts left out, and why
    # the guide's replicated buckets: {"knowledge_base"|"logs": {"source", "replica"}}
    buckets: dict[str, dict[str, str]] = field(default_factory=dict)
    fis_role_arn: str = ""  # the role FIS experiment templates name (sandbox.seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _sampling_hz(self) -> float:
        """A faster world needs finer sampling for the same relative resolution."""
        return 4.0 if self.time_scale >= 0.5 else 10.0

    def env(self) -> dict[str, str]:
        """The env file's values."""
        dns = f"{self.dns_server[0]}:{self.dns_server[1]}"
        return {
            **FIXED,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            # the guardrails refuse unknown accounts: the sandbox's is moto's
            "GAMEDAY_ALLOWED_ACCOUNTS": self.account_id,
            "GAMEDAY_ALLOWED_REGIONS": f"{self.region},{self.other_region}",
            "GAMEDAY_AZ": self.primary.azs[0],
            "GAMEDAY_VPC_ID": self.primary.vpc_id,
            "GAMEDAY_API_URL": self.api_url,
            "GAMEDAY_DB_INSTANCE": self.db_instance_id,
            "GAMEDAY_DB_DSN": self.db_dsn,
            "GAMEDAY_HEALTH_CHECK_ID": self.health_check_ids["PRIMARY"],
            "GAMEDAY_FAILOVER_RECORD": self.record_name,
            # both regions' public faces listen on the same port (REGION_HOSTS)
            "GAMEDAY_FAILOVER_URL": (
                f"http://{self.record_name}:{self.primary.alb_address[1]}{seed.HEALTH_PATH}"
            ),
            "GAMEDAY_DNS_SERVER": dns,
            # the primary ALB by name, as a client reaches it on AWS: resolve the name
            # through GAMEDAY_DNS_SERVER (one address per AZ node), any node answers
            "GAMEDAY_ALB_DNS_NAME": self.primary.load_balancer_dns,
            "GAMEDAY_ALB_URL": (
                f"http://{self.primary.load_balancer_dns}:{self.primary.listener_port}"
                f"{seed.API_PATH}"
            ),
            "GAMEDAY_TABLE": self.table_name,
            # the tag selecting the ticket API's EC2 instances (the ec2-stop fault)
            "GAMEDAY_API_INSTANCE_TAG_KEY": seed.API_APP_TAG[0],
            "GAMEDAY_API_INSTANCE_TAG_VALUE": seed.API_APP_TAG[1],
            # its waits for stopped/running: boto3's 15 s polls are too coarse for a faster
            # world; a stop and a boot take minutes at most on AWS, scaled here
            "GAMEDAY_INSTANCE_POLL_INTERVAL": "5" if self.time_scale >= 0.5 else "0.1",
            "GAMEDAY_INSTANCE_TIMEOUT": str(max(60, math.ceil(600 * self.time_scale))),
            "GAMEDAY_OTHER_REGION": self.other_region,
            # a faster world needs finer sampling for the same relative resolution
            "GAMEDAY_SAMPLING_HZ": f"{self._sampling_hz():g}",
            "GAMEDAY_MARKER_INTERVAL": "0.2" if self.time_scale >= 0.5 else "0.1",
            # the blackhole's ticket writes: each is a PutItem in this process's moto, so
            # no faster than staging's (the data plane's samplers share the process)
            "GAMEDAY_TICKET_MARKER_INTERVAL": "0.2",
            # a ticket write's answer: the ALB answers one sent to a lost zone's target
            # after its connect timeout (10 s, scaled): a lost write fails either way
            "GAMEDAY_MARKER_TIMEOUT": "1" if self.time_scale >= 0.5 else "0.5",
            # the blackhole's write markers: tickets POSTed through the primary ALB by
            # name (resolved through GAMEDAY_DNS_SERVER: one address per AZ node)
            "GAMEDAY_TICKETS_URL": (
                f"http://{self.primary.load_balancer_dns}:{self.primary.listener_port}"
                f"{seed.API_PATH}"
            ),
            # the blackhole's recovery window: staging's 10 s scaled, but never under 30
            # samples (many rounds of the sampler over the three zones)
            "GAMEDAY_RECOVERY_WINDOW": f"{max(10 * self.time_scale, 30 / self._sampling_hz()):g}",
            # staging waits 600 s for a recovery; scaled, never under a minute
            "GAMEDAY_RECOVERY_TIMEOUT": str(max(60, math.ceil(600 * self.time_scale))),
            # the AZ power interruption's symptoms: FIS's scenario lasts 30 minutes
            # ("AZ Availability: Power Interruption", AWS FIS User Guide, Scenario
            # Library), scaled; its dead-man's switch above them plus the recovery
            "GAMEDAY_SYMPTOMS_SECONDS": f"{1800 * self.time_scale:g}",
            "GAMEDAY_SCENARIO_MAX_FAULT_SECONDS": str(max(300, math.ceil(2700 * self.time_scale))),
            # how long a fault may wait for Route 53 to see the endpoint fail: the
            # checkers need FailureThreshold x RequestInterval; x6 leaves room for the
            # staggered checkers and a slow machine (180 s at real time, like staging;
            # the 30 s demo bound of FIXED at small time scales)
            "GAMEDAY_HEALTH_CHECK_WAIT_SECONDS": str(
                max(30, math.ceil(6 * self.health_check_interval_s * self.health_check_threshold))
            ),
            # the roleArn of FIS experiment templates run in the sandbox (sandbox.fis)
            **({"GAMEDAY_FIS_ROLE_ARN": self.fis_role_arn} if self.fis_role_arn else {}),
            # the RDS restore drill: the restore's status is polled every 5 s on AWS (the
            # RDS API budget is shared), finer in a faster world; a restore may take an
            # hour for the plan's instance, the drill its whole duration
            "GAMEDAY_RESTORE_POLL_INTERVAL": "5" if self.time_scale >= 0.5 else "0.1",
            "GAMEDAY_RESTORE_TIMEOUT": str(max(60, math.ceil(3600 * self.time_scale))),
            "GAMEDAY_DRILL_MAX_SECONDS": str(max(300, math.ceil(7200 * self.time_scale))),
            # the region failover drill (experiments/region-failover-drill.yaml): the
            # zone, the runbook's failback windows (15 and 30 minutes) and its step boxes
            # scaled; the replication pause outlasts the drill up to the failback
            "GAMEDAY_HOSTED_ZONE_ID": self.hosted_zone_id,
            "GAMEDAY_FAILOVER_MODE": "record",
            "GAMEDAY_FAILBACK_WINDOW_10": f"{900 * self.time_scale:g}",
            "GAMEDAY_FAILBACK_WINDOW_50": f"{1800 * self.time_scale:g}",
            "GAMEDAY_RUNBOOK_SCALE": f"{self.time_scale:g}",
            "GAMEDAY_FAILBACK_MAX_ERROR_RATE": "0.01",
            "GAMEDAY_FAILBACK_MAX_P99_MS": "1000",
            # the S3 replication pause's source bucket (the knowledge base)
            **(
                {"GAMEDAY_BUCKET": self.buckets["knowledge_base"]["source"]}
                if "knowledge_base" in self.buckets
                else {}
            ),
        }
