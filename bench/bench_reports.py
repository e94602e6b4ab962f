"""Render time and report size for journals with 1 000, 10 000 and 100 000 samples.

    python bench/bench_reports.py

Goal: under 2 s and under 2 MB at 100 000 samples. Prints a table; asserts nothing.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "journals"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DATA))

from recovery_blocks import recovery_block  # noqa: E402

from reports import load_journals, render_html, write_junit  # noqa: E402
from reports.journal import parse_time  # noqa: E402


def make_journal(samples: int, base: dict) -> dict:
    journal = copy.deepcopy(base)
    injected = parse_time(journal["recovery"]["fault"]["injected_at"])
    interval = 0.05
    journal["recovery"] = recovery_block(
        service="rds-analytics",
        injected_at=injected,
        reverted_at=None,
        rto_s=samples * interval * 0.4,
        samples=samples,
        interval=interval,
        outage_start_s=samples * interval * 0.1,
        flaps=samples // 1000,
        lag={"p50": 0.8, "p99": 1.9, "max": 2.4},
    )
    return journal


def main() -> None:
    base = json.loads((DATA / "completed-met.json").read_text())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for samples in (1_000, 10_000, 100_000):
            path = Path(tmp) / f"journal-{samples}.json"
            path.write_text(json.dumps(make_journal(samples, base)))
            best = None
            for _ in range(3):
                start = time.perf_counter()
                journals, errors = load_journals([path])
                loaded = time.perf_counter()
                out = render_html(journals, Path(tmp) / f"report-{samples}.html")
                rendered = time.perf_counter()
                write_junit(journals, Path(tmp) / "junit.xml")
                assert not errors
                timing = (loaded - start, rendered - loaded)
                best = timing if best is None or sum(timing) < sum(best) else best
            rows.append((samples, path.stat().st_size, *best, out.stat().st_size))
    print(
        f"{'samples':>8} {'journal':>10} {'load s':>8} {'render s':>9} {'total s':>8} {'html':>10}"
    )
    for samples, journal_size, load_s, render_s, html_size in rows:
        print(
            f"{samples:>8} {journal_size / 1e6:>8.2f}MB {load_s:>8.3f} {render_s:>9.3f} "
            f"{load_s + render_s:>8.3f} {html_size / 1e3:>8.1f}KB"
        )
    samples, _, load_s, render_s, html_size = rows[-1]
    verdict = "OK" if load_s + render_s < 2 and html_size < 2e6 else "OVER GOAL"
    print(f"goal at {samples} samples: < 2 s and < 2 MB -> {verdict}")


if __name__ == "__main__":
    main()
