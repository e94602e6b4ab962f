"""The DR guide runbook's commands that touch what the twin models, with real clients:
the AWS CLI (``aws``), dnspython for ``dig`` and psycopg for ``psql ... -c "SELECT 1"``
against the RDS instance's described endpoint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosaws_ext.core.waiting import wait_until
from sandbox.envfile import FIXED
from sandbox.server import Sandbox, Topology

pytestmark = pytest.mark.e2e

TIME_SCALE = 0.05  # the 90 s Multi-AZ failover window -> 4.5 s


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(time_scale=TIME_SCALE)
    box.start()
    yield box
    box.stop()


def aws(topology: Topology, tmp_path: Path, *args: str) -> Any:
    """Run the AWS CLI against the sandbox; the parsed JSON output."""
    cli = shutil.which("aws") or str(Path(sys.executable).with_name("aws"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": topology.endpoint_url,
        "AWS_ACCESS_KEY_ID": FIXED["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": FIXED["AWS_SECRET_ACCESS_KEY"],
        "AWS_SESSION_TOKEN": FIXED["AWS_SESSION_TOKEN"],
        "AWS_DEFAULT_REGION": topology.region,
    }
    done = subprocess.run(
        [cli, *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip() else None


def test_the_runbooks_commands(sandbox: Sandbox, tmp_path: Path) -> None:
    import dns.resolver
    import psycopg

    topology = sandbox.topology
    assert topology is not None
    db = topology.db_instance_id
    status = ["rds", "describe-db-instances", "--db-instance-identifier", db]
    assert aws(topology, tmp_path, *status, "--query", "DBInstances[0].DBInstanceStatus") == (
        "available"
    )
    aws(
        topology,
        tmp_path,
        "rds",
        "reboot-db-instance",
        "--db-instance-identifier",
        db,
        "--force-failover",
    )
    events = aws(
        topology, tmp_path, "rds", "describe-events", "--source-identifier", db,
        "--source-type", "db-instance", "--duration", "60",
    )["Events"]  # fmt: skip
    assert "Multi-AZ instance failover started." in [e["Message"] for e in events]
    wait_until(
        lambda: (
            aws(topology, tmp_path, *status, "--query", "DBInstances[0].DBInstanceStatus")
            == "available"
        ),
        timeout=30,
        interval=0.5,
        what="available after the failover",
    )
    endpoint = aws(topology, tmp_path, *status, "--query", "DBInstances[0].Endpoint")
    with psycopg.connect(
        host=endpoint["Address"], port=endpoint["Port"], user="postgres", dbname="analytics",
        connect_timeout=5,
    ) as connection:  # fmt: skip
        assert connection.execute("SELECT 1").fetchone() == (1,)
    observations = aws(
        topology, tmp_path, "route53", "get-health-check-status", "--health-check-id",
        topology.health_check_ids["PRIMARY"],
    )["HealthCheckObservations"]  # fmt: skip
    assert observations and all(
        o["StatusReport"]["Status"].startswith("Success") for o in observations
    )
    table = aws(
        topology, tmp_path, "dynamodb", "describe-table", "--table-name", topology.table_name,
        "--region", "eu-west-1",
    )["Table"]  # fmt: skip
    assert table["TableStatus"] == "ACTIVE" and table["TableArn"].split(":")[3] == "eu-west-1"
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [topology.dns_server[0]]
    resolver.port = topology.dns_server[1]
    answer = resolver.resolve(topology.record_name, "A", lifetime=5)
    assert [a.address for a in answer] == [
        topology.primary.alb_nodes[az] for az in topology.primary.azs
    ]  # the primary ALB's nodes, one per AZ
