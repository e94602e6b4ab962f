"""Produce sample journals with the real ``chaos run`` CLI (chaostoolkit 1.19).

    python tests/data/journals/generate.py [OUTDIR]   # default: this folder

Runs tiny experiments whose python providers live in ``journal_providers.py`` and gets
completed, deviated, failed, interrupted (SIGINT to the chaos process) and
pre-hypothesis-failed journals; then adds a synthetic ``recovery`` block (see
``recovery_blocks.py``) to some of them and writes a small nightly history for the trend.
The e2e test calls ``generate`` into a tmp folder, so fixtures never drift far from what
chaos really writes.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from recovery_blocks import recovery_block  # noqa: E402

__all__ = ["ENV_TOKEN", "INLINE_PASSWORD", "VAR_FILE_SECRET", "generate", "run_chaos"]

INLINE_PASSWORD = "inline-pw-4f9a7c"
ENV_TOKEN = "envtok-93b1e6d0"
VAR_FILE_SECRET = "varfile-secret-77aa"
ENV_NAME = "REPORTS_SAMPLE_TOKEN"


def _probe(name: str, func: str, tolerance: Any, **arguments: Any) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": "python", "module": "journal_providers", "func": func}
    if arguments:
        provider["arguments"] = arguments
    return {"type": "probe", "name": name, "tolerance": tolerance, "provider": provider}


def _action(name: str, func: str, **arguments: Any) -> dict[str, Any]:
    provider: dict[str, Any] = {"type": "python", "module": "journal_providers", "func": func}
    if arguments:
        provider["arguments"] = arguments
    return {"type": "action", "name": name, "provider": provider}


def _experiment(title: str, probes: list, method: list, rollbacks: list) -> dict[str, Any]:
    return {
        "version": "1.0.0",
        "title": title,
        "description": "sample experiment for the reports tests",
        "steady-state-hypothesis": {"title": "service healthy", "probes": probes},
        "method": method,
        "rollbacks": rollbacks,
    }


def run_chaos(
    experiment: dict[str, Any],
    workdir: Path,
    name: str,
    *,
    var_files: list[Path] = (),  # type: ignore[assignment]
    extra_env: dict[str, str] | None = None,
    sigint_when: Path | None = None,
    rollback_strategy: str = "default",
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Run ``chaos run`` on ``experiment``; with ``sigint_when``, send SIGINT to the chaos
    process once that file exists (bounded wait). Returns the journal."""
    workdir.mkdir(parents=True, exist_ok=True)
    experiment_path = workdir / f"{name}.json"
    experiment_path.write_text(json.dumps(experiment, indent=2), encoding="utf-8")
    journal_path = workdir / f"{name}.journal.json"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(extra_env or {})
    command = [
        sys.executable,
        "-m",
        "chaostoolkit",
        "--no-log-file",
        "run",
        "--journal-path",
        str(journal_path),
        "--rollback-strategy",
        rollback_strategy,
    ]
    for var_file in var_files:
        command += ["--var-file", str(var_file)]
    command.append(str(experiment_path))
    process = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        if sigint_when is not None:
            deadline = time.monotonic() + timeout
            while not sigint_when.exists():
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{name}: {sigint_when} never appeared")
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
        process.wait(timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    if not journal_path.exists():
        raise RuntimeError(f"{name}: chaos wrote no journal (exit {process.returncode})")
    return json.loads(journal_path.read_text(encoding="utf-8"))


def _activity_end(journal: dict[str, Any], section: str, name: str) -> datetime | None:
    for run in journal.get(section) or []:
        if run.get("activity", {}).get("name") == name and run.get("end"):
            return datetime.fromisoformat(run["end"])
    return None


def _start(journal: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(journal["start"])


def generate(outdir: Path, workdir: Path | None = None) -> dict[str, Path]:
    """Write the sample journals into ``outdir``; return name -> path."""
    outdir.mkdir(parents=True, exist_ok=True)
    workdir = workdir or outdir / ".work"
    workdir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}

    def save(name: str, journal: dict[str, Any]) -> None:
        path = outdir / f"{name}.json"
        path.write_text(json.dumps(journal, indent=1) + "\n", encoding="utf-8")
        written[name] = path

    healthy = [_probe("app-responds", "always", 1, value=1)]
    undo = [_action("revert-fault", "always")]
    secrets_env = {ENV_NAME: ENV_TOKEN}

    # 1. completed, targets met; dynamic configuration copies resolved secrets in
    experiment = _experiment(
        "RDS Multi-AZ failover",
        healthy,
        [_action("inject-rds-failover", "always", value=2)],
        undo,
    )
    experiment["configuration"] = {
        "service_url": {
            "type": "probe",
            "provider": {"type": "python", "module": "journal_providers", "func": "service_url"},
        }
    }
    experiment["secrets"] = {
        "db": {"password": INLINE_PASSWORD, "api_token": {"type": "env", "key": ENV_NAME}}
    }
    journal = run_chaos(experiment, workdir, "completed", extra_env=secrets_env)
    t0 = _activity_end(journal, "run", "inject-rds-failover")
    journal["recovery"] = recovery_block(
        service="rds-analytics",
        injected_at=t0,
        reverted_at=_activity_end(journal, "rollbacks", "revert-fault"),
        rto_s=41.25,
        rpo_s=0.0,
        samples=240,
    )
    save("completed-met", journal)
    completed = journal

    # 2. deviated: the after-hypothesis fails; RTO and RPO both missed, AWS, lag
    flag = workdir / "deviated.flag"
    flag.unlink(missing_ok=True)
    experiment = _experiment(
        "DynamoDB regional outage",
        [_probe("orders-table-reachable", "flag_absent", True, path=str(flag))],
        [_action("blackhole-dynamodb", "raise_flag", path=str(flag))],
        undo,
    )
    journal = run_chaos(experiment, workdir, "deviated")
    t0 = _activity_end(journal, "run", "blackhole-dynamodb")
    journal["recovery"] = recovery_block(
        service="orders-dynamodb",
        injected_at=t0,
        reverted_at=_activity_end(journal, "rollbacks", "revert-fault"),
        rto_target=30,
        rpo_target=1,
        rto_s=47.5,
        rpo_s=3.4,
        lost=17,
        interval=0.25,
        samples=260,
        environment="aws",
        region="eu-west-1",
        account="123456789012",
        lag={"p50": 0.8, "p99": 2.9, "max": 3.6},
        fault_name="dynamodb-blackhole",
        flaps=3,
    )
    save("deviated-missed", journal)

    # 3. failed: a before-hypothesis probe raises
    experiment = _experiment(
        "NACL blackhole of one AZ",
        [_probe("app-responds", "boom", 1, value=1)],
        [_action("blackhole-az", "always")],
        undo,
    )
    journal = run_chaos(experiment, workdir, "failed")
    journal["recovery"] = recovery_block(
        service="web-alb",
        injected_at=None,
        reverted_at=None,
        rto_s=None,
        rpo_s=None,
        samples=20,
        fault_name="nacl-blackhole",
    )
    journal["recovery"]["availability"] = None
    save("failed", journal)

    # 4. interrupted: SIGINT to chaos during the fault; rollbacks do not run
    started = workdir / "interrupted.started"
    started.unlink(missing_ok=True)
    experiment = _experiment(
        "ALB target group drain",
        healthy,
        [_action("drain-targets", "slow", seconds=30, started=str(started))],
        undo,
    )
    journal = run_chaos(experiment, workdir, "interrupted", sigint_when=started)
    start = _start(journal)
    journal["recovery"] = recovery_block(
        service="web-alb",
        injected_at=start + timedelta(seconds=0.5),
        reverted_at=None,
        rto_target=120,
        rpo_target=None,
        rto_s=None,
        rpo_s=None,
        samples=60,
        outage_start_s=1.0,
        fault_name="alb-drain",
    )
    save("interrupted", journal)
    # the field notes' variant: a SIGINT journal without any status key
    nostatus = copy.deepcopy(journal)
    nostatus.pop("status", None)
    nostatus["experiment"]["title"] = "ALB target group drain (no status)"
    save("interrupted-nostatus", nostatus)

    # 5. the before-hypothesis tolerance fails: completed, method skipped, no recovery
    experiment = _experiment(
        "Route 53 failover (pre-check fails)",
        [_probe("health-check-green", "always", 2, value=1)],
        [_action("fail-primary", "always")],
        undo,
    )
    save("precheck-skipped", run_chaos(experiment, workdir, "precheck"))

    # 6. a plain chaostoolkit experiment (no recovery) leaking secrets from inline,
    # env and var-file secrets into its output
    var_file = workdir / "vars-with-secrets.json"
    var_file.write_text(
        json.dumps({"secrets": {"vf": {"signing": VAR_FILE_SECRET}}}), encoding="utf-8"
    )
    experiment = _experiment(
        "Plain experiment with secrets",
        healthy,
        [
            {
                **_action("call-api", "echo_secrets"),
                "provider": {
                    "type": "python",
                    "module": "journal_providers",
                    "func": "echo_secrets",
                    "secrets": ["db", "vf"],
                },
            }
        ],
        undo,
    )
    experiment["configuration"] = {"db_dsn": f"postgresql://app:{INLINE_PASSWORD}@db:5432/orders"}
    experiment["secrets"] = {
        "db": {"password": INLINE_PASSWORD, "api_token": {"type": "env", "key": ENV_NAME}},
        "vf": {"signing": "set-by-var-file"},
    }
    journal = run_chaos(experiment, workdir, "secrets", var_files=[var_file], extra_env=secrets_env)
    save("plain-secrets", journal)
    written["var_file"] = var_file

    # 7. a REAL recovery block: the project's measurement control samples a TCP listener
    # that the method closes (the fault) and reopens 1.5 s later
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    experiment = _experiment(
        "TCP listener outage (real measurement control)",
        [_probe("listener-up", "open_listener", True, port=port)],
        [
            _action("close-listener", "close_listener", port=port),
            _action("keep-it-down", "outage", port=port, seconds=1.5, after=1.0),
        ],
        [_action("reopen-listener", "open_listener", port=port)],
    )
    experiment["controls"] = [
        {
            "name": "measurement",
            "provider": {
                "type": "python",
                "module": "chaosaws_ext.controls.measurement",
                "arguments": {
                    "service": "api-gateway",
                    "interval_s": 0.1,
                    "samplers": [{"name": "tcp", "kind": "tcp", "host": "127.0.0.1", "port": port}],
                },
            },
        }
    ]
    save("measured-real", run_chaos(experiment, workdir, "measured"))

    # 8. a small nightly history of experiment 1 for the trend (last run regresses)
    nightly = outdir / "nightly"
    nightly.mkdir(exist_ok=True)
    history = [(12.0, 0.0), (11.5, 0.0), (12.25, 0.0), (11.75, 0.0), (19.0, 0.4)]
    for days_ago, (rto_s, rpo_s) in zip(range(len(history), 0, -1), history, strict=True):
        past = copy.deepcopy(completed)
        shift = timedelta(days=days_ago)
        past["start"] = (_start(completed) - shift).isoformat()
        injected = _start(completed) - shift + timedelta(seconds=0.2)
        past["recovery"] = recovery_block(
            service="rds-analytics",
            injected_at=injected,
            reverted_at=injected + timedelta(seconds=60),
            rto_target=30,
            rpo_target=0.2 if days_ago == 1 else 60,
            rto_s=rto_s,
            rpo_s=rpo_s,
            samples=40,
            interval=1.0,
            seed=days_ago,
        )
        day = (_start(completed) - shift).strftime("%Y-%m-%d")
        path = nightly / f"{day}-rds-failover.json"
        path.write_text(json.dumps(past) + "\n", encoding="utf-8")
        written[f"nightly-{day}"] = path
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    for name, path in generate(target, workdir=Path("/tmp/reports-journal-work")).items():
        print(f"{name}: {path}")
