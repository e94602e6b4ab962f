"""Benchmark: the RDS restore drill from the DR region's AWS Backup copy in the sandbox.

Starts a sandbox at ``--time-scale`` (default the demo's 0.05) whose backup plan runs
every ``--backup-interval`` seconds before scaling (default 600: the plan's daily
schedule would not fire during one drill; the copy keeps its default duration,
:data:`sandbox.backup.recovery_points.COPY_DURATION_S`), runs the real ``chaos run`` of
``experiments/rds-restore-drill.yaml`` with ``GAMEDAY_RESTORE_SOURCE=backup-copy`` and
prints the restore RTO (and its phases), the restore RPO from the write markers, the
recovery point's age at the restore call and the verification, as the journal has them.

    python bench/bench_backup_copy_drill.py [--time-scale 0.05] [--backup-interval 600]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--backup-interval", type=float, default=600.0)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from sandbox.orchestrator import Sandbox
    from tests.helpers.executables import chaos_executable

    with tempfile.TemporaryDirectory(prefix="bench-backup-copy-") as folder:
        work = Path(folder)
        twin = Sandbox(time_scale=args.time_scale, backup_interval_seconds=args.backup_interval)
        topology = twin.start()
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
            env.update(topology.env())
            env.update(
                GAMEDAY_LEDGER=str(work / "ledger.jsonl"),
                GAMEDAY_RESTORE_SOURCE="backup-copy",
                GAMEDAY_RESTORE_TIMEOUT="900",
            )
            began = time.monotonic()
            done = subprocess.run(
                [chaos_executable(), "--no-log-file", "--no-version-check", "run",
                 "--journal-path", str(work / "journal.json"),
                 str(ROOT / "experiments" / "rds-restore-drill.yaml")],
                env=env, capture_output=True, text=True, timeout=1800,
            )  # fmt: skip
            wall = time.monotonic() - began
        finally:
            twin.stop()
        if not (work / "journal.json").exists():
            print(done.stdout[-2000:], done.stderr[-2000:])
            return 1
        recovery = json.loads((work / "journal.json").read_text())["recovery"]
    restore, rto, rpo = recovery["restore"], recovery["rto"], recovery["rpo"]
    point = restore.get("recovery_point") or {}
    print(f"time scale {args.time_scale:g}, backup every {args.backup_interval:g} s (scaled "
          f"{args.backup_interval * args.time_scale:g} s); chaos run exit {done.returncode}, "
          f"wall {wall:.1f} s")  # fmt: skip
    print(f"recovery point {point.get('arn')} created {point.get('created')} "
          f"(copy completed {point.get('completed')})")  # fmt: skip
    phases = ", ".join(f"{p['name']} {p['at_s']:.2f}s" for p in restore["phases"])
    print(f"restore RTO {rto['measured_s']} s (resolution {rto['resolution_s']} s, met "
          f"{rto['met']}); phases: {phases}")  # fmt: skip
    print(f"restore RPO {rpo['measured_s']} s (resolution {rpo['resolution_s']} s, lost "
          f"{rpo['lost']} of {rpo['acknowledged']} acknowledged, met {rpo['met']}); recovery "
          f"point age at the restore call {point.get('age_at_drill_start_s')} s")  # fmt: skip
    print(f"verification {restore['verification']}; deleted {restore['deleted']}")
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
