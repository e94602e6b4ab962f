"""Benchmark: the AZ blackhole's measured RTO before and after the recovery window.

One sandbox (time scale 0.05: ALB health checks every 0.5 s, a target unhealthy after 2
failures, so the zone leaves rotation 0.5-1.0 s after the cut), ``--runs`` blackholes of
the primary's first AZ with the real fault action, the API sampled at 10 Hz through the
ALB as the experiment samples it (a round of 3 requests per sample). Each run's samples
are judged both ways side by side: K=3 alone (the rule before) and K=3 with no failure
within the window (3 s, the sandbox env file's GAMEDAY_RECOVERY_WINDOW), against the
ground truth (when the ALB emulation marked the zone's target unhealthy, polled every
2 ms). Every figure is from the cut (the first subnet swap's answer); ``t0 - cut`` is how
much later the fault's t0 stamp (the last swap's answer) came. Error = measured - truth.

    python bench/bench_blackhole_rto.py [--runs 8] [--window 3] [--timeout 0.3]
        [--requests-per-sample 3]   (1: one request per sample, as before)
        [--ec2-consistency]         (off by default: the zone's swaps land together)
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaosaws_ext.core.clients import clear_client_cache  # noqa: E402
from sandbox.server import Sandbox  # noqa: E402
from tests.helpers.blackhole_trial import blackhole_trial  # noqa: E402

HZ = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--timeout", type=float, default=None, help="per sample (0.08 s)")
    parser.add_argument("--requests-per-sample", type=int, default=3)
    parser.add_argument(
        "--ec2-consistency",
        action="store_true",
        help="keep the EC2 eventual-consistency emulation (the swaps then spread out)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    box = Sandbox(
        time_scale=0.05,
        health_check_request_interval=10,
        with_database=False,
        ec2_strictness=None if args.ec2_consistency else False,
    )
    topology = box.start()
    try:
        for key, value in topology.env().items():
            if key.startswith("AWS_"):
                os.environ[key] = value
        clear_client_cache()
        ledger = Path(tempfile.mkdtemp(prefix="bench-rto-")) / "ledger.jsonl"
        configuration = {
            "aws_region": topology.region,
            "chaos_ledger_path": str(ledger),
            "allowed_accounts": topology.account_id,
        }
        rows = []
        print(
            f"{'run':>3} {'truth s':>8} {'K alone s':>10} {'K+window s':>11} {'failed':>7}"
            f" {'t0 - cut s':>10}"
        )
        for run in range(1, args.runs + 1):
            trial = blackhole_trial(
                box,
                configuration,
                hz=HZ,
                after_s=args.window + 1.0,
                timeout_s=args.timeout,
                requests_per_sample=args.requests_per_sample,
            )
            before, after = trial.rto(3), trial.rto(3, args.window)
            failed = sum(1 for s in trial.samples if s.t_mono >= trial.cut and not s.ok)
            rows.append((trial.truth_s, before, after))
            print(
                f"{run:>3} {trial.truth_s:>8.3f} {_fmt(before):>10} {_fmt(after):>11} {failed:>7}"
                f" {trial.t0 - trial.cut:>10.3f}",
                flush=True,
            )
        for label, index in (("K alone", 1), ("K+window", 2)):
            missing = sum(1 for _truth, *figures in rows if figures[index - 1] is None)
            errors = [
                m - truth for truth, *figures in rows if (m := figures[index - 1]) is not None
            ]
            early = sum(1 for e in errors if e < -1 / HZ)
            print(
                f"{label:<9} error vs truth: median {statistics.median(errors):+.3f} s, "
                f"min {min(errors):+.3f} s, max {max(errors):+.3f} s; "
                f"early by more than one interval: {early}/{len(rows)}; "
                f"no recovery within the samples: {missing}/{len(rows)}"
            )
    finally:
        box.stop()


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
