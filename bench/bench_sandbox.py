"""Sandbox start/stop time and memory.

    python bench/bench_sandbox.py [--runs 3] [--time-scale 0.05]

Prints, for ``runs`` start/stop cycles in this process: each start and stop time, the
median start (the first one also pays the imports and moto's lazy backend loading, so
the warm median is shown apart), and the process's peak RSS (``resource.getrusage``;
PostgreSQL runs in its own processes and is not counted).
"""

from __future__ import annotations

import argparse
import logging
import resource
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox.server import Sandbox  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.05)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    starts, stops = [], []
    threads_before = threading.active_count()
    for run in range(args.runs):
        sandbox = Sandbox(time_scale=args.time_scale)
        began = time.perf_counter()
        topology = sandbox.start()
        started = time.perf_counter()
        threads_running = threading.active_count()
        sandbox.stop()
        stopped = time.perf_counter()
        starts.append(started - began)
        stops.append(stopped - started)
        print(
            f"run {run + 1}: start {starts[-1]:.2f}s  stop {stops[-1]:.2f}s  "
            f"threads while running {threads_running}  missing {topology.missing or 'none'}"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"start: median {statistics.median(starts):.2f}s over {args.runs} runs", end="")
    if len(starts) > 1:
        print(f" (first, cold: {starts[0]:.2f}s; warm median {statistics.median(starts[1:]):.2f}s)")
    else:
        print()
    print(f"stop: median {statistics.median(stops):.2f}s, max {max(stops):.2f}s")
    print(f"threads: before {threads_before}, after {threading.active_count()}")
    print(f"peak RSS: {peak_mb:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
