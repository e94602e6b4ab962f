"""The sandbox: a local twin of the reference architecture, started and stopped as one.

``Sandbox(time_scale=0.05).start()`` runs, all on 127.0.0.0/8 and in this process:

1. a moto server (``ThreadedMotoServer``, free port) holding the seeded architecture
   (see :mod:`sandbox.seed`): eu-south-1 primary and eu-west-1 standby, each with a VPC,
   nine subnets, an ALB with one API target per AZ, a WAFv2 web ACL; the Multi-AZ
   ``production-analytics-db``; the ``production-ai-support-tickets`` global table; the
   ``ai-support.example.com`` zone with failover records and health checks; alarms;
2. the behaviour moto lacks: RDS failover windows, DynamoDB replication, Route 53
   health checkers (all scaled by ``time_scale``);
3. the data plane: API instances per AZ, an ALB emulator per region (listener rules,
   WAF, NACLs), a PostgreSQL behind a proxy that refuses connections during an RDS
   failover, a DNS server answering the failover records;
4. an env file for ``chaos run ... --var-file``.

``stop()`` ends every thread and server, frees every port, resets moto's in-process
state and removes the temporary work directory. Parts left out on purpose
(``with_database=False``) are listed in ``Topology.missing``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config

from sandbox import seed
from sandbox.envfile import FIXED, write_env_file
from sandbox.timing import HEALTH_CHECK_FAILURE_THRESHOLD, HEALTH_CHECK_INTERVAL_S, Timings

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"
# The two regions' public faces get their own loopback address (same port on both), so
# a DNS answer (an IP) tells which region a client reaches. Linux routes all of
# 127.0.0.0/8 to the loopback interface.
REGION_HOSTS = {seed.PRIMARY_REGION: "127.0.10.1", seed.STANDBY_REGION: "127.0.20.1"}
# One Sandbox per process at a time: moto's backends (and the emulators' patches) are
# process-wide. Sandboxes in different processes coexist (every port is picked free).
_running: Sandbox | None = None
_running_lock = threading.Lock()
_session: boto3.session.Session | None = None
_session_lock = threading.Lock()


def _boto_session() -> boto3.session.Session:
    """One boto3 session for every sandbox of the process: its loader caches the
    service models, which makes client creation several times faster."""
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5)


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
    alb_address: tuple[str, int]  # where the region's ALB (emulator) listens
    api_instances: dict[str, tuple[str, int]]  # AZ -> API instance address

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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
            "GAMEDAY_TABLE": self.table_name,
            "GAMEDAY_OTHER_REGION": self.other_region,
            # a faster world needs finer sampling for the same relative resolution
            "GAMEDAY_SAMPLING_HZ": "4" if self.time_scale >= 0.5 else "10",
            "GAMEDAY_MARKER_INTERVAL": "0.2" if self.time_scale >= 0.5 else "0.1",
            # staging waits 600 s for a recovery; scaled, never under a minute
            "GAMEDAY_RECOVERY_TIMEOUT": str(max(60, math.ceil(600 * self.time_scale))),
            # how long a fault may wait for Route 53 to see the endpoint fail: the
            # checkers need FailureThreshold x RequestInterval; x6 leaves room for the
            # staggered checkers and a slow machine (180 s at real time, like staging;
            # the 30 s demo bound of FIXED at small time scales)
            "GAMEDAY_HEALTH_CHECK_WAIT_SECONDS": str(
                max(30, math.ceil(6 * self.health_check_interval_s * self.health_check_threshold))
            ),
        }


class Sandbox:
    """Start/stop the local twin; also a context manager returning the :class:`Topology`.

    ``time_scale`` multiplies every published AWS duration the emulators act on (0.05:
    the DR plan's 30 s health check interval becomes 1.5 s; pass
    ``health_check_request_interval=10`` for Route 53's fast interval). ``workdir``:
    where the env file and the database live; a temporary directory (removed by
    ``stop``) when None. ``env_file``: write the env file there instead of
    ``<workdir>/sandbox.env`` (it is left in place). ``strictness``: the ELBv2/WAFv2
    limits moto lacks (:class:`sandbox.behaviour.aws_limits.Strictness`; None = all on).
    ``ec2_strictness``: EC2 NACL
    eventual consistency and quota as AWS (:mod:`sandbox.behaviour.ec2_consistency`);
    None: as the environment says (on by default), False: off, or an ``Ec2Strictness``.
    """

    def __init__(
        self,
        time_scale: float = 1.0,
        workdir: str | Path | None = None,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        health_check_request_interval: int = HEALTH_CHECK_INTERVAL_S,
        health_check_failure_threshold: int = HEALTH_CHECK_FAILURE_THRESHOLD,
        with_database: bool = True,
        env_file: str | Path | None = None,
        strictness: Any = None,
        ec2_strictness: Any = None,
    ) -> None:
        if health_check_request_interval not in (10, 30):
            raise ValueError("Route 53 RequestInterval is 10 or 30 seconds")
        self.timings = Timings(time_scale)
        self.account_id = account_id
        self._given_workdir = Path(workdir) if workdir is not None else None
        self._request_interval = health_check_request_interval
        self._failure_threshold = health_check_failure_threshold
        self._with_database = with_database
        self._env_file = Path(env_file) if env_file is not None else None
        # ELBv2/WAFv2 limits moto does not enforce (sandbox.behaviour.aws_limits.Strictness;
        # None = every switch on, as AWS)
        self._strictness = strictness
        self._ec2_strictness = ec2_strictness
        self.ec2_strictness: Any = None
        self._stack: contextlib.ExitStack | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self.topology: Topology | None = None
        self.stop_timings: list[tuple[str, float]] = []
        self.endpoint_url = ""
        self.workdir: Path | None = None
        # the live parts, for tests and the CLI
        self.health: Any = None
        self.rds: Any = None
        self.replicator: Any = None
        self.api_instances: dict[str, dict[str, Any]] = {}
        self.albs: dict[str, Any] = {}
        self.dns: Any = None
        self.db_proxy: Any = None
        self.postgres: Any = None
        self._records: Callable[[str, str], list[tuple[str, int]] | None] | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def __enter__(self) -> Topology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Topology:
        global _running
        if self._stack is not None:
            raise RuntimeError("sandbox already started")
        with _running_lock:
            if _running is not None:
                raise RuntimeError(
                    "another Sandbox runs in this process (moto's state is process-wide): "
                    "stop it first, or start the second one in another process"
                )
            _running = self
        began = time.monotonic()
        self._stack = contextlib.ExitStack()
        try:
            self.topology = self._start(self._stack)
        except Exception as error:
            self.stop()
            raise SandboxStartError(_failed_part(error), error) from error
        except BaseException:
            self.stop()
            raise
        log.info("sandbox up in %.2fs: %s", time.monotonic() - began, self.endpoint_url)
        return self.topology

    def stop(self) -> None:
        """Stop everything started (newest first); idempotent."""
        global _running
        stack, self._stack = self._stack, None
        if stack is None:
            return
        try:
            stack.close()
        finally:
            self._clients.clear()
            with _running_lock:
                if _running is self:
                    _running = None

    # -- building blocks ---------------------------------------------------------------
    def _defer(
        self, stack: contextlib.ExitStack, stop: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """Register a stop step; ``stop_timings`` records how long each one took."""
        name = getattr(stop, "__qualname__", repr(stop))

        def timed() -> None:
            began = time.monotonic()
            try:
                stop(*args, **kwargs)
            finally:
                self.stop_timings.append((name, time.monotonic() - began))

        stack.callback(timed)

    def client(self, service: str, region: str = seed.PRIMARY_REGION) -> Any:
        """A boto3 client for the sandbox (explicit endpoint and dummy credentials).

        Clients share one session (its loader caches the service models) and are closed
        by ``stop``.
        """
        key = (service, region)
        if key in self._clients:
            return self._clients[key]
        with _session_lock:
            client = _boto_session().client(
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=FIXED["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FIXED["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FIXED["AWS_SESSION_TOKEN"],
                config=_CLIENT_CONFIG,
            )
        self._clients[key] = client
        return client

    def _start(self, stack: contextlib.ExitStack) -> Topology:
        missing: list[str] = []
        self.workdir = self._make_workdir(stack)
        self._start_moto(stack)
        self._install_elb_waf_strictness(stack)
        self._defer(stack, self._close_clients)
        primary, standby = seed.PRIMARY_REGION, seed.STANDBY_REGION
        networks = {r: seed.seed_network(self.client("ec2", r), r) for r in (primary, standby)}
        lbs = {
            r: seed.seed_load_balancer(self.client("ec2", r), self.client("elbv2", r), n)
            for r, n in networks.items()
        }
        db = seed.seed_database(self.client("rds", primary), networks[primary])
        self._install_ec2_strictness(stack)  # after seeding: the seed is old news
        table = seed.seed_table(self.client("dynamodb", primary))

        self._install_rds(stack)
        table_regions = self._install_replication(stack)
        self._start_api_instances(stack)
        alb_addresses = self._start_albs(stack, lbs)

        regions: dict[str, RegionTopology] = {}
        for region, lb in lbs.items():
            host, port = alb_addresses[region]
            elbv2 = self.client("elbv2", region)
            listener_arn = seed.seed_listener(elbv2, lb, port)
            acl_arn = seed.seed_web_acl(self.client("wafv2", region), region, lb.arn)
            network = networks[region]
            regions[region] = RegionTopology(
                region=region,
                vpc_id=network.vpc_id,
                vpc_cidr=network.cidr,
                subnets=network.subnets,
                load_balancer_arn=lb.arn,
                load_balancer_name=lb.name,
                load_balancer_dns=lb.dns_name,
                target_group_arn=lb.target_group_arn,
                target_ips=lb.target_ips,
                listener_arn=listener_arn,
                listener_port=port,
                web_acl_arn=acl_arn,
                alb_address=(host, port),
                api_instances={az: i.address for az, i in self.api_instances[region].items()},
            )
        dsn = self._start_database(stack, db["id"], missing)

        def endpoint(region: str) -> seed.FailoverEndpoint:
            host, port = regions[region].alb_address
            return seed.FailoverEndpoint(region, host, port, regions[region].load_balancer_dns)

        dns_seed = seed.seed_dns(
            self.client("route53", primary),
            endpoint(primary),
            endpoint(standby),
            ttl=self.timings.dns_ttl(),
            request_interval=self._request_interval,
            failure_threshold=self._failure_threshold,
        )
        self._install_health_checkers(stack)
        dns_address = self._start_dns(stack)
        alarms = seed.seed_alarms(
            self.client,
            dns_seed["health_checks"],
            seed.cloudwatch_dimension(lbs[primary].arn),
            seed.cloudwatch_dimension(lbs[primary].target_group_arn),
        )
        self._close_clients()
        api_host, api_port = regions[primary].alb_address
        topology = Topology(
            endpoint_url=self.endpoint_url,
            account_id=self.account_id,
            region=primary,
            other_region=standby,
            time_scale=self.timings.time_scale,
            workdir=str(self.workdir),
            env_file=str(self._env_file or self.workdir / "sandbox.env"),
            primary=regions[primary],
            standby=regions[standby],
            db_instance_id=db["id"],
            db_instance_arn=db["arn"],
            db_dsn=dsn,
            table_name=table["name"],
            table_arn=table["arn"],
            table_regions=table_regions,
            hosted_zone_id=dns_seed["zone_id"],
            zone_name=seed.ZONE_NAME,
            record_name=seed.RECORD_NAME,
            health_check_ids=dns_seed["health_checks"],
            health_check_interval_s=self.timings.health_check_interval(self._request_interval),
            health_check_threshold=self._failure_threshold,
            dns_ttl=self.timings.dns_ttl(),
            dns_server=dns_address,
            alarms=alarms,
            api_url=f"http://{api_host}:{api_port}{seed.API_PATH}",
            missing=missing,
        )
        write_env_file(topology.env(), topology.env_file)
        return topology

    def _make_workdir(self, stack: contextlib.ExitStack) -> Path:
        if self._given_workdir is not None:
            self._given_workdir.mkdir(parents=True, exist_ok=True)
            return self._given_workdir
        path = Path(tempfile.mkdtemp(prefix="gameday-sandbox-"))
        self._defer(stack, shutil.rmtree, path, ignore_errors=True)
        return path

    def _start_moto(self, stack: contextlib.ExitStack) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # moto loads thousands of sample AMIs into every EC2 region backend it creates;
        # the sandbox needs none (saves ~0.4 s per region). The variable is process-wide:
        # set only if unset, and removed again by stop().
        if "MOTO_EC2_LOAD_DEFAULT_AMIS" not in os.environ:
            os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"
            self._defer(stack, os.environ.pop, "MOTO_EC2_LOAD_DEFAULT_AMIS", None)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()

        def stop_moto() -> None:
            # moto keeps its state per process: leave nothing seeded behind for the next
            # user of moto in this process (another Sandbox, a test).
            with contextlib.suppress(Exception):
                requests.post(f"{self.endpoint_url}/moto-api/reset", timeout=10)
            server.stop()
            inner = getattr(server, "_server", None)
            if inner is not None:
                inner.server_close()  # ThreadedMotoServer.stop() leaves the socket open

        self._defer(stack, stop_moto)
        host, port = server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"

    def _install_elb_waf_strictness(self, stack: contextlib.ExitStack) -> None:
        from sandbox.behaviour import elb_waf_strict

        stack.enter_context(elb_waf_strict.strict_elb_waf(self._strictness))

    def _close_clients(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()

    def _install_ec2_strictness(self, stack: contextlib.ExitStack) -> None:
        from sandbox.behaviour.ec2_consistency import Ec2Strictness, from_environment

        if self._ec2_strictness is False:
            return
        chosen = self._ec2_strictness
        self.ec2_strictness = (chosen if isinstance(chosen, Ec2Strictness) else None) or (
            from_environment()
        )
        self.ec2_strictness.install()
        self._defer(stack, self.ec2_strictness.uninstall)

    def _install_rds(self, stack: contextlib.ExitStack) -> None:
        from sandbox.behaviour.rds_failover import RdsFailoverEmulator

        self.rds = RdsFailoverEmulator(
            time_scale=self.timings.time_scale,
            account_id=self.account_id,
            regions=(seed.PRIMARY_REGION, seed.STANDBY_REGION),
        ).install()
        self._defer(stack, self.rds.uninstall)

    def _install_replication(self, stack: contextlib.ExitStack) -> list[str]:
        from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator

        self.replicator = GlobalTableReplicator(time_scale=self.timings.time_scale).start()
        self._defer(stack, self.replicator.stop)
        return list(
            self.replicator.make_global(
                seed.TABLE_NAME,
                [seed.PRIMARY_REGION, seed.STANDBY_REGION],
                account_id=self.account_id,
            )
        )

    def _start_api_instances(self, stack: contextlib.ExitStack) -> None:
        from sandbox.dataplane.api import ApiInstance

        for region in (seed.PRIMARY_REGION, seed.STANDBY_REGION):
            self.api_instances[region] = {}
            for az in seed.azs_of(region):
                instance = ApiInstance(f"api-{az}", region, az)
                instance.start()
                self._defer(stack, instance.stop)
                self.api_instances[region][az] = instance

    def _start_albs(
        self, stack: contextlib.ExitStack, lbs: dict[str, seed.LoadBalancerSeed]
    ) -> dict[str, tuple[str, int]]:
        addresses: dict[str, tuple[str, int]] = {}
        # Same port in every region (see REGION_HOSTS): the OS picks the primary's; if
        # another process holds that port on the standby's address, pick again.
        last_error: OSError | None = None
        for _attempt in range(5):
            started: list[Any] = []
            port = 0
            try:
                for region, lb in lbs.items():
                    alb = self._make_alb(region, lb, port)
                    started.append(alb)
                    host, port = alb.start()
                    addresses[region] = (str(host), int(port))
                    self.albs[region] = alb
            except OSError as error:
                last_error = error
                for alb in started:
                    alb.stop()
                self.albs.clear()
                continue
            for alb in started:
                self._defer(stack, alb.stop)
            return addresses
        raise RuntimeError(f"could not bind the ALB emulators on one port: {last_error}")

    def _make_alb(self, region: str, lb: seed.LoadBalancerSeed, port: int) -> Any:
        from sandbox.dataplane.alb import AlbEmulator

        targets = {
            lb.target_ips[az]: instance.address
            for az, instance in self.api_instances[region].items()
        }
        return AlbEmulator(
            region,
            lb.arn,
            targets,
            account_id=self.account_id,
            time_scale=self.timings.time_scale,
            publish_health=True,  # describe_target_health reports what the emulator sees
            host=REGION_HOSTS[region],
            port=port,
        )

    def _start_database(self, stack: contextlib.ExitStack, db_id: str, missing: list[str]) -> str:
        """A real PostgreSQL (pgserver, unix socket) behind a TCP proxy that refuses
        connections while the RDS emulator says the instance is unavailable."""
        if not self._with_database:
            missing.append("database: disabled (with_database=False)")
            return ""
        from sandbox.dataplane.db_proxy import DbProxy
        from sandbox.dataplane.postgres import PostgresBackend

        assert self.workdir is not None
        pgdata = self.workdir / "postgres"
        if not pgdata.exists():
            _copy_pgdata(_pgdata_template(PostgresBackend), pgdata)
        postgres = PostgresBackend(pgdata)
        socket_path = postgres.start()
        self._defer(stack, postgres.stop)
        rds = self.rds
        proxy = DbProxy(socket_path, accepting=lambda: rds.is_available(db_id))
        host, port = proxy.start()
        self._defer(stack, proxy.stop)
        self.postgres, self.db_proxy = postgres, proxy
        return str(postgres.dsn_via(host, port))

    def _install_health_checkers(self, stack: contextlib.ExitStack) -> None:
        from sandbox.behaviour.route53_health import Route53HealthCheckers

        self.health = Route53HealthCheckers(account_id=self.account_id, timings=self.timings)
        self.health.install()
        self._defer(stack, self.health.uninstall)

    def _start_dns(self, stack: contextlib.ExitStack) -> tuple[str, int]:
        from moto.route53.models import route53_backends

        from sandbox.dataplane.dns import FailoverDnsServer
        from sandbox.dataplane.failover_routing import route53_failover_resolver

        self._records = route53_failover_resolver(
            route53_backends[self.account_id]["aws"], seed.ZONE_NAME, self.health.is_healthy
        )
        self.dns = FailoverDnsServer(self._records, host="127.0.0.1", port=0)
        host, port = self.dns.start()
        self._defer(stack, self.dns.stop)
        return (str(host), int(port))

    # -- Route 53 answers --------------------------------------------------------------
    def resolve(self, name: str, qtype: str = "A") -> list[tuple[str, int]]:
        """What the sandbox's Route 53 answers for ``name``: ``[(value, ttl)]``; failover
        records honour the health checkers' verdicts."""
        if self._records is None:
            raise RuntimeError("sandbox not started")
        return self._records(name, qtype) or []


class SandboxStartError(RuntimeError):
    """A part of the twin failed to start; ``str()`` is one line naming it and why."""

    def __init__(self, part: str, cause: BaseException) -> None:
        reason = (str(cause).strip().splitlines() or [""])[0] or type(cause).__name__
        super().__init__(f"sandbox: {part} failed to start: {reason}")
        self.part = part


_PART_NAMES = {
    "_make_workdir": "the work folder",
    "_start_moto": "the moto server",
    "_install_rds": "the RDS failover emulation",
    "_install_replication": "the DynamoDB replication emulation",
    "_start_api_instances": "the API instances",
    "_start_albs": "the load balancer emulation",
    "_start_database": "the database (PostgreSQL via pgserver)",
    "_install_health_checkers": "the Route 53 health checkers",
    "_start_dns": "the DNS server",
}


def _failed_part(error: BaseException) -> str:
    """Which building block of :meth:`Sandbox._start` raised (the innermost one)."""
    part = "seeding the AWS resources"
    traceback = error.__traceback__
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_name
        if name in _PART_NAMES:
            part = _PART_NAMES[name]
        elif name.startswith("seed_") and part == "seeding the AWS resources":
            part = f"seeding ({name.removeprefix('seed_')})"
        traceback = traceback.tb_next
    return part


def _pgdata_template(backend_class: Any) -> Path:
    """A freshly initialised, cleanly stopped data directory, made once per machine.

    ``initdb`` takes seconds; copying its result takes a fraction of one. The template
    never holds data: it is initialised, started once and stopped, then published by
    an atomic rename (several processes may race to make it; the first one wins).
    """
    from sandbox.dataplane.postgres import import_pgserver

    pgserver = import_pgserver()
    version = getattr(pgserver, "__version__", "0")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    template = cache / "gameday-sandbox" / f"pgdata-{version}"
    if (template / "PG_VERSION").exists():
        return template
    template.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pgdata-", dir=template.parent)) / "pgdata"
    server = backend_class(staging)
    server.start()
    server.stop()
    try:
        os.rename(staging, template)
    except OSError:  # another process published it first
        pass
    shutil.rmtree(staging.parent, ignore_errors=True)
    return template


_NOT_COPIED = ("postmaster.pid", "postmaster.opts", ".handle_pids.json")


def _copy_pgdata(template: Path, target: Path) -> None:
    """Copy the template keeping modes and owners (pgserver runs PostgreSQL as an
    unprivileged user when started by root): ``cp -a``, else a Python copy + chown."""
    cp = shutil.which("cp")
    if cp is not None:
        subprocess.run([cp, "-a", str(template), str(target)], check=True, timeout=60)
    else:
        shutil.copytree(template, target, symlinks=True)
        if os.geteuid() == 0:
            for source_dir, _dirs, files in os.walk(template):
                relative = Path(source_dir).relative_to(template)
                for name in [".", *files]:
                    stat = (Path(source_dir) / name).stat()
                    os.chown(target / relative / name, stat.st_uid, stat.st_gid)
    for name in _NOT_COPIED:
        (target / name).unlink(missing_ok=True)
    for stale in target.glob(".s.PGSQL.*"):
        stale.unlink(missing_ok=True)


def _print(text: str) -> None:
    print(text, flush=True)  # noqa: T201 (this is the command's output)


def run_foreground(
    time_scale: float = 1.0,
    workdir: str | Path | None = None,
    env_file: str | Path | None = None,
    out: Callable[[str], None] = _print,
    ready: Callable[[Topology], None] | None = None,
    stop_event: threading.Event | None = None,
) -> int:
    """Start, print the env file, block until SIGINT/SIGTERM (or ``stop_event``), stop.

    Used by ``gameday sandbox up`` and ``python -m sandbox``. Returns an exit code.
    """
    import signal

    stop = stop_event or threading.Event()
    previous: dict[int, Any] = {}
    in_main = threading.current_thread() is threading.main_thread()
    if in_main:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        with Sandbox(time_scale=time_scale, workdir=workdir, env_file=env_file) as topology:
            env_file = Path(topology.env_file)
            out(f"sandbox up: {topology.endpoint_url} (time scale {time_scale})")
            for line in topology.missing:
                out(f"not started: {line}")
            out(f"env file: {env_file}")
            out(env_file.read_text())
            out(
                f"run: chaos run experiments/<experiment>.yaml --var-file {env_file}\n"
                "Ctrl-C stops the sandbox."
            )
            if ready is not None:
                ready(topology)
            while not stop.wait(0.5):
                pass
            out("stopping sandbox...")
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    out("sandbox stopped")
    return 0


@contextlib.contextmanager
def running_sandbox(
    time_scale: float = 1.0, workdir: str | Path | None = None
) -> Iterator[tuple[Sandbox, Topology]]:
    """``with running_sandbox(0.05) as (sandbox, topology): ...``"""
    sandbox = Sandbox(time_scale=time_scale, workdir=workdir)
    topology = sandbox.start()
    try:
        yield sandbox, topology
    finally:
        sandbox.stop()
