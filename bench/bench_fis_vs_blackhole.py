"""Our AZ blackhole against FIS's (aws:network:disrupt-connectivity), through the same
measurement, side by side in one sandbox.

Alternately, ``--repeat`` times each, the real ``chaos run`` of
``experiments/az-nacl-blackhole.yaml`` and ``experiments/fis-az-disrupt-connectivity.yaml``
against one sandbox (``--time-scale``), every AWS call of our clients recorded
(tests/helpers/aws_calls.py), and the calls the sandbox's FIS makes with its experiment
role too. Printed per experiment: median RTO as our measurement reports it (and FIS's
set-up time, its action's initiating phase), our API calls, FIS's API calls, the wall
time of the whole ``chaos run``; then FIS/ours ratios.

    python bench/bench_fis_vs_blackhole.py [--repeat 3] [--time-scale 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sandbox.server import running_sandbox  # noqa: E402
from tests.helpers import aws_calls  # noqa: E402
from tests.helpers.sandbox_state import var_file as var_file_of  # noqa: E402

OURS = "az-nacl-blackhole"
FIS = "fis-az-disrupt-connectivity"


def _run(name: str, topology: Any, folder: Path, index: int) -> dict[str, Any]:
    work = folder / f"{name}-{index}"
    work.mkdir()
    calls = work / "calls.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GAMEDAY_"))}
    env.update(aws_calls.recording_env(calls), PYTHONPATH=str(REPO))
    var_file = var_file_of(topology, work / "run.env", GAMEDAY_LEDGER=str(work / "ledger.jsonl"))
    journal = work / "journal.json"
    started = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("chaos")), "--no-version-check", "--no-log-file",
         "run", "--var-file", str(var_file), "--journal-path", str(journal),
         str(REPO / "experiments" / f"{name}.yaml")],
        cwd=work, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{name}: chaos run failed\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    rto = json.loads(journal.read_text())["recovery"]["rto"]
    return {
        "rto": rto["measured_s"],
        "setup": (rto.get("phases") or {}).get("fis_action_running_s"),
        "calls": len(aws_calls.load_calls(calls)),
        "wall": wall,
    }


def _median(values: list[Any]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-scale", type=float, default=0.05)
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {OURS: [], FIS: []}
    fis_calls: list[int] = []
    with (
        tempfile.TemporaryDirectory() as folder,
        running_sandbox(time_scale=args.time_scale) as (box, topology),
    ):
        role_calls = Path(folder) / "fis-role-calls.jsonl"
        make = box.fis._make_client
        box.fis._make_client = lambda s, r: _hooked(make(s, r), role_calls)
        for index in range(args.repeat):
            results[OURS].append(_run(OURS, topology, Path(folder), index))
            before = len(aws_calls.load_calls(role_calls))
            results[FIS].append(_run(FIS, topology, Path(folder), index))
            fis_calls.append(len(aws_calls.load_calls(role_calls)) - before)
    print(f"time scale {args.time_scale}, {args.repeat} run(s) each, medians")
    header = f"{'experiment':30} {'RTO s':>7} {'FIS set-up s':>12} {'our calls':>9} "
    print(header + f"{'FIS role calls':>14} {'wall s':>7}")
    medians = {}
    for name, runs in results.items():
        m = {key: _median([run[key] for run in runs]) for key in ("rto", "setup", "calls", "wall")}
        m["fis"] = _median(fis_calls) if name == FIS else 0
        medians[name] = m
        setup = "-" if m["setup"] is None else f"{m['setup']:.2f}"
        print(f"{name:30} {m['rto']:7.2f} {setup:>12} {m['calls']:9.0f} {m['fis']:14.0f} "
              f"{m['wall']:7.1f}")  # fmt: skip
    ours, theirs = medians[OURS], medians[FIS]
    ratios = [f"{key} x{_ratio(theirs[key], ours[key])}" for key in ("rto", "calls", "wall")]
    print("FIS/ours: " + ", ".join(ratios))
    print("each run:", json.dumps(results))


def _ratio(theirs: float | None, ours: float | None) -> str:
    return f"{theirs / ours:.2f}" if theirs is not None and ours else "-"


def _hooked(client: Any, path: Path) -> Any:
    aws_calls.install_into(client, path)
    return client


if __name__ == "__main__":
    main()
