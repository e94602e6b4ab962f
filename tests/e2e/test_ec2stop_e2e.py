"""experiments/ec2-stop-instances.yaml end to end with the real ``chaos run`` against the
sandbox: the zone's API instance stopped, the Ticket API measured through the ALB (its
health checks take the target out), the instance started again; and a run SIGKILLed
after the inject, recovered by tag (ledger lost) or by ledger. Every figure and state is
read from the journal and from the sandbox's AWS, not from our records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.ledger import Ledger
from sandbox.envfile import parse_env
from tests.helpers import REPO
from tests.helpers.sandbox_state import client
from tests.helpers.sandbox_state import var_file as _var_file

pytestmark = pytest.mark.e2e
CHAOS = str(Path(sys.executable).with_name("chaos"))
EXPERIMENT = REPO / "experiments" / "ec2-stop-instances.yaml"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from sandbox.server import running_sandbox

    with running_sandbox(time_scale=0.05) as (_box, topology):
        yield topology


def _instances(topology: Any) -> dict[str, tuple[str, dict[str, str]]]:
    found = client(topology, "ec2").describe_instances()["Reservations"]
    return {
        i["InstanceId"]: (i["State"]["Name"], {t["Key"]: t["Value"] for t in i.get("Tags", [])})
        for r in found
        for i in r["Instances"]
    }


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}


def _wait(check: Any, bound: float) -> bool:
    """``check()`` true within ``bound`` s (polled every 0.1 s): the shared bounded wait."""
    try:
        wait_until(lambda: check() or None, timeout=bound, interval=0.1, what="the condition")
    except WaitTimedOut:
        return False
    return True


def test_the_experiment_stops_measures_and_starts_the_zone_instance(
    sandbox: Any, tmp_path: Path
) -> None:
    before = _instances(sandbox)
    az = sandbox.primary.azs[0]
    target = sandbox.primary.api_instance_ids[az]
    ledger, journal = tmp_path / "ledger.jsonl", tmp_path / "journal.json"
    var_file = _var_file(sandbox, tmp_path / "run.env", GAMEDAY_LEDGER=str(ledger))
    done = subprocess.run(
        [CHAOS, "--no-version-check", "--log-file", str(tmp_path / "chaos.log"), "run",
         "--var-file", str(var_file), "--journal-path", str(journal), str(EXPERIMENT)],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, (tmp_path / "chaos.log").read_text()[-3000:]

    result = json.loads(journal.read_text())
    outputs = {r["activity"]["name"]: r.get("output") for r in result["run"]}
    assert outputs["stop-api-instances-of-the-az"]["stopped"] == [target]
    assert outputs["api-instance-states"][target] in ("stopping", "stopped")
    assert outputs["end-stop-start-api-instances"]["running"] == [target]
    rto = result["recovery"]["rto"]
    # requests routed to the stopped instance failed until the ALB took it out
    assert rto["met"] is True and rto["measured_s"] > 0
    assert _instances(sandbox) == before  # running again, exactly the tags it had
    assert Ledger(ledger).unreverted() == []


def _kill_after_inject(var_file: Path, ledger: Path) -> None:
    process = subprocess.Popen(
        [CHAOS, "--no-version-check", "--log-file", str(ledger.with_suffix(".log")), "run",
         "--var-file", str(var_file), str(EXPERIMENT)],
        cwd=ledger.parent, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip

    def applied() -> bool:
        try:
            entries = Ledger(ledger).entries()
            return any(e.fault == "ec2-stop" and e.outcome == "applied" for e in entries)
        except Exception:  # noqa: BLE001 - a line being written
            return False

    try:
        log = ledger.with_suffix(".log")
        assert _wait(applied, 120), "never injected: " + (
            log.read_text()[-1500:] if log.exists() else ""
        )
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


@pytest.mark.parametrize("how", ["by-tag", "ledger"])
def test_sigkill_after_the_stop_then_gameday_recover_restarts_it(
    sandbox: Any, tmp_path: Path, how: str
) -> None:
    before = _instances(sandbox)
    target = sandbox.primary.api_instance_ids[sandbox.primary.azs[0]]
    ledger = tmp_path / "ledger.jsonl"
    var_file = _var_file(sandbox, tmp_path / "run.env", GAMEDAY_LEDGER=str(ledger))
    _kill_after_inject(var_file, ledger)
    state, tags = _instances(sandbox)[target]
    assert state in ("stopping", "stopped") and tags["chaos:fault"] == "ec2-stop"

    command, env = [sys.executable, "-m", "gameday", "recover"], _env()
    if how == "by-tag":
        ledger.unlink()
        command += ["--by-tag", "--force", "--var-file", str(var_file)]
    else:  # the ledger names the region; the endpoint and keys as chaos run had them
        command += ["--ledger", str(ledger)]
        env |= parse_env(var_file.read_text())
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert _wait(lambda: _instances(sandbox) == before, 30), _instances(sandbox)
