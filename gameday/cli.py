"""Entry point of the ``gameday`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import NoReturn

from gameday.errors import UserError

__all__ = ["main", "result_line"]

logger = logging.getLogger("gameday")


def result_line(result: dict, done: str, secrets: list[str]) -> str:
    """One recovered resource, as printed: an undoer's error may quote a DSN or a
    request, so it is masked like everything else we write."""
    from chaosaws_ext.core.redaction import mask_text

    state = done if result["ok"] else f"FAILED: {mask_text(str(result['error']), secrets)}"
    return f"{mask_text(str(result['resource']), secrets)}: {state}"


def _cmd_recover(args: argparse.Namespace) -> int:
    from chaosaws_ext.core.redaction import environment_secret_values, secret_values_from_var_files
    from gameday.recover import recover_by_tag, recover_from_ledger, recovery_configuration

    configuration = {"aws_region": args.region} if args.region else {}
    for var_file in args.var_file or []:
        if not Path(var_file).is_file():
            raise UserError(f"var file {var_file} does not exist")
    found_secrets = secret_values_from_var_files(args.var_file or []) + environment_secret_values()
    secrets = sorted(set(found_secrets), key=lambda value: (-len(value), value))

    if args.by_tag:
        loaded, problems = recovery_configuration(
            args.experiment, [Path(f) for f in args.var_file or []]
        )
        regions = args.regions or ([args.region] if args.region else [])
        regions = regions or loaded["chaos_recovery_regions"]
        if not regions:
            raise UserError("--by-tag needs --regions (for example --regions eu-south-1 eu-west-1)")
        outcome = recover_by_tag(regions, {**loaded, **configuration}, force=args.force)
        for result in outcome["results"]:
            print(result_line(result, "restored", secrets))
        problems += outcome["problems"]
        for problem in problems:
            print(f"NOT SEARCHED: {problem}")
        found, left = len(outcome["results"]), len(outcome["left"])
        if problems:
            print(
                f"search INCOMPLETE: {len(problems)} part(s) not searched (above); "
                f"{found} orphan(s) found by tag in the rest, {left} left"
            )
        else:
            print(f"{found} orphan(s) found by tag, {left} left")
        return 1 if outcome["left"] or problems else 0
    ledger = Path(args.ledger)
    if not ledger.exists():
        raise UserError(f"ledger {ledger} does not exist (pass --ledger, or use --by-tag)")
    outcome = recover_from_ledger(ledger, configuration)
    for result in outcome["results"]:
        print(result_line(result, "reverted", secrets))
    print(
        f"{outcome['pending']} unreverted entr{'y' if outcome['pending'] == 1 else 'ies'} "
        f"found, {len(outcome['left'])} left"
    )
    return 1 if outcome["left"] else 0


def _progress_printer(index: int, total: int, name: str):
    def show(phase: str, detail: str, elapsed: float) -> None:
        minutes, seconds = divmod(int(elapsed), 60)
        text = f"{phase}: {detail}" if detail else phase
        print(
            f"[{index}/{total}] {name} {minutes:02d}:{seconds:02d} {text}",
            file=sys.stderr,
            flush=True,
        )

    return show


def _cmd_run(args: argparse.Namespace) -> int:
    from gameday.gamedayrun import run_game_day

    if not args.sandbox and not args.var_file:
        raise UserError(
            "without --sandbox, pass --var-file with your account's env file "
            "(see experiments/env/staging.example.env)"
        )
    for var_file in args.var_file or []:
        if not Path(var_file).is_file():
            raise UserError(f"var file {var_file} does not exist")
    if args.archive:
        from gameday.archive import parse_s3_url

        parse_s3_url(args.archive)  # a bad URL is refused before anything runs
    experiments = list(args.experiments)
    if args.suite is not None:
        from gameday.catalog import suite_experiments

        if experiments:
            raise UserError("give experiment names or --suite, not both")
        experiments = list(suite_experiments(args.suite))
    code = run_game_day(
        experiments=experiments,
        out_dir=Path(args.out),
        sandbox=args.sandbox,
        var_files=[Path(f) for f in args.var_file or []],
        time_scale=args.time_scale,
        pushgateway=args.pushgateway,
        progress=_progress_printer,
    )
    if args.evidence and code < 128 and any(Path(args.out).glob("*.journal.json")):
        from gameday.evidence import write_evidence

        write_evidence(Path(args.out), var_files=[Path(f) for f in args.var_file or []])
    if args.archive and code < 128 and any(Path(args.out).glob("*.journal.json")):
        from gameday.archive import archive_run

        keys = archive_run(Path(args.out), args.archive)
        print(f"gameday: archived {len(keys)} file(s) to {args.archive}", file=sys.stderr)
    return code


def _cmd_plan(args: argparse.Namespace) -> int:
    from gameday.catalog import resolve_experiment
    from gameday.planner import PlanError, format_plan, plan_experiment

    for var_file in args.var_file or []:
        if not Path(var_file).is_file():
            raise UserError(f"var file {var_file} does not exist")
    try:
        result = plan_experiment(
            resolve_experiment(args.experiment), [Path(f) for f in args.var_file or []]
        )
    except PlanError as error:
        raise UserError(str(error)) from error
    print(format_plan(result))
    refused = any("error" in p or p.get("problems") for p in result["plans"])
    return 1 if refused or not result["plans"] else 0


def _cmd_policy(args: argparse.Namespace) -> int:
    import json

    from gameday.policy import load_policy, placeholders, render

    values: dict[str, str] = {}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"--set takes name=value, got {item!r}")
        values[key.strip()] = value.strip()
    if args.account:
        values["account"] = args.account
    if args.region:
        values["region"] = args.region
    policy = render(load_policy(args.experiment), values)
    print(json.dumps(policy, indent=2))
    left = sorted(placeholders(policy))
    if left:
        print(
            "gameday: placeholders left to fill: "
            + ", ".join("{" + name + "}" for name in left)
            + " (--account, --region, --set name=value)",
            file=sys.stderr,
        )
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from gameday.sandboxing import sandbox_up

    return sandbox_up(args.time_scale, args.backup_interval)


def _cmd_experiments(args: argparse.Namespace) -> int:
    """The built-in experiments and where they are installed (for plain ``chaos run``)."""
    import shutil

    from gameday.catalog import EXPERIMENTS, experiments_dir, resolve_experiment

    folder = experiments_dir()
    if args.path:
        print(resolve_experiment(args.path))
        return 0
    if args.env_example:
        print(folder / "env" / "staging.example.env")
        return 0
    if args.copy:
        target = Path(args.copy)
        if target.exists() and any(target.iterdir()):
            raise UserError(f"{target} exists and is not empty: name a new or empty folder")
        shutil.copytree(
            folder,
            target,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns("__init__.py", "__pycache__"),
        )
        print(f"copied the experiments, targets, IAM policies and env example to {target}/")
        return 0
    for name in EXPERIMENTS:
        print(f"{name}  {folder / (name + '.yaml')}")
    print(f"targets: {folder / 'targets.yaml'}")
    print(f"env example: {folder / 'env' / 'staging.example.env'}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from reports.cli import run_report

    if args.trend and args.trend.startswith("s3://"):
        from gameday.archive import downloaded_history

        with downloaded_history(args.trend) as folder:
            args.trend = str(folder)
            return run_report(args)
    return run_report(args)


def _cmd_evidence(args: argparse.Namespace) -> int:
    from gameday.evidence import verify_evidence, write_evidence

    words = list(args.words)
    if words[0] == "verify":
        if len(words) != 2:
            raise UserError("usage: gameday evidence verify DIR")
        problems = verify_evidence(Path(words[1]))
        for line in problems:
            print(line)
        if problems:
            print(f"evidence: {len(problems)} file(s) differ from the manifest: NOT VERIFIED")
            return 1
        print(f"evidence: every file of {words[1]} matches its manifest")
        return 0
    if len(words) != 1:
        raise UserError("usage: gameday evidence DIR  or  gameday evidence verify DIR")
    write_evidence(
        Path(words[0]),
        experiments_dir=Path(args.experiments_dir) if args.experiments_dir else None,
        now=args.now,
        var_files=[Path(f) for f in args.var_file or []],
    )
    return 0


def _cmd_scorecard(args: argparse.Namespace) -> int:
    from reports.cli import run_scorecard

    if args.source.startswith("s3://"):
        from gameday.archive import downloaded_history

        with downloaded_history(args.source) as folder:
            args.source = str(folder)
            return run_scorecard(args)
    return run_scorecard(args)


def time_scale(text: str) -> float:
    """argparse type of --time-scale: a finite number > 0 (inf/nan/0/negative refused)."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """Bad options are one line naming what to fix (argparse prints usage + error)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gameday", description="Measured game days for AWS.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser(
        "run", help="run experiments (the four faults by default; --suite for more) and report"
    )
    run.add_argument(
        "experiments",
        nargs="*",
        metavar="EXPERIMENT",
        help="built-in name or path (default: the four faults, or the --suite)",
    )
    run.add_argument(
        "--sandbox",
        action="store_true",
        help="start the local twin of the architecture and run against it",
    )
    run.add_argument(
        "--suite",
        choices=("default", "drills", "scenarios", "all"),
        default=None,
        help=(
            "default: the four faults; drills: the backup restore drills; scenarios: "
            "composed faults (az-power-interruption, the Full DR drill); all: every one"
        ),
    )
    run.add_argument("--out", default="gameday-out", help="output folder (default gameday-out)")
    run.add_argument(
        "--var-file", action="append", help="chaos --var-file for a real account (repeatable)"
    )
    run.add_argument(
        "--time-scale",
        type=time_scale,
        default=None,
        help="sandbox: multiply every emulated AWS timing (default: demo scale)",
    )
    run.add_argument("--pushgateway", help="push per-experiment metrics to this Pushgateway URL")
    run.add_argument(
        "--evidence",
        action="store_true",
        help="also write the evidence pack (OUT/evidence: manifest, report PDF)",
    )
    run.add_argument(
        "--archive",
        metavar="S3_URL",
        help="upload journals, ledger, reports and evidence to s3://bucket/prefix/<run>/",
    )
    run.set_defaults(func=_cmd_run)

    plan = sub.add_parser("plan", help="show what an experiment would change (no mutation)")
    plan.add_argument("experiment", help="built-in name or path")
    plan.add_argument("--var-file", action="append", help="chaos --var-file (repeatable)")
    plan.set_defaults(func=_cmd_plan)

    policy = sub.add_parser("policy", help="print the least-privilege IAM policy of an experiment")
    policy.add_argument("experiment", help="built-in name")
    policy.add_argument("--account", help="fill {account}")
    policy.add_argument("--region", help="fill {region}")
    policy.add_argument(
        "--set", action="append", metavar="NAME=VALUE", help="fill {NAME} (repeatable)"
    )
    policy.set_defaults(func=_cmd_policy)

    listing = sub.add_parser(
        "experiments", help="list the built-in experiments and where they are installed"
    )
    shown = listing.add_mutually_exclusive_group()
    shown.add_argument(
        "--copy", metavar="DIR", help="copy experiments, targets, policies and env example to DIR"
    )
    shown.add_argument("--path", metavar="EXPERIMENT", help="print the file of one experiment")
    shown.add_argument(
        "--env-example", action="store_true", help="print the file of the env example"
    )
    listing.set_defaults(func=_cmd_experiments)

    from reports.cli import build_parser as report_options

    report = sub.add_parser("report", help="journals -> report.html, JUnit XML, metrics")
    report_options(report)
    report.set_defaults(func=_cmd_report)

    from reports.cli import build_scorecard_parser

    scorecard = sub.add_parser(
        "scorecard", help="the DR plan's scorecard from a folder of journals (the history)"
    )
    build_scorecard_parser(scorecard)
    scorecard.set_defaults(func=_cmd_scorecard)

    from reports.cli import day_or_time

    evidence = sub.add_parser(
        "evidence",
        help="write the evidence pack of a game day folder (DIR) or check it (verify DIR)",
    )
    evidence.add_argument("words", nargs="+", metavar="[verify] DIR", help="the game day --out")
    evidence.add_argument(
        "--experiments-dir",
        metavar="DIR",
        help="the experiments and targets used (default: shipped)",
    )
    evidence.add_argument("--now", type=day_or_time, metavar="DATE", help="the scorecard's today")
    evidence.add_argument(
        "--var-file", action="append", help="the run's chaos --var-file (its secrets are masked)"
    )
    evidence.set_defaults(func=_cmd_evidence)

    box = sub.add_parser("sandbox", help="the local twin of the reference architecture")
    box_sub = box.add_subparsers(dest="sandbox_command", required=True, parser_class=_Parser)
    up = box_sub.add_parser("up", help="run the sandbox in the foreground; print its env file")
    up.add_argument(
        "--time-scale",
        type=time_scale,
        default=None,
        help="multiply every emulated AWS timing (default: demo scale 0.05)",
    )
    up.add_argument(
        "--backup-interval",
        type=time_scale,
        default=None,
        metavar="SECONDS",
        help="seconds between the AWS Backup plan's jobs, before scaling (default: daily, "
        "the DR plan's schedule); e.g. 600 to rehearse the backup-copy restore drill",
    )
    up.set_defaults(func=_cmd_sandbox)

    recover = sub.add_parser("recover", help="undo everything a crashed run left behind")
    recover.add_argument("--ledger", default="gameday-out/ledger.jsonl", help="ledger file")
    recover.add_argument(
        "--by-tag", action="store_true", help="ledger lost: find leftovers by their chaos:* tags"
    )
    recover.add_argument(
        "--force",
        action="store_true",
        help="--by-tag: also undo resources whose run has not expired yet",
    )
    recover.add_argument("--region", help="default region for entries that name none")
    recover.add_argument(
        "--regions",
        nargs="+",
        help="regions to search with --by-tag (default: the experiments' configured regions)",
    )
    recover.add_argument(
        "--var-file",
        action="append",
        help="--by-tag: the experiments' chaos --var-file (tables, DSNs, regions; repeatable)",
    )
    recover.add_argument(
        "--experiment",
        action="append",
        help="--by-tag: an experiment whose configuration names what to search "
        "(built-in name or path; repeatable; default: every built-in one); only the "
        "faults these experiments use are searched",
    )
    recover.set_defaults(func=_cmd_recover)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError) as error:
        print(f"gameday: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gameday: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `gameday policy X | head`: the reader left, nothing to say
        sys.stderr.close()
        return 0
