"""The sandbox's layout: by AWS service, models apart from moto, one lifecycle for every
part, the old import paths still working."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from sandbox.elbv2.target_health import matcher_accepts
from sandbox.lifecycle import Emulator, Lifecycle

# The behaviour models: pure, testable (and tested) without moto.
MODELS = (
    "sandbox.ec2.nacl",
    "sandbox.elbv2.limits",
    "sandbox.elbv2.listener_rules",
    "sandbox.elbv2.target_health",
    "sandbox.wafv2.capacity",
    "sandbox.wafv2.web_acl",
    "sandbox.rds.failover",
    "sandbox.route53.health",
    "sandbox.route53.failover_routing",
    "sandbox.dynamodb.replication",
)


def test_the_behaviour_models_import_no_moto() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {MODELS!r}: importlib.import_module(name)\n"
        "loaded = sorted(m for m in sys.modules if m == 'moto' or m.startswith('moto.'))\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""


def _parts() -> list[Emulator]:
    from sandbox.dynamodb.replicator import GlobalTableReplicator
    from sandbox.elbv2.http import AlbEmulator
    from sandbox.moto_server import MotoServer
    from sandbox.rds.db_proxy import DbProxy
    from sandbox.rds.moto_patch import RdsFailoverEmulator
    from sandbox.rds.postgres import PostgresBackend
    from sandbox.route53.checkers import Route53HealthCheckers
    from sandbox.route53.dns import FailoverDnsServer
    from sandbox.strictness import ElbWafStrictness
    from sandbox.workload.api import ApiInstance

    return [
        MotoServer(),
        ElbWafStrictness(),
        RdsFailoverEmulator(regions=("eu-south-1",)),
        GlobalTableReplicator(),
        Route53HealthCheckers(),
        ApiInstance("api", "eu-south-1", "eu-south-1a"),
        AlbEmulator("eu-south-1", "arn:aws:elasticloadbalancing:eu-south-1:1:loadbalancer/x"),
        DbProxy("/nonexistent.sock"),
        PostgresBackend("/nonexistent-pgdata"),
        FailoverDnsServer(lambda name, qtype: None),
    ]


@pytest.mark.parametrize("part", _parts(), ids=lambda p: type(p).__name__)
def test_every_part_has_the_one_lifecycle_and_stops_harmlessly_unstarted(part: Emulator) -> None:
    assert isinstance(part, Lifecycle)
    assert isinstance(part, Emulator)
    part.stop()  # the orchestrator registers a part's stop before starting it
    part.stop()


def test_a_started_part_stops_idempotently_as_a_context_manager() -> None:
    from sandbox.route53.dns import FailoverDnsServer

    with FailoverDnsServer(lambda name, qtype: [("192.0.2.1", 60)]) as dns:
        host, port = dns.address
        assert host == "127.0.0.1" and port > 0
    dns.stop()
    with pytest.raises(RuntimeError, match="not started"):
        _ = dns.address


OLD_PATHS = {
    "sandbox.dataplane.nacl": ("sandbox.ec2.nacl", "connection_allowed"),
    "sandbox.dataplane.listener_rules": ("sandbox.elbv2.listener_rules", "route_request"),
    "sandbox.dataplane.target_health": ("sandbox.elbv2.target_health", "TargetHealthBook"),
    "sandbox.dataplane.alb": ("sandbox.elbv2.http", "AlbEmulator"),
    "sandbox.dataplane.waf": ("sandbox.wafv2.web_acl", "evaluate_web_acl"),
    "sandbox.dataplane.db_proxy": ("sandbox.rds.db_proxy", "DbProxy"),
    "sandbox.dataplane.postgres": ("sandbox.rds.postgres", "import_pgserver"),
    "sandbox.dataplane.dns": ("sandbox.route53.dns", "FailoverDnsServer"),
    "sandbox.dataplane.failover_routing": (
        "sandbox.route53.failover_routing",
        "route53_failover_resolver",
    ),
    "sandbox.dataplane.api": ("sandbox.workload.api", "ApiInstance"),
    "sandbox.dataplane.loopback_http": ("sandbox.loopback_http", "LoopbackHttpServer"),
    "sandbox.behaviour.aws_limits": ("sandbox.strictness", "Strictness"),
    "sandbox.behaviour.elb_waf_strict": ("sandbox.strictness", "strict_elb_waf"),
    "sandbox.behaviour.rds_failover": ("sandbox.rds.moto_patch", "RdsFailoverEmulator"),
    "sandbox.behaviour.route53_health": ("sandbox.route53.checkers", "Route53HealthCheckers"),
    "sandbox.behaviour.dynamodb_replication": (
        "sandbox.dynamodb.moto_patch",
        "active_replicator",
    ),
    "sandbox.server": ("sandbox.orchestrator", "Sandbox"),
}


@pytest.mark.parametrize("old", sorted(OLD_PATHS))
def test_the_old_import_paths_re_export_the_new_objects(old: str) -> None:
    new, name = OLD_PATHS[old]
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


def test_the_old_replicator_path_still_chains_start() -> None:
    from moto import mock_aws

    from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator
    from sandbox.dynamodb.moto_patch import active_replicator

    with mock_aws():
        replicator = GlobalTableReplicator(lag_seconds=0.01).start()
        try:
            assert replicator.running and active_replicator() is replicator
        finally:
            replicator.stop()
    assert active_replicator() is None


def test_the_server_entry_points_are_kept() -> None:
    import sandbox.server as server

    for name in ("Sandbox", "SandboxStartError", "Topology", "run_foreground", "running_sandbox"):
        assert hasattr(server, name)


def test_a_health_check_matcher_accepts_codes_lists_and_ranges() -> None:
    assert matcher_accepts(None, 200) and not matcher_accepts(None, 302)
    assert matcher_accepts({"HttpCode": "200,302"}, 302)
    assert matcher_accepts({"HttpCode": "200-299"}, 204)
    assert not matcher_accepts({"HttpCode": "200-299"}, 503)
