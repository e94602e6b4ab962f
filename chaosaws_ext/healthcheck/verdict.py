"""Route 53's verdict on a health check, rebuilt from GetHealthCheckStatus observations.

Why this way: the Route 53 developer guide ("How Amazon Route 53 determines whether a
health check is healthy",
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html)
documents the verdict as: each health checker changes its opinion after
``FailureThreshold`` consecutive checks that fail (or pass); the endpoint is healthy when
more than 18% of the checkers consider it healthy; ``Inverted`` inverts the verdict and a
``Disabled`` check is always healthy (API_UpdateHealthCheck). GetHealthCheckStatus
reports each checker's latest *single* check (``StatusReport`` with its ``CheckedTime``),
so the threshold is applied here, per checker, to the distinct checks seen across
calls. The alternative, the CloudWatch ``AWS/Route53 HealthCheckStatus`` metric, already
is the verdict but has one-minute resolution; the phase mark would be up to a minute
late. Whether AWS's status string is before or after the threshold is not documented:
if it were after, this errs late (by up to ``FailureThreshold - 1`` checks), never early.

Limits: a checker seen for the first time takes its observation as its verdict (nothing
older is known); polling slower than the checkers check sees fewer consecutive checks, so
the verdict can come up to ``FailureThreshold`` polls late.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["HEALTHY_FRACTION", "CheckerView", "HealthCheckVerdicts", "Observed"]

# "If more than 18% of health checkers report that an endpoint is healthy, Route 53
# considers it healthy." (the guide above)
HEALTHY_FRACTION = 0.18
MAX_TRACKED = 256  # health checks remembered per process (oldest forgotten first)


@dataclass(frozen=True)
class Observed:
    """One checker's latest check: its region (or IP), result and ``CheckedTime``."""

    checker: str
    ok: bool
    checked_at: str


@dataclass
class CheckerView:
    healthy: bool
    consecutive: int = 1
    last_ok: bool = True
    last_checked_at: str = ""


@dataclass
class _Tracked:
    checkers: dict[str, CheckerView] = field(default_factory=dict)


class HealthCheckVerdicts:
    """Per health check and checker: the opinion after ``FailureThreshold`` consecutive
    checks, fed with observations call after call (thread-safe, bounded)."""

    def __init__(self, max_tracked: int = MAX_TRACKED) -> None:
        self._lock = threading.Lock()
        self._tracked: OrderedDict[str, _Tracked] = OrderedDict()
        self._max = max_tracked

    def observe(
        self, health_check_id: str, observations: Iterable[Observed], failure_threshold: int
    ) -> dict[str, bool]:
        """Feed the latest observations; returns each checker's opinion."""
        threshold = max(1, int(failure_threshold))
        with self._lock:
            tracked = self._tracked.pop(health_check_id, None) or _Tracked()
            self._tracked[health_check_id] = tracked
            while len(self._tracked) > self._max:
                self._tracked.popitem(last=False)
            for seen in observations:
                view = tracked.checkers.get(seen.checker)
                if view is None:
                    tracked.checkers[seen.checker] = CheckerView(
                        seen.ok, 1, seen.ok, seen.checked_at
                    )
                    continue
                if seen.checked_at == view.last_checked_at:
                    continue  # the same check again
                view.consecutive = view.consecutive + 1 if seen.ok == view.last_ok else 1
                view.last_ok, view.last_checked_at = seen.ok, seen.checked_at
                if seen.ok != view.healthy and view.consecutive >= threshold:
                    view.healthy = seen.ok
            return {name: view.healthy for name, view in tracked.checkers.items()}

    def forget(self, health_check_id: str) -> None:
        with self._lock:
            self._tracked.pop(health_check_id, None)


def endpoint_healthy(opinions: dict[str, bool], inverted: bool, disabled: bool) -> bool:
    """More than 18% of the checkers say healthy; ``Inverted`` inverts; ``Disabled`` is
    always healthy."""
    if disabled:
        return True
    healthy = bool(opinions) and sum(opinions.values()) / len(opinions) > HEALTHY_FRACTION
    return not healthy if inverted else healthy
