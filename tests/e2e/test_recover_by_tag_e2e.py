"""The ledger lost: ``chaos run`` SIGKILLed once its fault is in, the ledger deleted, then
``gameday recover --by-tag --var-file``: nothing of ours is left, read from the
sandbox's AWS (moto) and PostgreSQL state, not from our records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosaws_ext.ledger import Ledger
from tests.helpers import REPO
from tests.helpers.sandbox_state import state as _state
from tests.helpers.sandbox_state import var_file as _var_file

pytestmark = pytest.mark.e2e
ROOT = REPO
CHAOS = str(Path(sys.executable).with_name("chaos"))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    from sandbox.server import running_sandbox

    with running_sandbox(time_scale=0.05) as (_box, topology):
        yield topology


def _applied(ledger: Path, fault: str) -> bool:
    try:
        return any(e.fault == fault and e.outcome == "applied" for e in Ledger(ledger).entries())
    except Exception:  # noqa: BLE001 - a line being written
        return False


def _wait(check: Any, bound: float) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def _kill_after_inject(experiment: str, fault: str, var_file: Path, ledger: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    process = subprocess.Popen(
        [CHAOS, "--no-version-check", "--log-file", str(ledger.with_suffix(".log")), "run",
         "--var-file", str(var_file), str(ROOT / "experiments" / f"{experiment}.yaml")],
        cwd=ledger.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        log = ledger.with_suffix(".log")
        assert _wait(lambda: _applied(ledger, fault), 90), f"{experiment}: never injected: " + (
            log.read_text()[-1500:] if log.exists() else ""
        )
        time.sleep(0.5)  # markers written meanwhile
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


HEALTHCHECK = ("healthcheck-path-block", "healthcheck-block")
ROUNDS = {
    # a fault left in place fails the next experiment's steady state if they share the
    # service: the two health-check mechanisms (each the last of its round) are apart
    "items-markers-locks-waf": [
        ("dynamodb-replica-conflict", "dynamodb-conflict", {}),
        ("rds-forced-failover", "rds-failover", {}),
        (*HEALTHCHECK, {"GAMEDAY_BLOCK_MECHANISM": "waf"}),
    ],
    "listener-rule": [(*HEALTHCHECK, {"GAMEDAY_BLOCK_MECHANISM": "listener-rule"})],
}


@pytest.mark.parametrize("round_name", list(ROUNDS))
def test_recover_by_tag_after_sigkill_without_ledger_leaves_nothing(
    sandbox: Any, tmp_path: Path, round_name: str
) -> None:
    runs = ROUNDS[round_name]
    before = _state(sandbox)
    var_files = []
    for index, (experiment, fault, overrides) in enumerate(runs):
        ledger = tmp_path / f"ledger-{index}.jsonl"
        var_file = _var_file(
            sandbox, tmp_path / f"run-{index}.env", GAMEDAY_LEDGER=str(ledger), **overrides
        )
        _kill_after_inject(experiment, fault, var_file, ledger)
        ledger.unlink()
        var_files.append(var_file)
    left = _state(sandbox)
    assert left["lock items"] == len(runs)
    if round_name == "listener-rule":
        assert left["listener rules"] != before["listener rules"]
    else:
        assert left["waf rules"] != before["waf rules"]
        assert left["postgres markers"] > 0
        assert all(left["conflict items and dynamodb markers"].values())

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    command = [sys.executable, "-m", "gameday", "recover", "--by-tag"]
    command += ["--var-file", str(var_files[-1])]
    careful = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    # every find carries its expiry: all of them are of runs that may still be live
    assert careful.returncode == 1 and ": restored" not in careful.stdout, careful.stdout
    assert careful.stdout.count("its run may still be live") >= len(runs)
    assert _state(sandbox) == left

    done = subprocess.run(
        [*command, "--force"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert _wait(lambda: _state(sandbox) == before, 30), (_state(sandbox), done.stdout)
