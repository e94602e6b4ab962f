"""``python -m reports JOURNAL_OR_DIR... -o report.html [--junit F] [--trend DIR]
[--pushgateway URL] [--textfile F] [--var-file F]``; also ``gameday report``.

Exit 0 when written; 2 with one line per problem (no traceback) when an input is not a
usable journal or an output cannot be written; 1 when the Pushgateway cannot be reached
(the files are written first).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from reports.html import render_html, render_scorecard_html
from reports.journal import Journal, load_journals, parse_time
from reports.junit import write_junit
from reports.metrics import DEFAULT_JOB, push_metrics, write_textfile
from reports.plan import PlanError, load_plan
from reports.redaction import secret_values_from_var_files
from reports.scorecard import build_scorecard, format_scorecard

__all__ = [
    "build_parser",
    "build_scorecard_parser",
    "report_main",
    "run_report",
    "run_scorecard",
    "write_reports",
]

logger = logging.getLogger(__name__)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The report options; pass a subparser to add them to ``gameday report``."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m reports",
        description="Turn Chaos Toolkit journals into an HTML report, JUnit XML and metrics.",
    )
    parser.add_argument(
        "journals", nargs="+", metavar="JOURNAL_OR_DIR", help="journal files or folders"
    )
    parser.add_argument("-o", "--output", default="report.html", help="HTML report to write")
    parser.add_argument("--junit", metavar="FILE", help="also write JUnit XML here")
    parser.add_argument(
        "--trend", metavar="DIR", help="folder of past journals for the nightly trend"
    )
    parser.add_argument(
        "--pushgateway", metavar="URL", help="push gauges to this Prometheus Pushgateway"
    )
    parser.add_argument("--job", default=DEFAULT_JOB, help="Pushgateway job name (default gameday)")
    parser.add_argument(
        "--textfile", metavar="FILE", help="write gauges for the textfile collector"
    )
    parser.add_argument(
        "--var-file",
        action="append",
        default=[],
        metavar="FILE",
        help="chaos --var-file used for the run: its secret values are masked too",
    )
    _plan_options(parser)
    return parser


def _plan_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--experiments-dir",
        metavar="DIR",
        help="folder with targets.yaml, schedule.yaml and the experiments "
        "(default: the shipped experiments)",
    )
    parser.add_argument(
        "--now",
        type=day_or_time,
        metavar="DATE",
        help="judge 'overdue' as of this ISO date or time (default: now)",
    )


def day_or_time(text: str) -> datetime:
    """argparse type of --now: an ISO date or date-time (UTC when it names no zone)."""
    moment = parse_time(text)
    if moment is None:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r} (e.g. 2026-12-01)")
    return moment


def build_scorecard_parser(
    parser: argparse.ArgumentParser | None = None,
) -> argparse.ArgumentParser:
    """The scorecard options; pass a subparser to add them to ``gameday scorecard``."""
    parser = parser or argparse.ArgumentParser(
        prog="python -m reports.scorecard",
        description="The DR plan's scorecard from a folder of journals.",
    )
    parser.add_argument("source", metavar="SOURCE", help="folder of journals (the run history)")
    parser.add_argument(
        "--environment",
        choices=("aws", "sandbox"),
        help="count only runs in this environment (default: all, labelled)",
    )
    parser.add_argument("-o", "--output", metavar="FILE", help="also write it as an HTML page")
    _plan_options(parser)
    return parser


def run_scorecard(args: argparse.Namespace) -> int:
    """Print the scorecard of ``args.source``; exit 2 with one line on bad input."""
    if not Path(args.source).is_dir():
        _fail_scorecard(f"{args.source}: not a folder of journals")
        return 2
    try:
        plan = load_plan(args.experiments_dir)
    except PlanError as error:
        _fail_scorecard(str(error))
        return 2
    journals, skipped = load_journals([args.source], skip_foreign_json=True)
    for line in skipped:
        _fail_scorecard(f"skipped {line}")
    card = build_scorecard(journals, plan, now=args.now, environment=args.environment)
    print(format_scorecard(card))
    if args.output:
        try:
            path = render_scorecard_html(card, args.output)
        except OSError as error:
            _fail_scorecard(f"cannot write {error.filename or ''}: {error.strerror or error}")
            return 2
        print(f"scorecard: {path}")
    return 0


def _fail(line: str) -> None:
    print(f"report: {line}", file=sys.stderr)


def _fail_scorecard(line: str) -> None:
    print(f"scorecard: {line}", file=sys.stderr)


def report_main(argv: Sequence[str] | None = None) -> int:
    """Run the report command; returns the exit code."""
    args = build_parser().parse_args(argv)
    return run_report(args)


def run_report(args: argparse.Namespace) -> int:
    """Do what parsed ``args`` ask (shared with ``gameday report``)."""
    journals, errors = load_journals(args.journals)
    if errors:
        for line in errors:
            _fail(line)
        return 2
    if not journals:
        _fail("no journals given")
        return 2
    past = []
    skipped: list[str] = []
    plan = None
    if args.trend:
        past, skipped = load_journals([args.trend], skip_foreign_json=True)
        for line in skipped:
            _fail(f"trend: skipped {line}")
        try:
            plan = load_plan(getattr(args, "experiments_dir", None))
        except PlanError as error:
            _fail(str(error))
            return 2
    extra: list[str] = []
    for journal in journals:
        try:
            extra += secret_values_from_var_files(args.var_file, journal.experiment)
        except (OSError, ValueError) as error:
            _fail(f"cannot read var file: {error}")
            return 2
    try:
        path = render_html(
            journals,
            args.output,
            trend_journals=past,
            extra_secret_values=extra,
            skipped=skipped,
            plan=plan,
            generated_at=getattr(args, "now", None),
        )
        print(f"report: {path} ({len(journals)} run(s))")
        if args.junit:
            print(f"report: {write_junit(journals, args.junit, extra_secret_values=extra)}")
        if args.textfile:
            print(f"report: {write_textfile(journals, args.textfile, extra_secret_values=extra)}")
    except OSError as error:
        _fail(f"cannot write {error.filename or ''}: {error.strerror or error}")
        return 2
    if args.pushgateway:
        try:
            count = push_metrics(
                journals, args.pushgateway, job=args.job, extra_secret_values=extra
            )
        except OSError as error:
            _fail(f"cannot push to {args.pushgateway}: {getattr(error, 'reason', error)}")
            return 1
        print(f"report: pushed {count} run(s) to {args.pushgateway}")
    return 0


def write_reports(
    journal_paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    pushgateway: str | None = None,
    *,
    trend_dir: str | os.PathLike[str] | None = None,
    var_files: Sequence[str | os.PathLike[str]] = (),
) -> dict[str, Any]:
    """For ``gameday run``: ``out_dir/report.html`` and ``out_dir/junit.xml`` from the run's
    journals, metrics pushed when ``pushgateway`` is given. Never raises for a bad journal
    or an unreachable gateway: returns ``{"html", "junit", "pushed", "problems"}``."""
    out = Path(out_dir)
    journals, problems = load_journals(journal_paths)
    result: dict[str, Any] = {"html": None, "junit": None, "pushed": 0, "problems": problems}
    if not journals:
        return result
    past: list[Journal] = []
    skipped: list[str] = []
    if trend_dir is not None and Path(trend_dir).is_dir():
        past, skipped = load_journals([trend_dir], skip_foreign_json=True)
    extra: list[str] = []
    for journal in journals:
        extra += secret_values_from_var_files(var_files, journal.experiment)
    result["html"] = render_html(
        journals,
        out / "report.html",
        trend_journals=past,
        extra_secret_values=extra,
        skipped=problems + skipped,
    )
    result["junit"] = write_junit(journals, out / "junit.xml", extra_secret_values=extra)
    if pushgateway:
        try:
            result["pushed"] = push_metrics(journals, pushgateway, extra_secret_values=extra)
        except OSError as error:
            problems.append(f"cannot push to {pushgateway}: {getattr(error, 'reason', error)}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return report_main(argv)
