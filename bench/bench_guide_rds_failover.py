"""One forced RDS failover in the sandbox, three figures side by side.

- the RTO the DR guide's own ``test_rds_failover.py`` reports (it forces the failover,
  then polls describe-db-instances every 10 s; extracted from the guide, run unchanged);
- the RTO our measurement reports (``probes.samplers`` with a ``PostgresCheck`` on the
  described endpoint at 4 Hz, K = 3, ``probes.recovery.compute_rto``, t0 = the reboot);
- the ground truth: the emulated failover window (from the RDS emulation's own
  transitions, monotonic).

    python bench/bench_guide_rds_failover.py --guide PATH/TO/GUIDE.md [--time-scale 1]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from probes.checks import PostgresCheck
from probes.recovery import compute_rto
from probes.samplers import Cadence, Sampler
from sandbox.envfile import FIXED
from sandbox.server import Sandbox

HZ = 4.0
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def extract_script(guide_text: str, file_name: str) -> str:
    for block in FENCE.findall(guide_text):
        docstring = re.search(r'"""\s*(\S+)', block)
        if docstring and docstring.group(1) == file_name:
            return block
    raise SystemExit(f"no ```python block for {file_name} in the guide")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guide", default=os.environ.get("GAMEDAY_DR_GUIDE"), required=False)
    parser.add_argument("--time-scale", type=float, default=1.0)
    args = parser.parse_args()
    if not args.guide:
        raise SystemExit("--guide: the DR guide's markdown file (or set GAMEDAY_DR_GUIDE)")
    source = extract_script(Path(args.guide).read_text(errors="replace"), "test_rds_failover.py")
    transitions: list[tuple[float, bool]] = []
    box = Sandbox(time_scale=args.time_scale)
    with box as topology:
        box.rds.on_change(
            lambda _db, available, _az: transitions.append((time.monotonic(), available))
        )
        executor = ThreadPoolExecutor(max_workers=8)
        sampler = Sampler("postgres", PostgresCheck(topology.db_dsn), 0.8 / HZ, executor)
        cadence = Cadence(1 / HZ, sampler.tick, "postgres")
        cadence.start()
        with tempfile.TemporaryDirectory() as folder:
            script = Path(folder) / "test_rds_failover.py"
            script.write_text(source)
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": folder,
                "AWS_ENDPOINT_URL": topology.endpoint_url,
                "AWS_DEFAULT_REGION": topology.region,
                "PYTHONIOENCODING": "utf-8",
                **{k: FIXED[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")},
                "AWS_SESSION_TOKEN": FIXED["AWS_SESSION_TOKEN"],
            }
            out = subprocess.run(
                [sys.executable, str(script)],
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
                check=True,
            ).stdout
        deadline = time.monotonic() + 30
        down = next((t for t, ok in transitions if not ok), None)
        while time.monotonic() < deadline and down is not None:
            if compute_rto(sampler.samples(), down, 1 / HZ, 3).recovered:
                break
            threading.Event().wait(0.1)
        cadence.stop()
        sampler.finalize(1.0)
        executor.shutdown(wait=True)
    up = next((t for t, ok in transitions if ok), None)
    found = re.search(r"Instance available! RTO: ([0-9.]+) seconds", out)
    guide = float(found.group(1)) if found else None
    ours = None if down is None else compute_rto(sampler.samples(), down, 1 / HZ, 3).measured_s
    truth = None if down is None or up is None else up - down
    print(
        f"time scale {args.time_scale}; one forced failover (reboot-db-instance --force-failover)"
    )
    print(f"{'':28}{'RTO s':>8}{'minus truth s':>15}")
    for name, value in (
        ("emulated window (truth)", truth),
        ("guide test_rds_failover.py", guide),
        (f"ours {HZ:g} Hz, K=3", ours),
    ):
        text = "-" if value is None else f"{value:8.2f}"
        delta = "-" if value is None or truth is None else f"{value - truth:+15.2f}"
        print(f"{name:28}{text:>8}{delta:>15}")


if __name__ == "__main__":
    main()
