"""``gameday run``: a whole game day, in the sandbox or against an account."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from chaosaws_ext.ledger import Ledger
from gameday.cancellation import Cancellation
from gameday.catalog import DEFAULT_EXPERIMENTS, resolve_experiment
from gameday.errors import UserError
from gameday.runner import RunOutcome, run_experiment
from gameday.summary import run_failed, summary_table

__all__ = ["run_game_day", "GameDayError"]

logger = logging.getLogger("gameday")


class GameDayError(UserError):
    """The game day cannot start (bad input or leftovers from an earlier run)."""


def _sandbox_marker(ledger: Path) -> Path:
    """Names the sandbox a ledger belongs to (its entries describe that sandbox only)."""
    return ledger.with_name(ledger.name + ".sandbox")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _set_aside_gone_sandbox(ledger: Path) -> None:
    """A ledger of a sandbox that no longer exists describes resources that went with it:
    move it aside (kept for reading) so it cannot block this run, and say so."""
    marker = _sandbox_marker(ledger)
    if not marker.exists():
        return
    try:
        owner = json.loads(marker.read_text())
        pid = int(owner["pid"])
    except (ValueError, KeyError, TypeError):
        owner, pid = {}, 0
    if pid and pid != os.getpid() and _process_alive(pid):
        raise GameDayError(
            f"{ledger} belongs to the sandbox of a game day still running (pid {pid}); "
            "wait for it or use another --out"
        )
    left = Ledger(ledger).unreverted() if ledger.exists() else []
    stamp = time.strftime("%Y%m%dT%H%M%S")
    if ledger.exists():
        aside = ledger.with_name(f"{ledger.stem}.sandbox-{stamp}.jsonl")
        ledger.rename(aside)
        if left:
            print(
                f"gameday: {len(left)} unreverted change(s) in {ledger} belong to sandbox "
                f"{owner.get('sandbox', '?')} (pid {pid or '?'}), which is gone with its "
                f"resources: not blocking this run; ledger kept as {aside}",
                file=sys.stderr,
            )
    marker.unlink()


def _claim_for_sandbox(ledger: Path, sandbox_id: str) -> None:
    _sandbox_marker(ledger).write_text(
        json.dumps({"sandbox": sandbox_id, "pid": os.getpid(), "started_at": time.time()})
    )


def _refuse_leftovers(ledger: Path) -> None:
    _set_aside_gone_sandbox(ledger)
    left = Ledger(ledger).unreverted()
    if left:
        names = "; ".join(entry.describe() for entry in left[:3])
        raise GameDayError(
            f"{len(left)} unreverted change(s) in {ledger} from an earlier run ({names}); "
            f"run `gameday recover --ledger {ledger}` first"
        )


def run_game_day(
    experiments: list[str],
    out_dir: Path,
    sandbox: bool,
    var_files: list[Path],
    time_scale: float | None = None,
    pushgateway: str | None = None,
    progress: Callable[[int, int, str], Callable[[str, str, float], None]] | None = None,
) -> int:
    """Run the experiments one after the other (in the sandbox when asked), write the
    reports and print the summary; returns the exit code (1 when any run failed)."""
    names = experiments or list(DEFAULT_EXPERIMENTS)
    paths = [resolve_experiment(name) for name in names]
    out_dir.mkdir(parents=True, exist_ok=True)
    _refuse_leftovers(out_dir / "ledger.jsonl")
    cancel = Cancellation()
    with cancel.installed():  # until the reports are written: a signal never cuts them
        outcomes = _run_all(paths, out_dir, sandbox, var_files, time_scale, progress, cancel)
        if outcomes is None:
            return 128 + int(cancel.signum or signal.SIGINT)
        _write_reports(outcomes, out_dir, pushgateway, var_files)
        print(summary_table(outcomes))
        print(f"\njournals, ledger and reports in {out_dir}/")
    if cancel.requested:
        print(
            f"gameday: cancelled by {cancel.signal_name}: "
            f"{sum(1 for o in outcomes if not o.started)} experiment(s) not started",
            file=sys.stderr,
        )
        return 128 + int(cancel.signum or signal.SIGINT)
    return 1 if any(run_failed(o) for o in outcomes) else 0


def _run_all(
    paths: list[Path],
    out_dir: Path,
    sandbox: bool,
    var_files: list[Path],
    time_scale: float | None,
    progress: Callable[[int, int, str], Callable[[str, str, float], None]] | None,
    cancel: Cancellation,
) -> list[RunOutcome] | None:
    """One outcome per experiment (not started ones after a cancel); None when the
    cancel came during sandbox start-up (cleaned up, nothing ran)."""
    outcomes: list[RunOutcome] = []
    with ExitStack() as stack:
        env: dict[str, str] = {}
        files = list(var_files)
        if sandbox:
            from gameday.sandboxing import start_sandbox

            print("starting the sandbox ...", file=sys.stderr, flush=True)
            try:
                with cancel.interruptible():
                    env_file, env = stack.enter_context(start_sandbox(out_dir, time_scale))
            except KeyboardInterrupt:
                print(
                    f"gameday: {cancel.signal_name or 'interrupted'} during sandbox start-up: "
                    "stopped and cleaned up",
                    file=sys.stderr,
                )
                return None
            _claim_for_sandbox(out_dir / "ledger.jsonl", env.get("AWS_ENDPOINT_URL", "local"))
            files.insert(0, env_file)
            print(f"sandbox up; env file {env_file}", file=sys.stderr, flush=True)
        for index, path in enumerate(paths, start=1):
            short = path.stem
            if cancel.requested:
                outcomes.append(_not_started(short, out_dir))
                continue
            show = progress(index, len(paths), short) if progress else None
            outcome = run_experiment(
                short, path, out_dir, files, env=env, progress=show, cancel=cancel
            )
            outcomes.append(outcome)
            if show:
                show("done", f"{outcome.status}, exit {outcome.exit_code}", outcome.elapsed_s)
    return outcomes


def _not_started(name: str, out_dir: Path) -> RunOutcome:
    """The row of an experiment the cancel kept from starting (an earlier run's journal
    of the same name would otherwise be reported as this run's)."""
    (out_dir / f"{name}.journal.json").unlink(missing_ok=True)
    return RunOutcome(
        name,
        out_dir / f"{name}.journal.json",
        out_dir / f"{name}.chaos.log",
        exit_code=-1,
        run_id="",
        started=False,
    )


def _write_reports(
    outcomes: list[RunOutcome], out_dir: Path, pushgateway: str | None, var_files: list[Path]
) -> None:
    from reports.cli import write_reports

    journals = [o.journal_path for o in outcomes if o.journal_path.exists()]
    if not journals:
        return
    trend = out_dir / "history"
    written = write_reports(
        journals,
        out_dir,
        pushgateway,
        var_files=var_files,
        trend_dir=trend if trend.is_dir() else None,
    )
    for problem in written["problems"]:
        print(f"report: {problem}", file=sys.stderr)
    if written["html"]:
        print(f"report: {written['html']}", file=sys.stderr)
    # keep this run's journals for the next runs' trend (gameday report --trend DIR too)
    trend.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for journal in journals:
        shutil.copy2(journal, trend / f"{stamp}-{journal.name}")
