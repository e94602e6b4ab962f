"""mypy finds no error that mypy-baseline.txt does not already list (the list only shrinks)."""

from __future__ import annotations

import warnings
from collections import Counter

from tests.helpers.mypy_baseline import MypyError, compare, read_baseline, run_mypy

REGENERATE = "python -m tests.helpers.mypy_baseline --write"


def test_mypy_finds_no_error_beyond_the_baseline() -> None:
    new, fixed = compare(run_mypy(), read_baseline())
    if fixed:
        warnings.warn(
            f"{sum(fixed.values())} baselined mypy error(s) are gone "
            f"({', '.join(sorted(fixed))}): shrink the baseline with `{REGENERATE}`",
            stacklevel=1,
        )
    assert not new, "new mypy errors (fix them; the baseline only shrinks):\n" + "\n".join(
        str(error) for error in new
    )


def _error(path: str, code: str, line: int = 1) -> MypyError:
    return MypyError(path=path, line=line, code=code, message="m")


def test_an_extra_error_of_a_baselined_kind_is_new_and_a_missing_one_is_fixed() -> None:
    baseline = Counter({"a.py: arg-type": 1, "b.py: misc": 2})
    errors = [_error("a.py", "arg-type", 3), _error("a.py", "arg-type", 9), _error("b.py", "misc")]

    new, fixed = compare(errors, baseline)

    # Both a.py errors are shown: without line numbers the baseline cannot tell which is new.
    assert [e.line for e in new] == [3, 9]
    assert fixed == Counter({"b.py: misc": 1})


def test_errors_within_the_baseline_pass_even_when_lines_move() -> None:
    baseline = Counter({"a.py: arg-type": 1})
    new, fixed = compare([_error("a.py", "arg-type", line=250)], baseline)
    assert new == [] and not fixed
