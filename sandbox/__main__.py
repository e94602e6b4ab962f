"""Run the sandbox until Ctrl-C.

``python -m sandbox [--time-scale 0.1] [--workdir DIR] [--env-file PATH]
[--backup-interval SECONDS]``
"""

from __future__ import annotations

import argparse
import logging
import sys

from sandbox.server import run_foreground


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="multiplies every published AWS duration (0.1 = ten times faster)",
    )
    parser.add_argument("--workdir", default=None, help="keep the env file and data here")
    parser.add_argument("--env-file", default=None, help="write the env file here")
    parser.add_argument(
        "--backup-interval",
        type=float,
        default=None,
        help="seconds between the AWS Backup plan's jobs, before scaling (default: daily, "
        "the DR plan's schedule); shorter to rehearse the backup-copy restore drill",
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.backup_interval is not None and not args.backup_interval > 0:
        parser.error("--backup-interval must be a number of seconds > 0")
    return run_foreground(
        time_scale=args.time_scale,
        workdir=args.workdir,
        env_file=args.env_file,
        backup_interval_seconds=args.backup_interval,
    )


if __name__ == "__main__":
    sys.exit(main())
