"""The sandbox paths of the IAM check, recorded with tests/helpers/aws_calls.py.

Used by tests/e2e/test_iam_sandbox.py and ``python -m tests.helpers.iam_report --sandbox``.

- **game day**: ``gameday run --sandbox`` (its own sandbox, started in the ``gameday``
  process; all four experiments through the real ``chaos`` CLI; the sandbox's
  strictness as it is by default: EC2 eventual consistency and NACL quota, ELBv2/WAFv2
  quotas, capacity and tag values). Each call goes to the policy of the experiment its
  process ran (``GAMEDAY_RUN_ID`` starts with the experiment's name).
- **crash + recover**: in one sandbox of this process, per experiment, ``chaos run
  --var-file <sandbox env>`` SIGKILLed once its fault is in the ledger, the ledger
  deleted, then ``gameday recover --by-tag --force --var-file <sandbox env>`` (every
  experiment's configuration: it searches for every kind). Its calls go to that
  experiment's policy, but those made by another fault's package (its orphan finder, the
  DynamoDB write markers) go to that fault's policy.

Both name two of the sandbox's seeded stop alarms, one of them in us-east-1 (where
Route 53 health-check metrics are) as ``us-east-1:name``. The sandbox seeds and emulates
with plain boto3 clients: only the clients of ``chaosaws_ext.core.clients.aws_client``
are hooked, so nothing of the sandbox's own is recorded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaosaws_ext.ledger import Ledger
from tests.helpers.aws_calls import Call, load_calls, recording_env
from tests.helpers.executables import chaos_executable, gameday_executable
from tests.helpers.iam_scenarios import Scenario, fault_policy

__all__ = [
    "EXPERIMENTS",
    "CRASHES",
    "STOP_ALARMS",
    "GameDay",
    "Crash",
    "sandbox_world",
    "record_crashes",
    "by_policy",
]

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = (
    "az-nacl-blackhole",
    "rds-forced-failover",
    "healthcheck-path-block",
    "dynamodb-replica-conflict",
)
# sandbox/seed.py: an API 5xx alarm in the home region, Route 53 ones in us-east-1
STOP_ALARMS = "production-api-5xx,us-east-1:route53-secondary-endpoint-unhealthy"


@dataclass(frozen=True)
class Crash:
    """One experiment SIGKILLed once ``fault`` is applied, then recovered by tag."""

    experiment: str
    fault: str
    env: tuple[tuple[str, str], ...] = ()


# The game day runs the listener-rule block (the sandbox's default): the crash the WAF one.
CRASHES = (
    Crash("az-nacl-blackhole", "az-blackhole"),
    Crash("rds-forced-failover", "rds-failover"),
    Crash("healthcheck-path-block", "healthcheck-block", (("GAMEDAY_BLOCK_MECHANISM", "waf"),)),
    Crash("dynamodb-replica-conflict", "dynamodb-conflict"),
)


def _clean_env(calls: Path) -> dict[str, str]:
    """This environment without AWS, gameday or sandbox settings (the sandbox's
    strictness switches at their defaults: on), recording into ``calls``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_", "SANDBOX_"))
    }
    env.update(recording_env(calls))
    env["PYTHONPATH"] = str(ROOT)  # chaos imports the recorder from tests.helpers
    return env


def _env_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def sandbox_world(env_file: Path) -> dict[str, Any]:
    """What ``gameday policy`` is filled with for this sandbox (its env file's ids)."""
    values = _env_values(env_file)
    return {
        "vpc_id": values["GAMEDAY_VPC_ID"],
        "db": values["GAMEDAY_DB_INSTANCE"],
        "cluster": values.get("GAMEDAY_DB_CLUSTER", ""),
        "health_check_id": values["GAMEDAY_HEALTH_CHECK_ID"],
        "table": values["GAMEDAY_TABLE"],
        "lock_table": values["GAMEDAY_LOCK_TABLE"],
        "bucket": values.get("GAMEDAY_BUCKET", ""),
    }


def _with(env_file: Path, target: Path, **overrides: str) -> Path:
    """A copy of the sandbox's env file with ``overrides`` (a var file's values win over
    the environment in ``chaos run``, so they go in the file)."""
    lines = [
        line
        for line in env_file.read_text().splitlines()
        if line.partition("=")[0] not in overrides
    ]
    target.write_text("\n".join([*lines, *(f"{k}={v}" for k, v in overrides.items())]) + "\n")
    return target


def _experiment_of(run: str) -> str:
    return next((e for e in EXPERIMENTS if run.startswith(f"{e}-")), "")


def by_policy(calls: list[Call], experiment: Callable[[Call], str]) -> dict[str, list[Call]]:
    """``calls`` per policy that must grant them: the experiment's (``experiment(call)``),
    unless another fault's package made the call. A call of no experiment raises."""
    grouped: dict[str, list[Call]] = {}
    for call in calls:
        name = experiment(call)
        if not name:
            raise AssertionError(f"a call of no experiment: {call.describe()} run {call.run!r}")
        policy = fault_policy(call, Scenario(name, name, name))
        grouped.setdefault(policy, []).append(call)
    return grouped


class GameDay:
    """``gameday run --sandbox`` with the recorder on, in the background."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.out = workdir / "out"
        self.calls_file = workdir / "calls.jsonl"
        stop = workdir / "stop-alarms.env"
        stop.write_text(f"GAMEDAY_STOP_ALARMS={STOP_ALARMS}\n")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gameday", "run", "--sandbox", "--out", str(self.out),
             "--var-file", str(stop)],
            cwd=ROOT, env=_clean_env(self.calls_file), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def result(self, timeout: float = 300) -> tuple[list[Call], dict[str, Any]]:
        """The recorded calls and the sandbox's world, once the game day met every
        target (else AssertionError with its output)."""
        try:
            output, _ = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            output, _ = self.process.communicate(timeout=30)
            raise AssertionError(f"gameday run --sandbox took over {timeout} s\n{output}") from None
        if self.process.returncode != 0:
            raise AssertionError(f"gameday run --sandbox failed\n{output[-6000:]}")
        return load_calls(self.calls_file), sandbox_world(self.out / "sandbox.env")

    def by_policy(self, calls: list[Call]) -> dict[str, list[Call]]:
        return by_policy(calls, lambda call: _experiment_of(call.run))


def _applied(ledger: Path, fault: str) -> bool:
    try:
        return any(e.fault == fault and e.outcome == "applied" for e in Ledger(ledger).entries())
    except Exception:  # noqa: BLE001 - a line being written
        return False


def _kill_after_inject(crash: Crash, var_file: Path, ledger: Path, env: dict[str, str]) -> None:
    log = ledger.with_suffix(".log")
    process = subprocess.Popen(
        [chaos_executable(), "--no-version-check", "--log-file", str(log), "run",
         "--var-file", str(var_file), str(ROOT / "experiments" / f"{crash.experiment}.yaml")],
        cwd=ledger.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while not _applied(ledger, crash.fault):
            if time.monotonic() > deadline or process.poll() is not None:
                text = log.read_text()[-1500:] if log.exists() else ""
                raise AssertionError(f"{crash.experiment}: never injected\n{text}")
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def record_crashes(
    env_file: Path, workdir: Path, crashes: tuple[Crash, ...] = CRASHES
) -> dict[str, list[Call]]:
    """Each crash then ``gameday recover --by-tag --force`` in the running sandbox whose
    env file is ``env_file``; the calls per policy (each recovery must succeed)."""
    grouped: dict[str, list[Call]] = {}
    for n, crash in enumerate(crashes):
        folder = workdir / f"crash-{n}"
        folder.mkdir(parents=True, exist_ok=True)
        calls_file, ledger = folder / "calls.jsonl", folder / "ledger.jsonl"
        env = _clean_env(calls_file)
        var_file = _with(env_file, folder / "run.env", GAMEDAY_LEDGER=str(ledger),
                         GAMEDAY_STOP_ALARMS=STOP_ALARMS, **dict(crash.env))  # fmt: skip
        _kill_after_inject(crash, var_file, ledger, env)
        if not Ledger(ledger).unreverted():
            raise AssertionError(f"{crash.experiment}: nothing left to recover after the SIGKILL")
        ledger.unlink()  # lost: only the tags are left
        done = subprocess.run(
            [gameday_executable(), "recover", "--by-tag", "--force", "--var-file", str(var_file)],
            cwd=folder, env=env, capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        if done.returncode != 0 or ": restored" not in done.stdout:
            raise AssertionError(f"{crash.experiment}: recover\n{done.stdout}{done.stderr}")
        name = crash.experiment
        for policy, calls in by_policy(load_calls(calls_file), lambda _, n=name: n).items():
            grouped.setdefault(policy, []).extend(calls)
    return grouped
