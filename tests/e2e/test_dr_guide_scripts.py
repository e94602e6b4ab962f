"""The DR guide's own test scripts, run against the sandbox unchanged.

The scripts are extracted at test time from the guide itself (the fenced Python block
whose docstring names the file), never copied into the repository. They get only
environment variables: the moto endpoint URL, the fixed credentials and the region; the
guide's script connects to the RDS instance's described endpoint on port 5432 with the
password it hard-codes (the sandbox's PostgreSQL trusts loopback clients).

The guide is looked for in ``GAMEDAY_DR_GUIDE`` (a file), else in the ``shared/seeds``
folder next to the checkout or its parent; without it the test is skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.envfile import FIXED
from sandbox.server import Sandbox, Topology
from tests.helpers import REPO

pytestmark = pytest.mark.e2e

TIME_SCALE = 0.1  # the 90 s Multi-AZ failover window -> 9 s; the script polls every 10 s
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def _guide() -> Path | None:
    given = os.environ.get("GAMEDAY_DR_GUIDE")
    if given:
        return Path(given)
    for folder in (REPO.parent / "shared" / "seeds", REPO.parent.parent / "shared" / "seeds"):
        for candidate in sorted(folder.glob("*.md")) if folder.is_dir() else []:
            if "test_rds_failover.py" in candidate.read_text(errors="replace"):
                return candidate
    return None


def extract_script(guide_text: str, file_name: str) -> str:
    """The fenced Python block whose module docstring starts with ``file_name``."""
    for block in FENCE.findall(guide_text):
        docstring = re.search(r'"""\s*(\S+)', block)
        if docstring and docstring.group(1) == file_name:
            return block
    raise LookupError(f"no ```python block for {file_name} in the guide")


@pytest.fixture(scope="module")
def guide_text() -> str:
    guide = _guide()
    if guide is None or not guide.is_file():
        pytest.skip("the DR guide is not here (set GAMEDAY_DR_GUIDE to its file)")
    return guide.read_text(errors="replace")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(time_scale=TIME_SCALE)
    box.start()
    yield box
    box.stop()


def _run_script(source: str, topology: Topology, tmp_path: Path, timeout: float) -> str:
    script = tmp_path / "guide_script.py"
    script.write_text(source)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": topology.endpoint_url,
        "AWS_ACCESS_KEY_ID": FIXED["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": FIXED["AWS_SECRET_ACCESS_KEY"],
        "AWS_SESSION_TOKEN": FIXED["AWS_SESSION_TOKEN"],
        "AWS_DEFAULT_REGION": topology.region,
        "PYTHONIOENCODING": "utf-8",
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_guides_rds_failover_script_sees_the_failover(
    guide_text: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    topology = sandbox.topology
    assert topology is not None
    source = extract_script(guide_text, "test_rds_failover.py")
    window = sandbox.rds.failover_window
    out = _run_script(source, topology, tmp_path, timeout=120)
    described = sandbox.client("rds", topology.region).describe_db_instances(
        DBInstanceIdentifier=topology.db_instance_id
    )["DBInstances"][0]["Endpoint"]["Address"]
    assert f"Endpoint: {described}" in out
    assert "Failover confirmed: eu-south-1a → eu-south-1b" in out
    assert re.search(r"✓ Data verified - ID: \d+, Time: ", out), out
    assert "Test Status: PASSED" in out
    rto = float(re.search(r"Instance available! RTO: ([0-9.]+) seconds", out).group(1))  # type: ignore[union-attr]
    # its 10 s polling sees the end of the emulated window at the first poll after it
    assert window <= rto <= window + 10 + 5, (rto, window)
    print(f"guide script RTO {rto:.1f} s; emulated window {window:.1f} s (scale {TIME_SCALE})")


def test_the_guides_global_table_script_tests_3_and_4_pass_1_and_2_fail(
    guide_text: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Tests 1 and 2 of the guide's script fail on AWS as well: ``write_to_primary`` /
    ``write_to_replica`` stamp the sort key ``created_at`` with their own
    ``datetime.utcnow()``, and the test reads back with the ``created_at`` it computed
    before, a key never written, so the GetItem never finds the item. The replica did
    receive the items: tests 3 and 4, which read with the key they wrote, pass."""
    topology = sandbox.topology
    assert topology is not None
    source = extract_script(guide_text, "test_dynamodb_global_table.py")
    # test 1 waits its 60 s out, test 4 sleeps 15 s: the script's own pacing
    out = _run_script(source, topology, tmp_path, timeout=150)
    assert "✗ Replication Latency: FAILED" in out
    assert "✗ Bi-directional Replication: FAILED" in out
    assert "✓ Conflict Resolution: PASSED" in out
    assert "✓ Eventual Consistency: 100.0%" in out
