"""FIS action durations: ISO 8601 (``PT5M``, ``PT30S``, ``PT1H``), in sandbox seconds.

"duration: The duration, from one minute to 12 hours [...] ISO 8601 format" (AWS FIS
user guide, "AWS FIS actions reference"). The sandbox scales the published duration by
its time scale (:class:`sandbox.timing.Timings`), as every other emulated AWS delay.
"""

from __future__ import annotations

import datetime as dt

import isodate

from sandbox.timing import Timings

__all__ = ["DurationError", "duration_seconds", "scaled_duration"]


class DurationError(ValueError):
    """A duration parameter that is not an ISO 8601 duration of positive length."""


def duration_seconds(text: str) -> float:
    """``PT5M`` -> 300.0; raises :class:`DurationError` naming the value otherwise."""
    try:
        parsed = isodate.parse_duration(str(text).strip())
    except (isodate.ISO8601Error, ValueError) as error:
        raise DurationError(f"duration {text!r} is not an ISO 8601 duration (PT5M)") from error
    if not isinstance(parsed, dt.timedelta):  # years/months: no fixed length
        raise DurationError(f"duration {text!r} has years or months: use PT/D units")
    seconds = parsed.total_seconds()
    if seconds <= 0:
        raise DurationError(f"duration {text!r} must be positive")
    return seconds


def scaled_duration(text: str, timings: Timings) -> float:
    """The published duration ``text`` in sandbox seconds."""
    return timings.scaled(duration_seconds(text))
