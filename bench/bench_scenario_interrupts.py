"""Interrupt trials of a scenario experiment (several faults in one run) in the sandbox.

For each of SIGINT, SIGTERM and SIGKILL + ``gameday recover --ledger``: ``--trials``
real ``chaos run``s of the named experiment against one sandbox started in this process
(``--time-scale``, default 0.05), each signalled at a random moment (uniform in
``--window`` seconds from the start: before, between and after its injections). Once
the process has ended (and the recover, after SIGKILL), the state read from the
sandbox's AWS (moto) and PostgreSQL is compared with the state before the run:

- the VPC's network ACLs (entries, associations, tags), deep-compared;
- the analytics DB instance ``available`` and Multi-AZ (a failover is not undone;
  restored means available again), waited for up to ``--settle`` s;
- no write-marker rows, no target-lock item;

and the run's ledger is read for unreverted entries (ours, reported apart). Leftovers =
trials whose AWS state differs from before (goal 0). "In place" = how many of the
scenario's faults the ledger shows applied at the signal.

With ``--background`` every fault injection of the method gets ``background: true``
(injected concurrently, joined by the safety control before the next step).

    python bench/bench_scenario_interrupts.py az-power-interruption [--trials 10]
        [--time-scale 0.05] [--window 12] [--symptoms 20] [--seed N]
        [--signals SIGINT,SIGTERM,SIGKILL] [--keep DIR] [--background]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaosaws_ext.ledger import Ledger  # noqa: E402
from sandbox.envfile import parse_env  # noqa: E402
from tests.helpers.sandbox_state import client, locks, nacls, postgres_markers, var_file  # noqa: E402

CHAOS = str(Path(sys.executable).with_name("chaos"))
GAMEDAY = [sys.executable, "-m", "gameday"]
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}
END_BOUND_S = 180.0  # a signalled run must have ended by then (its undo included)


@dataclass
class Trial:
    how: str
    delay: float
    in_place: int = 0  # faults applied at the signal (ledger)
    exit_code: int | None = None
    recover_code: int | None = None
    leftover: str = ""
    unreverted: int = 0
    ended_s: float | None = None


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env["PYTHONPATH"] = str(ROOT)
    return env


def db_state(topology: Any) -> dict[str, Any]:
    db = client(topology, "rds").describe_db_instances(
        DBInstanceIdentifier=topology.db_instance_id
    )["DBInstances"][0]
    return {"status": db["DBInstanceStatus"], "multi_az": db["MultiAZ"]}


def aws_state(topology: Any) -> dict[str, Any]:
    return {
        "nacls": nacls(topology),
        "db": db_state(topology),
        "postgres markers": postgres_markers(topology),
        "lock items": len(locks(topology)),
    }


def _settled(topology: Any, before: dict[str, Any], bound: float) -> str:
    """What still differs from ``before`` after waiting up to ``bound`` s ("" = none)."""
    deadline = time.monotonic() + bound
    while True:
        now = aws_state(topology)
        if now == before:
            return ""
        if time.monotonic() >= deadline:
            return ", ".join(k for k in before if now[k] != before[k])
        time.sleep(0.25)


def _applied(ledger: Path) -> int:
    try:
        entries = Ledger(ledger).entries() if ledger.exists() else []
    except Exception:  # noqa: BLE001 - a line being written
        return 0
    skip = ("target-lock", "measurement-markers")
    return len({e.fault for e in entries if e.outcome == "applied" and e.fault not in skip})


def trial(
    topology: Any, experiment: Path, how: str, delay: float, workdir: Path, args: Any
) -> Trial:
    result = Trial(how, round(delay, 2))
    before = aws_state(topology)
    ledger = workdir / "ledger.jsonl"
    env_file = var_file(
        topology, workdir / "run.env", GAMEDAY_LEDGER=str(ledger),
        GAMEDAY_SYMPTOMS_SECONDS=str(args.symptoms),
    )  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(
        [CHAOS, "--no-version-check", "--log-file", str(workdir / "chaos.log"), "run",
         "--journal-path", str(workdir / "journal.json"), "--var-file", str(env_file),
         str(experiment)],
        cwd=workdir, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    time.sleep(delay)
    result.in_place = _applied(ledger)
    if process.poll() is None:
        if how == "SIGKILL":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            os.kill(process.pid, SIGNALS[how])
    try:
        result.exit_code = process.wait(timeout=END_BOUND_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        result.exit_code = process.wait(timeout=30)
        result.leftover = "did not end; "
    result.ended_s = round(time.monotonic() - started - delay, 2)
    if how == "SIGKILL" and ledger.exists():
        env = {**_env(), **parse_env(env_file.read_text())}
        done = subprocess.run(
            [*GAMEDAY, "recover", "--ledger", str(ledger)],
            cwd=workdir, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        result.recover_code = done.returncode
    result.leftover += _settled(topology, before, args.settle)
    if ledger.exists():
        result.unreverted = len(Ledger(ledger).unreverted())
    return result


def _in_background(experiment: Path, folder: Path) -> Path:
    """A copy of ``experiment`` whose fault injections (the actions ``gameday plan``
    plans) run in the background; the ends stay in the foreground."""
    import yaml

    from chaosaws_ext.faults import plan_functions

    injections = set(plan_functions())
    document = yaml.safe_load(experiment.read_text())
    for activity in document.get("method") or []:
        provider = activity.get("provider") or {}
        if (provider.get("module"), provider.get("func")) in injections:
            activity["background"] = True
    path = folder / f"{experiment.stem}-background.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def print_table(experiment: str, trials: list[Trial], args: Any) -> None:
    print(
        f"\n{experiment}: {len(trials)} trials at time scale {args.time_scale:g}, "
        f"signal uniform in 0-{args.window:g} s after start, symptoms {args.symptoms:g} s"
    )
    header = ("signal", "trials", "faults in place at signal", "exit codes", "recover exit",
              "end after signal s (max)", "AWS leftovers", "ledger unreverted")  # fmt: skip
    rows = []
    for how in SIGNALS:
        mine = [t for t in trials if t.how == how]
        if not mine:
            continue
        places = Counter(t.in_place for t in mine)
        rows.append((
            how, str(len(mine)),
            " ".join(f"{k}:{v}" for k, v in sorted(places.items())),
            " ".join(f"{k}:{v}" for k, v in sorted(Counter(t.exit_code for t in mine).items())),
            " ".join(str(t.recover_code) for t in mine if t.recover_code is not None) or "-",
            f"{max(t.ended_s or 0 for t in mine):.1f}",
            str(sum(1 for t in mine if t.leftover)),
            str(sum(t.unreverted for t in mine)),
        ))  # fmt: skip
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    for t in trials:
        if t.leftover:
            print(f"  leftover ({t.how}, signal at {t.delay} s): {t.leftover}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", help="built-in name or path (az-power-interruption)")
    parser.add_argument("--trials", type=int, default=10, help="per signal (default 10)")
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--window", type=float, default=12.0, help="signal moment bound, s")
    parser.add_argument("--symptoms", type=float, default=20.0, help="GAMEDAY_SYMPTOMS_SECONDS")
    parser.add_argument("--settle", type=float, default=30.0, help="bound on the undo's end")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--signals", default=",".join(SIGNALS), help="a subset, comma separated")
    parser.add_argument("--keep", default=None, help="keep each trial's files in this folder")
    parser.add_argument("--background", action="store_true",
                        help="the fault injections in the background (concurrent)")  # fmt: skip
    args = parser.parse_args()
    from gameday.catalog import resolve_experiment
    from sandbox.server import running_sandbox

    experiment = resolve_experiment(args.experiment)
    keep = tempfile.TemporaryDirectory(prefix="bench-scenario-bg-")
    if args.background:
        experiment = _in_background(experiment, Path(keep.name))
    rng = random.Random(args.seed)
    trials: list[Trial] = []
    chosen = [how for how in args.signals.split(",") if how]
    unknown = sorted(set(chosen) - set(SIGNALS))
    if unknown:
        parser.error(f"unknown signal {unknown[0]!r} (known: {', '.join(SIGNALS)})")
    with tempfile.TemporaryDirectory(prefix="bench-scenario-") as scratch:
        tmp = args.keep or scratch
        with running_sandbox(time_scale=args.time_scale) as (_box, topology):
            for n in range(args.trials):
                for how in chosen:
                    workdir = Path(tmp) / f"{how}-{n:02d}"
                    workdir.mkdir(parents=True)
                    done = trial(
                        topology, experiment, how, rng.uniform(0, args.window), workdir, args
                    )
                    trials.append(done)
                    print(f"  {how} #{n}: signal at {done.delay} s, {done.in_place} fault(s) "
                          f"in place, exit {done.exit_code}, leftover {done.leftover or 'none'}",
                          flush=True)  # fmt: skip
    print_table(experiment.stem, trials, args)
    keep.cleanup()
    return 1 if any(t.leftover for t in trials) else 0


if __name__ == "__main__":
    sys.exit(main())
