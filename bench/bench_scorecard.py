"""Scorecard and trend report over a large archived history: time and peak memory.

    python bench/bench_scorecard.py [--journals 1000]

Writes N journals (the repo's fixtures re-dated one per night, four suites in turn) to
a temporary folder, then times, side by side in this one process: loading them, the
scorecard, and the HTML report with the trend and the scorecard. Peak memory of each
step is from tracemalloc (Python allocations only), in a second run of the step.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reports.html import build_report_html  # noqa: E402
from reports.journal import load_journals  # noqa: E402
from reports.plan import load_plan  # noqa: E402
from reports.scorecard import build_scorecard  # noqa: E402
from tests.helpers.journal_history import NOW, SimulatedRun, write_history  # noqa: E402

SUITES = (
    ("completed-met", "rds-forced-failover"),
    ("completed-met", "healthcheck-path-block"),
    ("deviated-missed", "dynamodb-replica-conflict"),
    ("failed", "healthcheck-path-block"),
)


def _measure(step):
    """(result, seconds, peak bytes): timed without tracemalloc (it slows Python code
    several times over), then run once more under it for the peak."""
    started = time.perf_counter()
    result = step()
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--journals", type=int, default=1000)
    count = parser.parse_args().journals
    runs = tuple(
        SimulatedRun(
            SUITES[i % 4][0],
            SUITES[i % 4][1],
            (NOW - timedelta(hours=6 * (count - i))).isoformat(),
            rto_s=10.0 + (i % 7),
        )
        for i in range(count)
    )
    plan = load_plan()
    with tempfile.TemporaryDirectory() as folder:
        write_history(Path(folder), runs)
        (journals, _), load_s, load_peak = _measure(lambda: load_journals([folder]))
        card, card_s, card_peak = _measure(lambda: build_scorecard(journals, plan, now=NOW))
        html, html_s, html_peak = _measure(
            lambda: build_report_html(journals[-4:], trend_journals=journals, plan=plan)
        )
    print(f"journals: {len(journals)} ({card.runs} read by the scorecard)")
    print(f"{'step':<28}{'seconds':>10}{'peak MiB':>10}")
    for name, seconds, peak in (
        ("load journals", load_s, load_peak),
        ("scorecard", card_s, card_peak),
        ("report with trend+scorecard", html_s, html_peak),
    ):
        print(f"{name:<28}{seconds:>10.2f}{peak / 2**20:>10.1f}")
    print(f"report size: {len(html) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
