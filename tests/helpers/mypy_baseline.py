"""mypy with a baseline that only shrinks: today's errors are listed, new ones fail.

The baseline (``mypy-baseline.txt`` at the repository root) holds one line per error,
``path: code``, without line numbers so that an edit above an old error does not make it
"new". An error counts as new when its file has more errors of that code than the
baseline allows. Regenerate it after fixing errors (never to hide new ones)::

    python -m tests.helpers.mypy_baseline --write
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BASELINE", "MypyError", "compare", "read_baseline", "run_mypy", "write_baseline"]

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "mypy-baseline.txt"
MYPY_TIMEOUT_S = 300
_ERROR_LINE = re.compile(
    r"^(?P<path>[^:\s][^:]*):(?P<line>\d+): error: (?P<message>.*?)\s+\[(?P<code>[a-z0-9-]+)\]$"
)
_HEADER = (
    "# mypy errors of today, one `path: code` per error; the list only shrinks.\n"
    "# Regenerate after fixing errors: python -m tests.helpers.mypy_baseline --write\n"
)


@dataclass(frozen=True)
class MypyError:
    path: str
    line: int
    code: str
    message: str

    @property
    def key(self) -> str:
        return f"{self.path}: {self.code}"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}  [{self.code}]"


def run_mypy() -> list[MypyError]:
    """Run mypy as configured in pyproject.toml; raise if mypy itself could not check."""
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-color-output", "--no-error-summary", "--no-pretty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=MYPY_TIMEOUT_S,
    )
    errors = []
    for line in done.stdout.splitlines():
        match = _ERROR_LINE.match(line)
        if match:
            errors.append(
                MypyError(
                    path=match["path"].replace("\\", "/"),
                    line=int(match["line"]),
                    code=match["code"],
                    message=match["message"],
                )
            )
    # 0: clean, 1: type errors (parsed above); anything else is mypy failing to run.
    if done.returncode not in (0, 1) or (done.returncode == 1 and not errors):
        raise RuntimeError(f"mypy exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return errors


def read_baseline(path: Path = BASELINE) -> Counter[str]:
    lines = path.read_text().splitlines() if path.exists() else []
    return Counter(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def write_baseline(errors: list[MypyError], path: Path = BASELINE) -> None:
    path.write_text(_HEADER + "".join(f"{key}\n" for key in sorted(e.key for e in errors)))


def compare(
    errors: list[MypyError], baseline: Counter[str]
) -> tuple[list[MypyError], Counter[str]]:
    """(errors beyond the baseline, baseline entries no longer seen)."""
    current = Counter(e.key for e in errors)
    over = current - baseline
    new = [e for e in errors if over[e.key] > 0]  # every error of an over-full key, to read
    return new, baseline - current


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite mypy-baseline.txt")
    args = parser.parse_args(argv)
    errors = run_mypy()
    if args.write:
        write_baseline(errors)
        print(f"{BASELINE.name}: {len(errors)} error(s)")
        return 0
    new, fixed = compare(errors, read_baseline())
    for error in new:
        print(f"new: {error}")
    for key, count in sorted(fixed.items()):
        print(f"fixed: {key} (x{count}): shrink the baseline with --write")
    print(f"{len(errors)} error(s), baseline {sum(read_baseline().values())}")
    return 1 if new else 0


if __name__ == "__main__":
    raise SystemExit(main())
