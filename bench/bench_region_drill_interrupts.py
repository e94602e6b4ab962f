"""Interrupt trials of the Full DR drill: does every ending leave AWS as it found it?

For each of SIGINT, SIGTERM and SIGKILL + ``gameday recover --ledger`` (and SIGKILL +
``gameday recover --by-tag`` with the ledger deleted): ``--trials`` real ``chaos run``s of
experiments/region-failover-drill.yaml against one sandbox (time scale ``--time-scale``,
failback windows ``--window`` s), each signalled at a random moment of the run (seeded),
which lands anywhere from the health-check block to the last failback step. Once the run
(and the recover) has ended, the state the drill touches is read from AWS (moto) and
compared with the state before: every record set of the zone (the failover pair, no
``_chaos-gameday`` TXT record), the primary listener's rules, the replica's resource
policy, the run's write markers in both regions, the target-lock items.

Leftovers = trials whose state differs (goal 0). Printed: per ending, trials, leftovers,
the signal's moments (s after start) and how long the run took to end after it.

    python bench/bench_region_drill_interrupts.py [--trials 10] [--seed 7]
        [--time-scale 0.02] [--window 2] [--latest 9]
        [--endings SIGINT,SIGTERM,SIGKILL,SIGKILL-by-tag]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.envfile import parse_env  # noqa: E402
from tests.helpers.sandbox_state import drill_state, listener_rules, locks, our_items  # noqa: E402
from tests.helpers.sandbox_state import var_file as write_var_file  # noqa: E402

CHAOS = str(Path(sys.executable).with_name("chaos"))
GAMEDAY = str(Path(sys.executable).with_name("gameday"))
EXPERIMENT = ROOT / "experiments" / "region-failover-drill.yaml"
ENDINGS = ("SIGINT", "SIGTERM", "SIGKILL", "SIGKILL-by-tag")


def bench_state(topology: Any) -> dict[str, Any]:
    """The drill's resources (tests.helpers.sandbox_state.drill_state), every listener
    rule of both regions by id, our marker items and lock items."""
    return {
        **drill_state(topology),
        "listener rule ids": listener_rules(topology),
        "markers": our_items(topology),
        "lock items": len(locks(topology)),
    }


def _differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [key for key in before if before[key] != after[key]]


def _recover(env: dict[str, str], ledger: Path, by_tag: bool) -> int:
    args = ["recover", "--by-tag", "--force", "--experiment", str(EXPERIMENT)] if by_tag else [
        "recover", "--ledger", str(ledger)
    ]  # fmt: skip
    if by_tag:
        args += ["--var-file", env["_VAR_FILE"]]
    done = subprocess.run([GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=180)
    return done.returncode


def trial(topology: Any, ending: str, at: float, workdir: Path, window: float) -> dict[str, Any]:
    """One run signalled ``at`` s after its start; its outcome."""
    workdir.mkdir(parents=True)
    ledger = workdir / "ledger.jsonl"
    var_file = write_var_file(
        topology,
        workdir / "drill.env",
        GAMEDAY_LEDGER=str(ledger),
        GAMEDAY_FAILBACK_WINDOW_10=str(window),
        GAMEDAY_FAILBACK_WINDOW_50=str(window),
        GAMEDAY_CATCHUP_WINDOW="1",
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    before = bench_state(topology)
    started = time.monotonic()
    process = subprocess.Popen(
        [CHAOS, "--no-version-check", "--log-file", str(workdir / "chaos.log"), "run",
         "--journal-path", str(workdir / "journal.json"), "--var-file", str(var_file),
         str(EXPERIMENT)],
        cwd=workdir, env=base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        process.wait(timeout=at)
        signalled = None  # ended before the moment
    except subprocess.TimeoutExpired:
        how = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}.get(ending, signal.SIGKILL)
        process.send_signal(how)
        signalled = time.monotonic()
        try:
            process.wait(timeout=180)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    ended = time.monotonic()
    recovered = None
    if ending.startswith("SIGKILL") and signalled is not None:
        env = {**base, **parse_env(var_file.read_text()), "_VAR_FILE": str(var_file)}
        if ending == "SIGKILL-by-tag":
            ledger.unlink(missing_ok=True)
        recovered = _recover(env, ledger, by_tag=ending == "SIGKILL-by-tag")
    after = bench_state(topology)
    return {
        "ending": ending,
        "at_s": round(at, 2),
        "signalled": signalled is not None,
        "exit": process.returncode,
        "end_after_signal_s": None if signalled is None else round(ended - signalled, 2),
        "run_s": round(ended - started, 2),
        "recover_rc": recovered,
        "left": _differences(before, after),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--time-scale", type=float, default=0.02)
    parser.add_argument("--window", type=float, default=2.0)
    parser.add_argument("--endings", default=",".join(ENDINGS))
    # a whole run takes about 10 s at the defaults (0.02, 2 s windows): the signal lands
    # uniformly in [1, latest] s, from the health-check block to the last failback step
    parser.add_argument("--latest", type=float, default=9.0, help="latest signal moment (s)")
    args = parser.parse_args()
    endings = [e for e in args.endings.split(",") if e]
    unknown = sorted(set(endings) - set(ENDINGS))
    if unknown:
        parser.error(f"unknown ending {unknown[0]!r} (known: {', '.join(ENDINGS)})")
    rng = random.Random(args.seed)
    from sandbox.server import running_sandbox

    results: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="drill-interrupts-") as tmp,
        running_sandbox(time_scale=args.time_scale) as (_box, topology),
    ):
        for ending in endings:
            for n in range(args.trials):
                at = rng.uniform(1.0, args.latest)
                result = trial(topology, ending, at, Path(tmp) / f"{ending}-{n}", args.window)
                results.append(result)
                print(json.dumps(result), flush=True)
    print()
    print(f"{'ending':<16}{'trials':>7}{'signalled':>10}{'leftovers':>10}"
          f"{'end after signal (median, max)':>34}")  # fmt: skip
    for ending in endings:
        rows = [r for r in results if r["ending"] == ending]
        waits = [r["end_after_signal_s"] for r in rows if r["end_after_signal_s"] is not None]
        spread = f"{statistics.median(waits):.2f} s, {max(waits):.2f} s" if waits else "-"
        left = sum(1 for r in rows if r["left"])
        signalled = sum(1 for r in rows if r["signalled"])
        print(f"{ending:<16}{len(rows):>7}{signalled:>10}{left:>10}{spread:>34}")
    print(f"\nleftovers in all: {sum(1 for r in results if r['left'])} of {len(results)} trials")


if __name__ == "__main__":
    main()
