"""``gameday run``: a whole game day, in the sandbox or against an account."""

from __future__ import annotations

import logging
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from chaosaws_ext.ledger import Ledger
from gameday.catalog import EXPERIMENTS, resolve_experiment
from gameday.errors import UserError
from gameday.runner import RunOutcome, run_experiment
from gameday.summary import run_failed, summary_table

__all__ = ["run_game_day", "GameDayError"]

logger = logging.getLogger("gameday")


class GameDayError(UserError):
    """The game day cannot start (bad input or leftovers from an earlier run)."""


def _refuse_leftovers(ledger: Path) -> None:
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
    names = experiments or list(EXPERIMENTS)
    paths = [resolve_experiment(name) for name in names]
    out_dir.mkdir(parents=True, exist_ok=True)
    _refuse_leftovers(out_dir / "ledger.jsonl")
    outcomes: list[RunOutcome] = []
    with ExitStack() as stack:
        env: dict[str, str] = {}
        files = list(var_files)
        if sandbox:
            from gameday.sandboxing import start_sandbox

            print("starting the sandbox ...", file=sys.stderr, flush=True)
            env_file, env = stack.enter_context(start_sandbox(out_dir, time_scale))
            files.insert(0, env_file)
            print(f"sandbox up; env file {env_file}", file=sys.stderr, flush=True)
        for index, path in enumerate(paths, start=1):
            short = path.stem
            show = progress(index, len(paths), short) if progress else None
            outcome = run_experiment(short, path, out_dir, files, env=env, progress=show)
            outcomes.append(outcome)
            if show:
                show("done", f"{outcome.status}, exit {outcome.exit_code}", outcome.elapsed_s)
    _write_reports(outcomes, out_dir, pushgateway, var_files)
    print(summary_table(outcomes))
    print(f"\njournals, ledger and reports in {out_dir}/")
    return 1 if any(run_failed(o) for o in outcomes) else 0


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
