"""Full four-experiment sandbox game day: wall time and peak memory (prints a table).

    python bench/bench_gameday.py [--runs 3]

Each run is a fresh ``gameday run --sandbox`` process (sandbox start, the four
experiments through the real ``chaos`` CLI, reports, sandbox stop). Peak memory is the
largest resident set of any process of the run that was waited for (the gameday process
or one ``chaos run``), from ``getrusage(RUSAGE_CHILDREN)``. Goal: under 3 minutes.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run() -> tuple[float, float | None, str]:
    with tempfile.TemporaryDirectory(prefix="bench-gameday-") as out:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "gameday", "run", "--sandbox", "--out", out],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        wall = time.monotonic() - started
        up = re.search(r"sandbox up", done.stderr)
        verdicts = " ".join(
            line.split()[-3]
            for line in done.stdout.splitlines()
            if line.startswith(("az-", "rds-", "healthcheck-", "dynamodb-"))
        )
        if done.returncode != 0:
            print(done.stdout, done.stderr[-3000:], file=sys.stderr)
        return wall, None if up is None else 0.0, f"exit {done.returncode}: {verdicts}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    walls = []
    print(f"{'run':>3}  {'wall s':>7}  outcome")
    for index in range(1, args.runs + 1):
        wall, _, outcome = one_run()
        walls.append(wall)
        print(f"{index:>3}  {wall:7.1f}  {outcome}", flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"median wall {statistics.median(walls):.1f} s, max {max(walls):.1f} s "
        f"(goal < 180 s); peak RSS of one process {peak_mib:.0f} MiB"
    )


if __name__ == "__main__":
    main()
