"""Interrupt trials: does every ending of a real ``chaos run`` leave AWS as it found it?

For each fault x {SIGINT, SIGTERM, SIGKILL + ``gameday recover --ledger``}: ``--trials``
runs of the experiment's real ``chaos run`` against a moto server in THIS process (RDS
failover emulator and DynamoDB replicator installed), each signalled at a random point
(before, during or after the injection). After the process ends (and the recover, for
SIGKILL), the fault's AWS state is compared with the state before the run:

- az-nacl-blackhole: the VPC's NACLs (entries, associations, tags);
- healthcheck-path-block: the listener's rules and the web ACL's rules;
- rds-forced-failover: the DB instance status is ``available`` (a failover cannot be
  undone; "restored" means available again);
- dynamodb-replica-conflict: the table's items in both regions;
plus: no unreverted ledger entry, no target-lock item left.

Leftovers = trials whose state differs from before once everything has ended (goal 0).
Time to restored = from the signal to the first poll (every ~50 ms) after which the state
equals the state before, for the trials in which the fault was in place at the signal.

Then the stop-condition path: the CloudWatch alarm is set to ALARM (set_alarm_state)
once the fault is injected (the safety control polls the alarm every
GAMEDAY_STOP_POLL_INTERVAL = 1 s here; the experiments' default is 5 s); the journaled
``safety.abort.seconds_to_restore`` and the time from set_alarm_state to the restored
state, over ``--stop-trials`` runs per fault.

The experiments are run from a copy (in a temp dir) that holds the fault with a ``sleep``
action right after the inject (so that signals land while the fault is in place) and
carries the safety control (``chaosaws_ext.controls.safety``) when the experiment lacks
it; the table says which.

Then the game-day endings (bench/gameday_endings.py, against a sandbox): SIGTERM and
SIGINT to ``gameday run`` (faults injected after the signal), the same then SIGKILL 10 s
later and a fresh ``gameday run``, SIGKILL with the ledger deleted then ``gameday recover
--by-tag``, and SIGINT ignored plus the dead-man's switch (abort to method end).

    python bench/bench_interrupts.py [--trials 10] [--stop-trials 10] [--faults a,b]
        [--modes faults,cancel-SIGTERM,cancel-SIGINT,cancel-then-kill,
                 kill-recover-by-tag,sigint-ignored]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gameday_endings import MODES as ENDING_MODES  # noqa: E402
from bench.gameday_endings import print_table, run_modes  # noqa: E402
from chaosaws_ext.ledger import Ledger  # noqa: E402
from sandbox.behaviour.dynamodb_replication import GlobalTableReplicator  # noqa: E402
from sandbox.behaviour.rds_failover import RdsFailoverEmulator  # noqa: E402
from tests.helpers.aws_world import (  # noqa: E402
    EXPERIMENTS,
    LOCK_TABLE,
    REGION,
    client,
    experiment_env,
    experiment_state,
    seed_world,
    with_safety_control,
)

CHAOS = str(Path(sys.executable).with_name("chaos"))
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
HOLD_SECONDS = 20
FAILOVER_SECONDS = 1.0
REPLICATION_LAG = 0.2
POLL = 0.05
RESTORE_BOUND = 60.0


@dataclass
class Trial:
    fault: str
    how: str
    delay: float
    injected_at_signal: bool = False
    exit_code: int | None = None
    restored_s: float | None = None
    leftover: str = ""
    abort_s: float | None = None
    exit_s: float | None = None
    total_s: float | None = None


@dataclass
class Bench:
    endpoint: str
    replicator: GlobalTableReplicator
    emulator: RdsFailoverEmulator
    workdir: Path
    world: dict[str, Any] = field(default_factory=dict)
    copied: dict[str, bool] = field(default_factory=dict)

    def reset(self) -> None:
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        self.emulator.install()  # again after a moto reset
        self.world = seed_world(self.endpoint, self.replicator)

    def state(self, fault: str) -> dict[str, Any]:
        return experiment_state(self.endpoint, self.world, fault)

    def lock_items(self) -> list[Any]:
        dynamodb = client("dynamodb", self.endpoint)
        try:
            return dynamodb.scan(TableName=LOCK_TABLE)["Items"]
        except dynamodb.exceptions.ResourceNotFoundException:
            return []


def _start(bench: Bench, fault: str, trial_dir: Path) -> subprocess.Popen[str]:
    trial_dir.mkdir(parents=True)
    path, copied = with_safety_control(fault, trial_dir, hold_seconds=HOLD_SECONDS)
    bench.copied[fault] = copied
    env = experiment_env(
        fault, bench.world, trial_dir, bench.endpoint, GAMEDAY_LOCK_TABLE=LOCK_TABLE
    )
    return subprocess.Popen(
        [CHAOS, "--no-version-check", "--log-file", str(trial_dir / "chaos.log"), "run",
         "--journal-path", str(trial_dir / "journal.json"), str(path)],
        cwd=trial_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _fault_applied(ledger: Path, fault_prefix: str) -> bool:
    if not ledger.exists():
        return False
    try:
        entries = Ledger(ledger).entries()
    except Exception:  # noqa: BLE001 - a half-written line while the run writes
        return False
    return any(e.outcome == "applied" and e.fault != "target-lock" for e in entries)


def _wait(check: Callable[[], bool], bound: float, interval: float = POLL) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


class Watcher:
    """Polls the fault's state from the signal on; remembers the last time it differed."""

    def __init__(self, bench: Bench, fault: str, before: dict[str, Any]) -> None:
        self.bench, self.fault, self.before = bench, fault, before
        self.started = time.monotonic()
        self.last_bad: float | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                equal = self.bench.state(self.fault) == self.before
            except Exception:  # noqa: BLE001 - counted as "not restored yet"
                equal = False
            now = time.monotonic()
            if not equal:
                self.last_bad = now
            self.stop.wait(POLL)

    def finish(self) -> float | None:
        """Seconds from the start to the first equal poll after the last difference."""
        self.stop.set()
        self.thread.join(timeout=10)
        if self.last_bad is None:
            return None
        return round(self.last_bad - self.started + POLL, 3)


def _recover(bench: Bench, fault: str, trial_dir: Path) -> int:
    env = experiment_env(fault, bench.world, trial_dir, bench.endpoint)
    done = subprocess.run(
        [GAMEDAY, "recover", "--ledger", str(trial_dir / "ledger.jsonl"), "--region", REGION],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    return done.returncode


def _difference(before: dict[str, Any], after: dict[str, Any]) -> str:
    """What changed, briefly (for DynamoDB: the keys of the items added or removed)."""
    if "items" in before:
        parts = []
        for region, items in after["items"].items():
            added = set(items) - set(before["items"][region])
            removed = set(before["items"][region]) - set(items)
            keys = sorted({str(next(iter(json.loads(i).values()))) for i in added})[:1]
            parts.append(f"{region} +{len(added)} -{len(removed)} items {keys}")
        return "; ".join(parts)
    return ", ".join(k for k in before if before[k] != after.get(k))


def _leftover(bench: Bench, fault: str, before: dict[str, Any], trial_dir: Path) -> str:
    if fault == "dynamodb-replica-conflict":
        bench.replicator.drain(timeout=10)
    problems = []
    if not _wait(lambda: bench.state(fault) == before, RESTORE_BOUND, 0.2):
        problems.append(f"state differs: {_difference(before, bench.state(fault))}")
    ledger = trial_dir / "ledger.jsonl"
    if ledger.exists() and Ledger(ledger).unreverted():
        problems.append(f"{len(Ledger(ledger).unreverted())} unreverted ledger entries")
    if bench.lock_items():
        problems.append("lock item left")
    return "; ".join(problems)


def run_trial(bench: Bench, fault: str, how: str, delay: float, trial_dir: Path) -> Trial:
    trial = Trial(fault=fault, how=how, delay=round(delay, 2))
    began = time.monotonic()
    before = bench.state(fault)
    process = _start(bench, fault, trial_dir)
    time.sleep(delay)
    watcher = Watcher(bench, fault, before)
    trial.injected_at_signal = _fault_applied(trial_dir / "ledger.jsonl", fault)
    if process.poll() is None:
        os.kill(process.pid, SIGNALS[how])
    try:
        trial.exit_code = process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        trial.exit_code = process.wait(timeout=30)
        trial.leftover = "chaos run did not end within 120 s after the signal; "
    trial.exit_s = round(time.monotonic() - watcher.started, 2)
    if how == "SIGKILL":
        # the `sleep` child of a killed run lives on in its session: end it too
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _recover(bench, fault, trial_dir)
    trial.leftover += _leftover(bench, fault, before, trial_dir)
    trial.restored_s = watcher.finish()
    if trial.leftover:
        bench.reset()  # do not let one leftover spoil the next trials
    trial.total_s = round(time.monotonic() - began, 2)
    return trial


def run_stop_trial(bench: Bench, fault: str, trial_dir: Path) -> Trial:
    trial = Trial(fault=fault, how="alarm", delay=0.0)
    cloudwatch = client("cloudwatch", bench.endpoint)
    before = bench.state(fault)
    process = _start(bench, fault, trial_dir)
    if not _wait(lambda: _fault_applied(trial_dir / "ledger.jsonl", fault), 60):
        process.kill()
        process.wait(timeout=30)
        trial.leftover = "never injected"
        return trial
    trial.injected_at_signal = True
    watcher = Watcher(bench, fault, before)
    cloudwatch.set_alarm_state(
        AlarmName=bench.world["alarm"], StateValue="ALARM", StateReason="bench"
    )
    try:
        trial.exit_code = process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        trial.exit_code = process.wait(timeout=30)
        trial.leftover = "did not abort; "
    trial.exit_s = round(time.monotonic() - watcher.started, 2)
    cloudwatch.set_alarm_state(AlarmName=bench.world["alarm"], StateValue="OK", StateReason="b")
    trial.leftover += _leftover(bench, fault, before, trial_dir)
    trial.restored_s = watcher.finish()
    journal = trial_dir / "journal.json"
    if journal.exists():
        abort = json.loads(journal.read_text()).get("safety", {}).get("abort") or {}
        trial.abort_s = abort.get("seconds_to_restore")
    if trial.leftover:
        bench.reset()
    return trial


def _injection_time(bench: Bench, fault: str, trial_dir: Path) -> float:
    """Calibration: seconds from the start of `chaos run` to the fault in place."""
    started = time.monotonic()
    process = _start(bench, fault, trial_dir)
    _wait(lambda: _fault_applied(trial_dir / "ledger.jsonl", fault), 60, 0.02)
    took = time.monotonic() - started
    process.send_signal(signal.SIGINT)
    process.wait(timeout=120)
    _leftover(bench, fault, bench.state(fault), trial_dir)
    return took


def _stats(values: list[float]) -> str:
    if not values:
        return "-"
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="per fault x signal")
    parser.add_argument("--stop-trials", type=int, default=10, help="alarm trials per fault")
    parser.add_argument("--faults", default=",".join(EXPERIMENTS))
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--json", help="also write every trial to this file")
    parser.add_argument(
        "--modes",
        default=",".join(("faults", *ENDING_MODES)),
        help="faults (chaos run x signal per fault, and the stop condition) and/or the "
        "game-day endings: " + ", ".join(ENDING_MODES),
    )
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    unknown = set(modes) - {"faults", *ENDING_MODES}
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    # Started in the background by a shell, this process may ignore SIGINT, and so would
    # every `chaos run` it starts (Python keeps an ignored SIGINT ignored): undo that.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("sandbox").setLevel(logging.ERROR)
    rng = random.Random(args.seed)
    endings = []
    if set(modes) & set(ENDING_MODES):
        endings = run_modes(modes, args.trials, rng)
        print_table(endings)
    if "faults" not in modes:
        return 1 if any(t.leftover or t.after_signal for t in endings) else 0
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": REGION}
    )
    emulator = RdsFailoverEmulator(
        failover_seconds=FAILOVER_SECONDS, reboot_seconds=FAILOVER_SECONDS, regions=(REGION,)
    ).install()
    replicator = GlobalTableReplicator(lag_seconds=REPLICATION_LAG).start()
    trials: list[Trial] = []
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-interrupts-") as tmp:
            bench = Bench(
                endpoint=endpoint, replicator=replicator, emulator=emulator, workdir=Path(tmp)
            )
            counter = 0
            for fault in args.faults.split(","):
                bench.reset()
                counter += 1
                t_inject = _injection_time(bench, fault, Path(tmp) / f"{counter}")
                for how in SIGNALS:
                    for _ in range(args.trials):
                        counter += 1
                        # before (start-up, steady state), during or after the inject
                        delay = rng.uniform(0.5 * t_inject, t_inject + 2.0)
                        trial = run_trial(bench, fault, how, delay, Path(tmp) / f"{counter}")
                        trials.append(trial)
                        print(
                            f"{fault:26} {how:7} delay {trial.delay:5.2f}s injected "
                            f"{trial.injected_at_signal!s:5} exit {trial.exit_code!s:4} "
                            f"restored {trial.restored_s!s:6} exit after {trial.exit_s}s, trial "
                            f"{trial.total_s}s {trial.leftover or 'ok'}",
                            file=sys.stderr,
                            flush=True,
                        )
                for _ in range(args.stop_trials):
                    counter += 1
                    trial = run_stop_trial(bench, fault, Path(tmp) / f"{counter}")
                    trials.append(trial)
                    print(
                        f"{fault:26} alarm   abort {trial.abort_s!s:6} restored "
                        f"{trial.restored_s!s:6} exit {trial.exit_code} after "
                        f"{trial.exit_s}s {trial.leftover or 'ok'}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        replicator.stop()
        emulator.uninstall()
        server.stop()
    elapsed = time.monotonic() - started
    copied = ", ".join(f for f, c in bench.copied.items() if c) or "none"
    print(f"\nInterrupt trials ({elapsed / 60:.1f} min; safety control added to: {copied})")
    header = (
        f"{'fault':26} {'ending':16} {'trials':>6} {'injected':>8} {'leftovers':>9} "
        f"{'exit codes':14} {'signal->restored s (median / max)':>34}"
    )
    print(header)
    print("-" * len(header))
    for fault in args.faults.split(","):
        for how in SIGNALS:
            rows = [t for t in trials if t.fault == fault and t.how == how]
            if not rows:
                continue
            codes = ",".join(sorted({str(t.exit_code) for t in rows}))
            restored = [t.restored_s for t in rows if t.restored_s is not None]
            label = "SIGKILL+recover" if how == "SIGKILL" else how
            print(
                f"{fault:26} {label:16} {len(rows):>6} "
                f"{sum(t.injected_at_signal for t in rows):>8} "
                f"{sum(1 for t in rows if t.leftover):>9} {codes:14} {_stats(restored):>34}"
            )
    print("\nStop condition (alarm set to ALARM while the fault is in place)")
    header = (
        f"{'fault':26} {'trials':>6} {'leftovers':>9} {'aborted':>7} "
        f"{'safety.abort.seconds_to_restore':>32} {'alarm->restored s':>18} "
        f"{'alarm->exit s':>14}"
    )
    print(header)
    print("-" * len(header))
    for fault in args.faults.split(","):
        rows = [t for t in trials if t.fault == fault and t.how == "alarm"]
        if not rows:
            continue
        aborts = [t.abort_s for t in rows if t.abort_s is not None]
        restored = [t.restored_s for t in rows if t.restored_s is not None]
        print(
            f"{fault:26} {len(rows):>6} {sum(1 for t in rows if t.leftover):>9} "
            f"{len(aborts):>7} {_stats(aborts):>32} {_stats(restored):>18} "
            f"{_stats([t.exit_s for t in rows if t.exit_s is not None]):>14}"
        )
    leftovers = [t for t in trials if t.leftover]
    print(f"\nTotal: {len(trials)} trials, {len(leftovers)} with leftovers")
    for t in leftovers:
        print(f"  LEFTOVER {t.fault} {t.how} delay {t.delay}s: {t.leftover}")
    if args.json:
        Path(args.json).write_text(json.dumps([t.__dict__ for t in trials], indent=1))
    return 1 if leftovers or any(t.leftover or t.after_signal for t in endings) else 0


if __name__ == "__main__":
    sys.exit(main())
