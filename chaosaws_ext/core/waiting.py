"""The one bounded polling helper, for the places where no boto3 waiter exists, and the
one translation of a timeout into a boto3 waiter's ``WaiterConfig``."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

from chaoslib.exceptions import ActivityFailed

__all__ = ["wait_until", "WaitTimedOut", "waiter_config"]

T = TypeVar("T")


def waiter_config(timeout: float, interval: float) -> dict[str, float | int]:
    """A boto3 waiter polled every ``interval`` until ``timeout`` has passed: the first
    check at once, then one per interval, the last at or after ``timeout``."""
    return {"Delay": interval, "MaxAttempts": max(1, math.ceil(timeout / interval) + 1)}


class WaitTimedOut(ActivityFailed):
    """The condition did not hold within the bound."""


def wait_until(
    check: Callable[[], T | None],
    timeout: float,
    interval: float = 1.0,
    what: str = "condition",
    stop: Callable[[], bool] | None = None,
) -> T:
    """Call ``check`` until it returns a truthy value, at most ``timeout`` seconds.

    Bounded in time and in attempts (``timeout / interval + 1`` calls at most). Returns the
    truthy value; raises :class:`WaitTimedOut` naming ``what`` when the bound is hit.
    ``stop`` lets a caller abort early (for example on a stop signal).
    """
    if timeout < 0 or interval <= 0:
        raise ValueError("timeout must be >= 0 and interval > 0")
    deadline = time.monotonic() + timeout
    attempts = int(timeout / interval) + 2
    for _ in range(attempts):
        value = check()
        if value:
            return value
        if stop is not None and stop():
            raise WaitTimedOut(f"stopped while waiting for {what}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        time.sleep(min(interval, remaining))
    raise WaitTimedOut(f"timed out after {timeout:g}s waiting for {what}")
