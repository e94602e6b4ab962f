"""Numeric arguments of activities, checked before anything is called.

A number arrives from YAML, a var file or an environment variable, so it may be a
string, a bool, inf or nan. Each is refused with one line naming the argument, before
any AWS call, instead of a traceback deep in the code (``int(float("inf"))`` raises
OverflowError; ``time.sleep(nan)`` raises ValueError; a nan timeout never expires).
"""

from __future__ import annotations

import math
from typing import Any

from chaoslib.exceptions import ActivityFailed

__all__ = ["checked_number", "checked_integer"]


def _parse(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or value is None:
        raise ActivityFailed(f"{where}{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ActivityFailed(f"{where}{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ActivityFailed(f"{where}{name} must be a finite number, got {value!r}")
    return number


def _prefix(activity: str) -> str:
    return f"{activity}: " if activity else ""


def checked_number(
    value: Any,
    name: str,
    *,
    minimum: float = 0.0,
    above: bool = False,
    maximum: float | None = None,
    activity: str = "",
) -> float:
    """``value`` as a finite float ``>= minimum`` (``> minimum`` with ``above``)."""
    where = _prefix(activity)
    number = _parse(value, name, where)
    if number < minimum or (above and number == minimum):
        bound = f"> {minimum:g}" if above else f">= {minimum:g}"
        raise ActivityFailed(f"{where}{name} must be {bound}, got {value!r}")
    if maximum is not None and number > maximum:
        raise ActivityFailed(f"{where}{name} must be <= {maximum:g}, got {value!r}")
    return number


def checked_integer(
    value: Any,
    name: str,
    *,
    minimum: int = 0,
    maximum: int | None = None,
    activity: str = "",
) -> int:
    """``value`` as an int in ``[minimum, maximum]``; 2.0 and "2" pass, 2.5 does not."""
    where = _prefix(activity)
    number = _parse(value, name, where)
    if not number.is_integer():
        raise ActivityFailed(f"{where}{name} must be a whole number, got {value!r}")
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ActivityFailed(f"{where}{name} must be {bound}, got {value!r}")
    return int(number)
