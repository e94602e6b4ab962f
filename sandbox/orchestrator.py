"""The sandbox: a local twin of the reference architecture, started and stopped as one.

``Sandbox(time_scale=0.05).start()`` runs, all on 127.0.0.0/8 and in this process:

1. a moto server (``ThreadedMotoServer``, free port) holding the seeded architecture
   (see :mod:`sandbox.seed`): eu-south-1 primary and eu-west-1 standby, each with a VPC,
   nine subnets, an ALB with one API target per AZ, a WAFv2 web ACL; the Multi-AZ
   ``production-analytics-db``; the ``production-ai-support-tickets`` global table; the
   ``ai-support.example.com`` zone with failover records and health checks; alarms;
2. the behaviour moto lacks, as patches of moto installed in one place
   (:meth:`Sandbox._install_moto_patches`): ELBv2/WAFv2 strictness, RDS failover
   windows, DynamoDB replication, Route 53 health checkers (scaled by ``time_scale``),
   FIS experiments executed (:mod:`sandbox.fis`);
3. the data plane: API instances per AZ (tickets stored in their region's replica of
   the tickets table), an ALB emulator per region (listener rules, WAF, NACLs) with a
   node per AZ on a loopback address of its own, a PostgreSQL behind a proxy that
   refuses connections during an RDS failover, a DNS server answering the failover
   records and the ALBs' DNS names (their nodes' addresses);
4. an env file for ``chaos run ... --var-file``.

Every part is an :class:`~sandbox.lifecycle.Emulator` (``start()``/``stop()``) on one
ExitStack: ``stop()`` stops them newest first, frees every port, resets moto's
in-process state and removes the temporary work directory. Parts left out on purpose
(``with_database=False``) are listed in ``Topology.missing``.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from sandbox import seed
from sandbox.envfile import FIXED, write_env_file
from sandbox.lifecycle import Address, Emulator
from sandbox.moto_server import MotoServer
from sandbox.pgdata_cache import copy_pgdata, pgdata_template
from sandbox.timing import HEALTH_CHECK_FAILURE_THRESHOLD, HEALTH_CHECK_INTERVAL_S, Timings
from sandbox.topology import RegionTopology, Topology

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "REGION_HOSTS",
    "Sandbox",
    "SandboxStartError",
    "running_sandbox",
]

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
_SEEDING = "seeding the AWS resources"


def _boto_session() -> boto3.session.Session:
    """One boto3 session for every sandbox of the process: its loader caches the
    service models, which makes client creation several times faster."""
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5)


class SandboxStartError(RuntimeError):
    """A part of the twin failed to start; ``str()`` is one line naming it and why."""

    def __init__(self, part: str, cause: BaseException) -> None:
        reason = (str(cause).strip().splitlines() or [""])[0] or type(cause).__name__
        super().__init__(f"sandbox: {part} failed to start: {reason}")
        self.part = part


@contextlib.contextmanager
def _part(name: str) -> Iterator[None]:
    """Name the part that fails inside the block (the innermost name wins)."""
    try:
        yield
    except SandboxStartError:
        raise
    except Exception as error:
        raise SandboxStartError(name, error) from error


def _seeding_part(error: BaseException) -> str:
    """Which ``seed_*`` step of :mod:`sandbox.seed` raised, if one did."""
    traceback = error.__traceback__
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_name
        if name.startswith("seed_"):
            return f"seeding ({name.removeprefix('seed_')})"
        traceback = traceback.tb_next
    return _SEEDING


class Sandbox:
    """Start/stop the local twin; also a context manager returning the :class:`Topology`.

    ``time_scale`` multiplies every published AWS duration the emulators act on (0.05:
    the DR plan's 30 s health check interval becomes 1.5 s; pass
    ``health_check_request_interval=10`` for Route 53's fast interval). ``workdir``:
    where the env file and the database live; a temporary directory (removed by
    ``stop``) when None. ``env_file``: write the env file there instead of
    ``<workdir>/sandbox.env`` (it is left in place). ``strictness``: the ELBv2/WAFv2
    limits moto lacks (:class:`sandbox.strictness.Strictness`; None = all on).
    ``ec2_strictness``: EC2 NACL eventual consistency and quota as AWS
    (:mod:`sandbox.ec2.consistency`); None: as the environment says (on by default),
    False: off, or an ``Ec2Strictness``. ``rds_restore_seconds``: an RDS restore's
    duration before scaling (:mod:`sandbox.rds.restore`). ``backup_interval_seconds``
    and ``backup_copy_seconds``: the AWS Backup plan's interval and the copy to the DR
    region's vault, before scaling (:mod:`sandbox.backup.recovery_points`).
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
        rds_restore_seconds: float | None = None,
        backup_interval_seconds: float | None = None,
        backup_copy_seconds: float | None = None,
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
        # ELBv2/WAFv2 limits moto does not enforce (sandbox.strictness.Strictness;
        # None = every switch on, as AWS)
        self._strictness = strictness
        # EC2 NACL eventual consistency and quota (sandbox.ec2.consistency): None = as the
        # environment says (on by default), False = off, or an Ec2Strictness
        self._ec2_strictness = ec2_strictness
        self.ec2_strictness: Any = None
        # how long an RDS restore takes before time_scale (None: the model's default,
        # sandbox.rds.restore.RESTORE_SECONDS, for which AWS publishes no figure)
        from sandbox.rds.restore import RESTORE_SECONDS

        self._rds_restore_seconds = (
            RESTORE_SECONDS if rds_restore_seconds is None else rds_restore_seconds
        )
        from sandbox.backup.recovery_points import BACKUP_INTERVAL_S, COPY_DURATION_S

        self._backup_interval_seconds = (
            BACKUP_INTERVAL_S if backup_interval_seconds is None else backup_interval_seconds
        )
        self._backup_copy_seconds = (
            COPY_DURATION_S if backup_copy_seconds is None else backup_copy_seconds
        )
        self._stack: contextlib.ExitStack | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self.topology: Topology | None = None
        self.stop_timings: list[tuple[str, float]] = []
        self.endpoint_url = ""
        self.workdir: Path | None = None
        # the live parts, for tests and the CLI
        self.health: Any = None
        self.rds: Any = None
        self.rds_restore: Any = None
        self.backup: Any = None
        self.replicator: Any = None
        self.pitr: Any = None
        self.s3_replicator: Any = None
        self.fis: Any = None
        self.api_instances: dict[str, dict[str, Any]] = {}
        self.api_instance_ids: dict[str, dict[str, str]] = {}  # region -> AZ -> EC2 id
        self.instance_power: Any = None
        self._target_ips: dict[str, dict[str, str]] = {}  # region -> AZ -> IP target
        self.albs: dict[str, Any] = {}
        self.alb_nodes: dict[str, Any] = {}  # region -> sandbox.elbv2.nodes.AlbNodes
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
        except SandboxStartError:
            self.stop()
            raise
        except Exception as error:
            self.stop()
            raise SandboxStartError(_seeding_part(error), error) from error
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

    def _run(self, stack: contextlib.ExitStack, part: str, emulator: Emulator) -> Address | None:
        """Start one part; its (idempotent) stop is registered first, so a part that
        fails half-way is stopped too."""
        self._defer(stack, emulator.stop)
        with _part(part):
            return emulator.start()

    def client(self, service: str, region: str = seed.PRIMARY_REGION) -> Any:
        """A boto3 client for the sandbox (explicit endpoint and dummy credentials).

        Cached per (service, region) for the seeding phase and closed when it ends, so
        no connection pool is left behind; a call after that gets a fresh client.
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

    def _fresh_client(self, service: str, region: str) -> Any:
        """A client of the sandbox outside the seeding cache (the FIS emulation's own)."""
        with _session_lock:
            return _boto_session().client(
                service,
                region_name=region,
                endpoint_url=self.endpoint_url,
                aws_access_key_id=FIXED["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FIXED["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FIXED["AWS_SESSION_TOKEN"],
                config=_CLIENT_CONFIG,
            )

    def _start(self, stack: contextlib.ExitStack) -> Topology:
        missing: list[str] = []
        with _part("the work folder"):
            self.workdir = self._make_workdir(stack)
        from sandbox.backup.moto_patch import register_routes

        register_routes()  # before the server's first Backup request (the seeding's)
        moto = MotoServer()
        self._run(stack, "the moto server", moto)
        self.endpoint_url = moto.endpoint_url
        self._defer(stack, self._close_clients)
        primary, standby = seed.PRIMARY_REGION, seed.STANDBY_REGION
        networks = {r: seed.seed_network(self.client("ec2", r), r) for r in (primary, standby)}
        lbs = {
            r: seed.seed_load_balancer(self.client("ec2", r), self.client("elbv2", r), n)
            for r, n in networks.items()
        }
        self._target_ips = {r: lb.target_ips for r, lb in lbs.items()}
        self.api_instance_ids = {
            r: seed.seed_api_instances(self.client("ec2", r), n) for r, n in networks.items()
        }
        db = seed.seed_database(self.client("rds", primary), networks[primary])
        seed.seed_dr_db_subnet_group(self.client("rds", standby), networks[standby])
        seed.seed_backup(self.client("backup", primary), self.client("backup", standby))
        table = seed.seed_table(self.client("dynamodb", primary))
        fis_role_arn = seed.seed_fis_role(self.client("iam", primary))
        with _part("the S3 buckets"):
            from sandbox.s3.seed import seed_replicated_buckets

            buckets = seed_replicated_buckets(
                self.client("s3", primary),
                self.client("s3", standby),
                self.account_id,
                seed.ENVIRONMENT,
                primary,
                standby,
            )

        with _part("the API instances"):
            self._start_api_instances(stack)
        with _part("the load balancer emulation"):
            alb_addresses = self._start_albs(stack, lbs)
        self._start_alb_nodes(stack)

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
                alb_nodes=self.alb_nodes[region].by_az(),
                api_instance_ids=dict(self.api_instance_ids[region]),
            )

        def endpoint(region: str) -> seed.FailoverEndpoint:
            host, port = regions[region].alb_address
            return seed.FailoverEndpoint(
                region,
                host,
                port,
                regions[region].load_balancer_dns,
                lbs[region].canonical_hosted_zone_id,
            )

        dns_seed = seed.seed_dns(
            self.client("route53", primary),
            endpoint(primary),
            endpoint(standby),
            request_interval=self._request_interval,
            failure_threshold=self._failure_threshold,
        )
        table_regions = self._install_moto_patches(stack, table["name"])
        dsn = self._start_database(stack, db["id"], missing)
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
            buckets=buckets,
            fis_role_arn=fis_role_arn,
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

    def _close_clients(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):
                client.close()
        self._clients.clear()

    # -- the moto patches: every behaviour moto lacks, installed here and only here ------
    def _install_moto_patches(self, stack: contextlib.ExitStack, table_name: str) -> list[str]:
        """Install, after seeding (the seed is old news), each patch of moto this sandbox
        runs; returns the global table's regions."""
        from sandbox.dynamodb.replicator import GlobalTableReplicator
        from sandbox.rds.moto_patch import RdsFailoverEmulator
        from sandbox.route53.checkers import Route53HealthCheckers
        from sandbox.strictness import ElbWafStrictness

        regions = (seed.PRIMARY_REGION, seed.STANDBY_REGION)
        self._run(stack, "the ELBv2/WAFv2 strictness", ElbWafStrictness(self._strictness))
        if self._ec2_strictness is not False:
            from sandbox.ec2.consistency import Ec2Strictness, from_environment

            chosen = self._ec2_strictness
            self.ec2_strictness = (
                chosen if isinstance(chosen, Ec2Strictness) else None
            ) or from_environment()
            self._run(stack, "the EC2 consistency emulation", self.ec2_strictness)
        self._start_instance_power(stack)
        self.rds = RdsFailoverEmulator(
            time_scale=self.timings.time_scale, account_id=self.account_id, regions=regions
        )
        self._run(stack, "the RDS failover emulation", self.rds)
        from sandbox.rds.restore_patch import RdsRestoreEmulator

        assert self.workdir is not None
        # restored instances' databases are rebuilt from the source's (see _start_database)
        self.rds_restore = RdsRestoreEmulator(
            restore_seconds=self._rds_restore_seconds,
            time_scale=self.timings.time_scale,
            account_id=self.account_id,
            regions=regions,
            workdir=self.workdir / "restored",
        )
        self._run(stack, "the RDS restore emulation", self.rds_restore)
        from sandbox.backup.moto_patch import BackupEmulator

        # the plan's backup job of the analytics DB and its copy to the DR region
        self.backup = BackupEmulator(
            seed.DB_INSTANCE_ID,
            seed.PRIMARY_REGION,
            seed.BACKUP_VAULT,
            seed.STANDBY_REGION,
            seed.BACKUP_COPY_VAULT,
            backup_interval_seconds=self._backup_interval_seconds,
            copy_duration_seconds=self._backup_copy_seconds,
            time_scale=self.timings.time_scale,
            account_id=self.account_id,
        )
        self._run(stack, "the AWS Backup emulation", self.backup)
        self.replicator = GlobalTableReplicator(time_scale=self.timings.time_scale)
        self._run(stack, "the DynamoDB replication emulation", self.replicator)
        from sandbox.dynamodb.pitr import PointInTimeRecovery

        self.pitr = PointInTimeRecovery(time_scale=self.timings.time_scale)
        self._run(stack, "the DynamoDB point-in-time recovery emulation", self.pitr)
        from sandbox.s3.replicator import BucketReplicator

        self.s3_replicator = BucketReplicator(time_scale=self.timings.time_scale)
        self._run(stack, "the S3 replication emulation", self.s3_replicator)
        with _part("the DynamoDB replication emulation"):
            table_regions = self.replicator.make_global(
                table_name, list(regions), account_id=self.account_id
            )
        self.health = Route53HealthCheckers(account_id=self.account_id, timings=self.timings)
        self._run(stack, "the Route 53 health checkers", self.health)
        from sandbox.fis import FisEmulator

        # FIS's actions call this sandbox's moto endpoint, so every emulation above
        # applies to them; stopped before the moto server (newest first), reverting
        self.fis = FisEmulator(self._fresh_client, self.timings)
        self._run(stack, "the FIS emulation", self.fis)
        return list(table_regions)

    def _start_instance_power(self, stack: contextlib.ExitStack) -> None:
        """Stop/start of EC2 instances take time (sandbox.ec2.instance_power); each API
        server follows its instance's state, and the ALB its server's new port if a
        restart had to take another one."""
        from sandbox.ec2.instances_patch import InstancePowerEmulator

        self.instance_power = InstancePowerEmulator(time_scale=self.timings.time_scale)
        followers: dict[str, Any] = {}
        for region, ids in self.api_instance_ids.items():
            for az, instance_id in ids.items():
                instance = self.api_instances[region][az]
                followers[instance_id] = instance
                alb, target = self.albs[region], self._target_ip(region, az)
                instance.on_moved = lambda address, a=alb, t=target: a.set_target_address(
                    t, *address
                )

        def follow(instance_id: str, state: str) -> None:
            if instance_id in followers:
                followers[instance_id].follow_power(state)

        self.instance_power.subscribe(follow)
        self._run(stack, "the EC2 instance power emulation", self.instance_power)

    def _target_ip(self, region: str, az: str) -> str:
        return self._target_ips[region][az]

    # -- the data plane --------------------------------------------------------------------
    def _start_api_instances(self, stack: contextlib.ExitStack) -> None:
        from sandbox.workload.api import ApiInstance
        from sandbox.workload.tickets import TicketStore

        for region in (seed.PRIMARY_REGION, seed.STANDBY_REGION):
            self.api_instances[region] = {}
            # each region's API writes to its own replica of the tickets table, through
            # this sandbox's moto endpoint, as the real API does through DynamoDB's
            client = self._fresh_client("dynamodb", region)
            self._defer(stack, client.close)
            store = TicketStore(client, seed.TABLE_NAME)
            for az in seed.azs_of(region):
                instance = ApiInstance(f"api-{az}", region, az, store=store)
                self._run(stack, "the API instances", instance)
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

    def _start_alb_nodes(self, stack: contextlib.ExitStack) -> None:
        """Each ALB's nodes, one per enabled AZ, on the port of its emulator."""
        from sandbox.elbv2.nodes import AlbNodes

        for region, alb in self.albs.items():
            nodes = AlbNodes(alb)
            self._run(stack, "the load balancer nodes", nodes)
            self.alb_nodes[region] = nodes

    def _make_alb(self, region: str, lb: seed.LoadBalancerSeed, port: int) -> Any:
        from sandbox.elbv2.http import AlbEmulator

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
        part = "the database (PostgreSQL via pgserver)"
        if not self._with_database:
            missing.append("database: disabled (with_database=False)")
            return ""
        from sandbox.rds.db_proxy import DbProxy
        from sandbox.rds.endpoint import DescribedEndpoints, bind_free_loopback
        from sandbox.rds.postgres import PostgresBackend
        from sandbox.rds.reachability import WriterReachability

        assert self.workdir is not None
        pgdata = self.workdir / "postgres"
        with _part(part):
            if not pgdata.exists():
                copy_pgdata(pgdata_template(PostgresBackend), pgdata)
        self.postgres = PostgresBackend(pgdata)
        socket_path = str(self._run(stack, part, self.postgres))
        with _part(part):
            self.postgres.create_database(seed.DB_NAME)
        rds = self.rds
        # the NACL of the writer's subnet filters its clients (a blackholed subnet drops
        # them); it never fails the instance over (sandbox.rds.reachability)
        reachable = WriterReachability(
            self.account_id, seed.PRIMARY_REGION, db_id, rds.writer_az, seed.DB_PORT
        )

        def proxy_on(host: str) -> Any:
            proxy = DbProxy(
                socket_path,
                accepting=lambda: rds.is_available(db_id),
                reachable=reachable,
                host=host,
                port=seed.DB_PORT,
            )
            proxy.start()
            return proxy

        # The described Endpoint is where clients connect: a loopback address of this
        # sandbox's own, the DB proxy on the instance's port there.
        with _part(part):
            self.db_proxy = bind_free_loopback(proxy_on)
        self._defer(stack, self.db_proxy.stop)
        host, port = self.db_proxy.address
        endpoints = DescribedEndpoints()
        endpoints.set_address(self.account_id, seed.PRIMARY_REGION, db_id, host)
        self._run(stack, "the RDS endpoint", endpoints)
        if self.rds_restore is not None:
            self.rds_restore.source_dsns[db_id] = self.postgres.dsn
        return str(self.postgres.dsn_via(host, port))

    def _start_dns(self, stack: contextlib.ExitStack) -> tuple[str, int]:
        from moto.route53.models import route53_backends

        from sandbox.route53.dns import FailoverDnsServer
        from sandbox.route53.failover_routing import route53_failover_resolver

        zone_records = route53_failover_resolver(
            route53_backends[self.account_id]["aws"],
            seed.ZONE_NAME,
            self.health.is_healthy,
            alias_resolver=self._alias_addresses,
            alias_healthy=self._alias_target_healthy,
            alias_ttl=self.timings.dns_ttl(),
        )
        ttl = self.timings.dns_ttl()  # an ELB's own A records: 60 s, scaled

        def records(qname: str, qtype: str) -> list[tuple[str, int]] | None:
            """The ALBs' DNS names (their nodes), else the hosted zone."""
            alb = self._alb_named(qname)
            if alb is None:
                return zone_records(qname, qtype)
            if qtype.upper() != "A":
                return []  # IpAddressType ipv4: no AAAA (a name without that type)
            return [(address, ttl) for address in self._alias_addresses(qname)]

        self._records = records
        self.dns = FailoverDnsServer(self._records, host="127.0.0.1", port=0)
        address = self._run(stack, "the DNS server", self.dns)
        assert isinstance(address, tuple)
        return (str(address[0]), int(address[1]))

    # -- Route 53 answers --------------------------------------------------------------
    def _alb_named(self, dns_name: str) -> Any | None:
        wanted = dns_name.rstrip(".").lower()
        for alb in list(self.albs.values()):
            if (alb.dns_name or "").lower() == wanted:
                return alb
        return None

    def _alias_addresses(self, dns_name: str) -> list[str]:
        """One of our ALBs' DNS name (or an alias to it) answers its nodes' addresses,
        one per enabled AZ (see sandbox.elbv2.nodes)."""
        alb = self._alb_named(dns_name)
        if alb is None:
            return []
        for region, candidate in self.albs.items():
            if candidate is alb and region in self.alb_nodes:
                return list(self.alb_nodes[region].addresses())
        return []

    def _alias_target_healthy(self, dns_name: str) -> bool:
        """EvaluateTargetHealth of an alias to one of our ALBs: its target groups'
        health as the emulator sees it; any other alias target is unhealthy."""
        from sandbox.route53.failover_routing import load_balancer_healthy

        alb = self._alb_named(dns_name)
        return alb is not None and load_balancer_healthy(alb.target_states())

    def resolve(self, name: str, qtype: str = "A") -> list[tuple[str, int]]:
        """What the sandbox's Route 53 answers for ``name``: ``[(value, ttl)]``; failover
        records honour the health checkers' verdicts."""
        if self._records is None:
            raise RuntimeError("sandbox not started")
        return self._records(name, qtype) or []


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
