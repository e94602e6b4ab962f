"""NACLs apply to the database's subnets: with the writer's subnet blackholed a client
cannot reach the described endpoint (no answer: a timeout), another AZ's data subnet
blackholed changes nothing, and RDS does not fail over for it (the writer's AZ stays)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from chaosaws_ext.blackhole import actions as blackhole
from chaosaws_ext.core.identity import RunContext
from sandbox.server import Sandbox, Topology
from sandbox.timing import RDS_MULTI_AZ_FAILOVER_S

pytestmark = pytest.mark.e2e
TIME_SCALE = 0.05


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(time_scale=TIME_SCALE)
    box.start()
    yield box
    box.stop()


@pytest.fixture
def topology(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Topology:
    assert sandbox.topology is not None
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, sandbox.topology.env()[name])
    return sandbox.topology


def _reachable(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=1) as connection:
            return connection.execute("select 1").fetchone() == (1,)
    except psycopg.OperationalError:
        return False


def _writer(sandbox: Sandbox, topology: Topology) -> tuple[str, str]:
    rds = sandbox.client("rds", topology.region)
    db = rds.describe_db_instances(DBInstanceIdentifier=topology.db_instance_id)["DBInstances"][0]
    return db["AvailabilityZone"], db["DBInstanceStatus"]


def _blackhole_data_subnet(zone: str, run: RunContext, topology: Topology) -> dict[str, Any]:
    configuration = {
        "aws_region": topology.region,
        "chaos_ledger_path": str(run.ledger_path),
        "allowed_accounts": topology.account_id,
    }
    blackhole.blackhole_availability_zone(
        zone, vpc_id=topology.primary.vpc_id, subnet_tag="Tier=data", configuration=configuration
    )
    return configuration


def test_the_writer_unreachable_while_its_subnet_is_blackholed_and_no_failover(
    sandbox: Sandbox, topology: Topology, run_context: RunContext
) -> None:
    dsn = topology.db_dsn
    writer_az, status = _writer(sandbox, topology)
    assert status == "available" and _reachable(dsn)
    other = next(az for az in topology.primary.azs if az != writer_az)

    configuration = _blackhole_data_subnet(other, run_context, topology)
    assert _reachable(dsn)  # another AZ's data subnet: the writer is not in it
    blackhole.restore_availability_zone(configuration=configuration)

    configuration = _blackhole_data_subnet(writer_az, run_context, topology)
    try:
        assert not _reachable(dsn)  # dropped: a timeout, not a refusal
        assert sandbox.db_proxy.refused == 0 and sandbox.db_proxy.held >= 1
        # as long as a forced failover's window at most: RDS does not fail over for it
        window = RDS_MULTI_AZ_FAILOVER_S[1] * TIME_SCALE
        deadline = time.monotonic() + window
        while time.monotonic() < deadline:
            assert _writer(sandbox, topology) == (writer_az, "available")
            time.sleep(0.5)
        assert not _reachable(dsn)
    finally:
        blackhole.restore_availability_zone(configuration=configuration)
    assert _reachable(dsn)
    assert _writer(sandbox, topology) == (writer_az, "available")
