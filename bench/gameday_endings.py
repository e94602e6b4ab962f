"""The game-day endings of bench_interrupts.py, against one sandbox (moto + emulators +
PostgreSQL) started in this process; leftovers are read from the sandbox's state
(tests/helpers/sandbox_state.py), never from our ledger or journals.

- cancel-SIGTERM / cancel-SIGINT: ``gameday run --var-file <sandbox env>`` of three
  experiments, signalled at a random moment of the first; faults injected after the
  signal (ledger "applied" lines stamped after it, and experiments started after it:
  goal 0) and leftovers once it exited.
- cancel-then-kill: ``gameday run --sandbox`` (its own sandbox) signalled with SIGTERM,
  SIGKILL 10 s later if still running, then a fresh ``gameday run --sandbox`` of one
  experiment in the same --out: must run (exit 0). Leftover: a sandbox temp folder.
- kill-recover-by-tag: ``chaos run`` SIGKILLed at a random moment, its ledger deleted,
  ``gameday recover --by-tag --force --var-file``: leftovers of each kind, lock items.
- sigint-ignored: ``chaos run`` started with SIGINT ignored (as nohup does), max fault
  1 s: seconds from the dead-man's abort (undo done) to the end of the experiment
  (journal ``end`` - ``safety.abort.restored_at``), and the run's length (its hold is 60 s).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chaosaws_ext.ledger import Ledger
from tests.helpers.sandbox_state import state, var_file

ROOT = Path(__file__).resolve().parent.parent
CHAOS = str(Path(sys.executable).with_name("chaos"))
GAMEDAY = [sys.executable, "-m", "gameday"]
MODES = ("cancel-SIGTERM", "cancel-SIGINT", "cancel-then-kill", "kill-recover-by-tag",
         "sigint-ignored")  # fmt: skip
CANCEL_EXPERIMENTS = ["healthcheck-path-block", "dynamodb-replica-conflict", "rds-forced-failover"]
KILL_FAULTS = {
    "healthcheck-path-block": "healthcheck-block",
    "dynamodb-replica-conflict": "dynamodb-conflict",
    "rds-forced-failover": "rds-failover",
}


@dataclass
class Ending:
    mode: str
    detail: str
    delay: float
    exit_code: int | None = None
    after_signal: int = 0  # faults injected after the signal
    leftover: str = ""
    seconds: float | None = None  # sigint-ignored: abort -> end of the experiment
    run_s: float | None = None


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def _wait(check: Any, bound: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


def _entries(path: Path) -> list[Any]:
    entries = []
    for ledger in path.parent.glob(path.name):
        try:
            entries += Ledger(ledger).entries()
        except Exception:  # noqa: BLE001 - a line being written
            pass
    return entries


def _difference(before: dict[str, Any], after: dict[str, Any]) -> str:
    return ", ".join(k for k in before if before[k] != after.get(k))


def _settled(topology: Any, before: dict[str, Any]) -> str:
    if _wait(lambda: state(topology) == before, 20, 0.25):
        return ""
    return "left: " + _difference(before, state(topology))


def cancel_trial(topology: Any, sig: int, delay: float, trial_dir: Path) -> Ending:
    trial = Ending(f"cancel-{signal.Signals(sig).name}", "3 experiments", round(delay, 2))
    before = state(topology)
    out = trial_dir / "out"
    env_file = var_file(topology, trial_dir / "run.env")
    process = subprocess.Popen(
        [*GAMEDAY, "run", "--var-file", str(env_file), "--out", str(out), *CANCEL_EXPERIMENTS],
        cwd=trial_dir, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(delay)
    signalled = datetime.now().astimezone()
    process.send_signal(sig)
    try:
        trial.exit_code = process.wait(timeout=180)
    except subprocess.TimeoutExpired:
        process.kill()
        trial.exit_code = process.wait(timeout=30)
        trial.leftover = "did not end within 180 s; "
    applied = [
        e for e in _entries(out / "ledger.jsonl") if e.outcome == "applied"
    ]  # fmt: skip
    late = [e for e in applied if datetime.fromisoformat(e.recorded_at.replace("Z", "+00:00"))
            > signalled]  # fmt: skip
    trial.after_signal = len(late)
    trial.leftover += _settled(topology, before)
    return trial


def _sandbox_dirs(tmp: Path) -> set[str]:
    return {p.name for p in tmp.glob("gameday-sandbox-*")}


def cancel_kill_trial(delay: float, trial_dir: Path) -> Ending:
    trial = Ending("cancel-then-kill", "SIGTERM, SIGKILL 10 s later", round(delay, 2))
    out = trial_dir / "out"
    private_tmp = trial_dir / "tmp"  # its own TMPDIR: other sandboxes are not counted
    private_tmp.mkdir()
    env = {**_env(), "TMPDIR": str(private_tmp)}
    process = subprocess.Popen(
        [*GAMEDAY, "run", "--sandbox", "--out", str(out), *CANCEL_EXPERIMENTS],
        cwd=trial_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    time.sleep(delay)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        trial.detail += " (killed)"
    fresh = subprocess.run(
        [*GAMEDAY, "run", "--sandbox", "--out", str(out), "dynamodb-replica-conflict"],
        cwd=trial_dir, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    trial.exit_code = fresh.returncode
    if fresh.returncode != 0:
        trial.leftover = (
            "fresh run refused/failed: " + (fresh.stderr.strip().splitlines() or [""])[-1]
        )
    if _sandbox_dirs(private_tmp):
        trial.leftover += " sandbox folder left"
    return trial


def kill_recover_trial(topology: Any, experiment: str, delay: float, trial_dir: Path) -> Ending:
    trial = Ending("kill-recover-by-tag", experiment, round(delay, 2))
    before = state(topology)
    ledger = trial_dir / "ledger.jsonl"
    env_file = var_file(topology, trial_dir / "run.env", GAMEDAY_LEDGER=str(ledger))
    process = subprocess.Popen(
        [CHAOS, "--no-version-check", "--log-file", str(trial_dir / "chaos.log"), "run",
         "--var-file", str(env_file), str(ROOT / "experiments" / f"{experiment}.yaml")],
        cwd=trial_dir, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    time.sleep(delay)
    trial.detail += " (injected)" if any(
        e.outcome == "applied" and e.fault == KILL_FAULTS[experiment] for e in _entries(ledger)
    ) else ""  # fmt: skip
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    ledger.unlink(missing_ok=True)
    done = subprocess.run(
        [*GAMEDAY, "recover", "--by-tag", "--force", "--var-file", str(env_file)],
        cwd=trial_dir, env=_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    trial.exit_code = done.returncode
    trial.leftover = _settled(topology, before)
    if done.returncode != 0:
        trial.leftover += " recover: " + " | ".join(done.stdout.strip().splitlines()[-3:])
    return trial


def sigint_ignored_trial(topology: Any, trial_dir: Path) -> Ending:
    import yaml

    trial = Ending("sigint-ignored", "healthcheck, max fault 1 s, hold 60 s", 0.0)
    before = state(topology)
    experiment = yaml.safe_load((ROOT / "experiments/healthcheck-path-block.yaml").read_text())
    method = experiment["method"]
    inject = next(i for i, a in enumerate(method) if a.get("type") == "action")
    method.insert(inject + 1, {"type": "action", "name": "hold", "provider": {
        "type": "process", "path": "sleep", "arguments": "60"}})  # fmt: skip
    path = trial_dir / "experiment.yaml"
    path.write_text(yaml.safe_dump(experiment, sort_keys=False))
    journal = trial_dir / "journal.json"
    env_file = var_file(
        topology, trial_dir / "run.env",
        GAMEDAY_LEDGER=str(trial_dir / "ledger.jsonl"), GAMEDAY_MAX_FAULT_SECONDS="1",
    )  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(
        [CHAOS, "--no-version-check", "--log-file", str(trial_dir / "chaos.log"), "run",
         "--journal-path", str(journal), "--var-file", str(env_file), str(path)],
        cwd=trial_dir, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        trial.exit_code = process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        trial.exit_code = process.wait(timeout=30)
    trial.run_s = round(time.monotonic() - started, 2)
    try:
        data = json.loads(journal.read_text())
        abort = data["safety"]["abort"]
        trial.seconds = round(
            (datetime.fromisoformat(data["end"]) - datetime.fromisoformat(abort["restored_at"]))
            .total_seconds(), 3
        )  # fmt: skip
    except (OSError, KeyError, ValueError) as error:
        trial.leftover = f"no abort in the journal ({error!r}); "
    trial.leftover += _settled(topology, before)
    return trial


def _calibrate(topology: Any, trial_dir: Path) -> float:
    """Seconds from `chaos run` start to the first fault applied (healthcheck)."""
    trial_dir.mkdir(parents=True)
    ledger = trial_dir / "ledger.jsonl"
    env_file = var_file(topology, trial_dir / "run.env", GAMEDAY_LEDGER=str(ledger))
    started = time.monotonic()
    process = subprocess.Popen(
        [CHAOS, "--no-version-check", "run", "--var-file", str(env_file),
         str(ROOT / "experiments/healthcheck-path-block.yaml")],
        cwd=trial_dir, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _wait(lambda: any(e.outcome == "applied" for e in _entries(ledger)), 90)
    took = time.monotonic() - started
    process.wait(timeout=180)
    return took


def run_modes(modes: list[str], trials: int, rng: random.Random) -> list[Ending]:
    from sandbox.server import running_sandbox

    endings: list[Ending] = []
    with tempfile.TemporaryDirectory(prefix="bench-endings-") as tmp:
        counter = 0

        def trial_dir() -> Path:
            nonlocal counter
            counter += 1
            path = Path(tmp) / str(counter)
            path.mkdir()
            return path

        if "cancel-then-kill" in modes:
            for _ in range(trials):
                endings.append(cancel_kill_trial(rng.uniform(3, 20), trial_dir()))
                _report(endings[-1])
        with running_sandbox(time_scale=0.05) as (_box, topology):
            t_inject = _calibrate(topology, Path(tmp) / "calibration")
            for sig in (signal.SIGTERM, signal.SIGINT):
                if f"cancel-{signal.Signals(sig).name}" not in modes:
                    continue
                for _ in range(trials):
                    delay = rng.uniform(0.5 * t_inject, t_inject + 3.0)
                    endings.append(cancel_trial(topology, sig, delay, trial_dir()))
                    _report(endings[-1])
            if "kill-recover-by-tag" in modes:
                for index in range(trials):
                    experiment = list(KILL_FAULTS)[index % len(KILL_FAULTS)]
                    delay = rng.uniform(0.5 * t_inject, t_inject + 2.0)
                    endings.append(kill_recover_trial(topology, experiment, delay, trial_dir()))
                    _report(endings[-1])
            if "sigint-ignored" in modes:
                for _ in range(trials):
                    endings.append(sigint_ignored_trial(topology, trial_dir()))
                    _report(endings[-1])
    return endings


def _report(trial: Ending) -> None:
    print(
        f"{trial.mode:20} {trial.detail:38} delay {trial.delay:5.2f}s exit {trial.exit_code!s:4} "
        f"after-signal {trial.after_signal} abort->end {trial.seconds!s:6} run {trial.run_s!s:6} "
        f"{trial.leftover or 'ok'}",
        file=sys.stderr,
        flush=True,
    )


def print_table(endings: list[Ending]) -> None:
    print("\nGame-day endings (sandbox, time scale 0.05; leftovers read from moto/PostgreSQL)")
    header = (
        f"{'mode':20} {'trials':>6} {'exit codes':14} {'faults after signal':>19} "
        f"{'leftovers':>9} {'abort->end s (median / max)':>28} {'run s (median / max)':>21}"
    )
    print(header)
    print("-" * len(header))
    for mode in MODES:
        rows = [t for t in endings if t.mode == mode]
        if not rows:
            continue
        codes = ",".join(sorted({str(t.exit_code) for t in rows}))
        seconds = [t.seconds for t in rows if t.seconds is not None]
        runs = [t.run_s for t in rows if t.run_s is not None]
        print(
            f"{mode:20} {len(rows):>6} {codes:14} {sum(t.after_signal for t in rows):>19} "
            f"{sum(1 for t in rows if t.leftover):>9} {_stats(seconds):>28} {_stats(runs):>21}"
        )
    for t in endings:
        if t.leftover:
            print(f"  LEFTOVER {t.mode} {t.detail} delay {t.delay}s: {t.leftover}")


def _stats(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 2]:.2f} / {ordered[-1]:.2f}"
