"""Run one experiment with the real Chaos Toolkit CLI and collect what it left.

Each experiment is its own ``chaos run`` process (the unit a nightly fleet schedules),
with ``--rollback-strategy always`` and the ledger under the output folder. Progress
is read from chaos' own log lines: which phase, which activity, elapsed time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaosaws_ext.core.redaction import (
    environment_secret_values,
    mask_text,
    secret_values_from_var_files,
)
from chaosaws_ext.ledger import Ledger
from gameday.cancellation import Cancellation

__all__ = ["RunOutcome", "run_experiment", "PHASE_PATTERNS"]

logger = logging.getLogger("gameday")

PHASE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"Steady-state strategy|Steady state hypothesis: (.*)"), "hypothesis"),
    (re.compile(r"Playing your experiment's method now"), "method"),
    (re.compile(r"Let's rollback"), "rollbacks"),
    (re.compile(r"Experiment ended with status: (\w+)"), "ended"),
)
ACTIVITY = re.compile(r"(Action|Probe|Rollback): (.*)")
UNDO_GRACE_S = 300.0  # after the timeout's interrupt, time left to undo before a kill


@dataclass
class RunOutcome:
    name: str
    journal_path: Path
    log_path: Path
    exit_code: int
    run_id: str
    journal: dict[str, Any] | None = None
    unreverted: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    cancelled: bool = False  # the game day was cancelled while this experiment ran
    started: bool = True  # False: cancelled before it started

    @property
    def status(self) -> str:
        if not self.started:
            return "not started"
        if self.journal is None:
            return "no journal"
        status = self.journal.get("status") or "interrupted"
        if self.journal.get("deviated"):
            return "deviated"
        return str(status)


def _chaos_command(experiment: Path, journal: Path, log: Path, var_files: list[Path]) -> list[str]:
    command = [
        _chaos_executable(),
        "--no-version-check",
        "--log-file",
        str(log),
        "run",
        "--journal-path",
        str(journal),
        "--rollback-strategy",
        "always",
    ]
    for var_file in var_files:
        command += ["--var-file", str(var_file)]
    command.append(str(experiment))
    return command


def _chaos_executable() -> str:
    candidate = Path(sys.executable).with_name("chaos")
    return str(candidate) if candidate.exists() else "chaos"


def run_experiment(
    name: str,
    experiment: Path,
    out_dir: Path,
    var_files: list[Path],
    env: dict[str, str] | None = None,
    progress: Callable[[str, str, float], None] | None = None,
    timeout_s: float = 1800,
    cancel: Cancellation | None = None,
) -> RunOutcome:
    """Run ``experiment`` to its end; forward SIGINT/SIGTERM to it (through ``cancel``
    when given: the game day's handler); never leave it running."""
    out_dir.mkdir(parents=True, exist_ok=True)
    journal = out_dir / f"{name}.journal.json"
    log = out_dir / f"{name}.chaos.log"
    ledger = out_dir / "ledger.jsonl"
    run_id = f"{name}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env["GAMEDAY_LEDGER"] = str(ledger.resolve())
    child_env["GAMEDAY_RUN_ID"] = run_id
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    journal.unlink(missing_ok=True)
    _create_private(log)  # chaos appends to it: it keeps the mode 0600 we give it
    secrets = _known_secrets(experiment, var_files, child_env)
    command = _chaos_command(experiment, journal, log, var_files)
    logger.debug("running %s", " ".join(command))
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env,
        cwd=os.getcwd(),
        start_new_session=True,  # our signal handler decides what reaches it
    )
    reader = threading.Thread(
        target=_follow, args=(process, name, started, progress, secrets), daemon=True
    )
    reader.start()
    if cancel is not None:
        cancel.attach(process)
        forwarded = cancel.detach
    else:
        forwarded = _forward_signals(process)
    try:
        exit_code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        logger.error("%s exceeded %ss: interrupting it so it undoes its fault", name, timeout_s)
        process.send_signal(signal.SIGTERM)  # reaches chaos even when SIGINT is ignored
        try:
            exit_code = process.wait(timeout=UNDO_GRACE_S)
        except subprocess.TimeoutExpired:
            logger.error(
                "%s still running %ss after the interrupt: killing it (its undo is left "
                "in the ledger for `gameday recover`)",
                name,
                UNDO_GRACE_S,
            )
            os.killpg(process.pid, signal.SIGKILL)
            exit_code = process.wait()
    finally:
        forwarded()
        reader.join(timeout=5)
    outcome = RunOutcome(
        name,
        journal,
        log,
        exit_code,
        run_id,
        elapsed_s=time.monotonic() - started,
        cancelled=cancel is not None and cancel.stopped_running,
    )
    if journal.exists():
        try:
            outcome.journal = json.loads(journal.read_text())
        except json.JSONDecodeError as error:
            logger.error("journal %s is not JSON: %s", journal, error)
    outcome.unreverted = [e.describe() for e in Ledger(ledger).unreverted(run_id=run_id)]
    return outcome


def _follow(
    process: subprocess.Popen[str],
    name: str,
    started: float,
    progress: Callable[[str, str, float], None] | None,
    secrets: list[str],
) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        line = mask_text(line.rstrip(), secrets)
        logger.debug("[%s] %s", name, line)
        if progress is None:
            continue
        elapsed = time.monotonic() - started
        for pattern, phase in PHASE_PATTERNS:
            match = pattern.search(line)
            if match:
                detail = match.group(1) if match.groups() and match.group(1) else ""
                progress(phase, detail, elapsed)
                break
        else:
            activity = ACTIVITY.search(line)
            if activity:
                progress(activity.group(1).lower(), activity.group(2), elapsed)


def _create_private(log: Path) -> None:
    """The chaos log holds what the run logged: owner-only, like a credentials file."""
    os.close(os.open(log, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
    log.chmod(0o600)


def _known_secrets(experiment: Path, var_files: list[Path], env: dict[str, str]) -> list[str]:
    """Secret values this process can know before chaos runs (var files, environment),
    masked in what we tee from chaos' output (the control masks the rest in chaos)."""
    try:
        declared = yaml.safe_load(experiment.read_text())
    except (OSError, yaml.YAMLError):
        declared = None
    values = set(environment_secret_values(env))
    try:
        values.update(
            secret_values_from_var_files(
                var_files, declared if isinstance(declared, dict) else None
            )
        )
    except (OSError, ValueError, yaml.YAMLError) as error:
        logger.debug("var files not read for masking: %s", error)
    return sorted(values, key=lambda v: (-len(v), v))


def _forward_signals(process: subprocess.Popen[str]) -> Callable[[], None]:
    """SIGINT/SIGTERM to gameday reach chaos, whose control undoes the fault."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def forward(signum: int, _frame: object) -> None:
        logger.warning("signal %s: asking %s to stop and undo", signum, process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # SIGINT may be ignored by the child

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
