"""Target health as an ALB tracks it: consecutive check results against thresholds.

Pure bookkeeping, no I/O. A target leaves rotation after ``UnhealthyThresholdCount``
consecutive failed checks and comes back after ``HealthyThresholdCount`` consecutive
passes. Deviation from AWS, for a sandbox that starts in seconds: a target's *first*
check decides at once (pass -> healthy, fail -> unhealthy) instead of waiting in
``initial`` for ``HealthyThresholdCount`` passes. When no target of a group is healthy
the load balancer fails open and routes to all of them, as AWS does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["TargetHealth", "TargetHealthBook", "matcher_accepts"]

HEALTHY = "healthy"
UNHEALTHY = "unhealthy"


def matcher_accepts(matcher: Mapping[str, Any] | None, status: int) -> bool:
    """Whether a target group's ``Matcher`` (``HttpCode``: "200", "200,302",
    "200-299"; default "200") accepts a health check's HTTP status."""
    codes = str((matcher or {}).get("HttpCode") or "200")
    for part in codes.split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= status <= int(high or low):
            return True
    return False


@dataclass
class TargetHealth:
    """One target's state: ``state`` healthy/unhealthy, the running counters, the
    reason of the last failure (ELBv2 reason codes) and when the state last changed."""

    state: str
    reason: str | None = None
    description: str | None = None
    passes: int = 0
    failures: int = 0
    changed_at: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"state": self.state, "reason": self.reason, "description": self.description}


class TargetHealthBook:
    """Thread-safe health of every (target group ARN, target id) pair."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._health: dict[tuple[str, str], TargetHealth] = {}

    def record(
        self,
        group_arn: str,
        target_id: str,
        ok: bool,
        healthy_threshold: int,
        unhealthy_threshold: int,
        reason: str | None = None,
        description: str | None = None,
    ) -> TargetHealth:
        """Count one check result; returns the (possibly new) state."""
        now = time.monotonic()
        with self._lock:
            health = self._health.get((group_arn, target_id))
            if health is None:
                health = TargetHealth(HEALTHY if ok else UNHEALTHY, changed_at=now)
                self._health[(group_arn, target_id)] = health
            if ok:
                health.passes, health.failures = health.passes + 1, 0
                if health.state != HEALTHY and health.passes >= healthy_threshold:
                    health.state, health.changed_at = HEALTHY, now
                if health.state == HEALTHY:
                    health.reason = health.description = None
            else:
                health.passes, health.failures = 0, health.failures + 1
                if health.state == UNHEALTHY or health.failures >= unhealthy_threshold:
                    if health.state != UNHEALTHY:
                        health.state, health.changed_at = UNHEALTHY, now
                    health.reason, health.description = reason, description
            return TargetHealth(**vars(health))

    def get(self, group_arn: str, target_id: str) -> TargetHealth | None:
        with self._lock:
            health = self._health.get((group_arn, target_id))
            return None if health is None else TargetHealth(**vars(health))

    def forget_except(self, group_arn: str, target_ids: Iterable[str]) -> None:
        """Drop the state of targets no longer registered in the group."""
        keep = set(target_ids)
        with self._lock:
            for key in [k for k in self._health if k[0] == group_arn and k[1] not in keep]:
                del self._health[key]

    def in_rotation(self, group_arn: str, target_ids: list[str]) -> list[str]:
        """The targets that get traffic: the healthy ones, or all of them when none is
        healthy (fail-open)."""
        with self._lock:
            healthy = [
                t
                for t in target_ids
                if (h := self._health.get((group_arn, t))) is not None and h.state == HEALTHY
            ]
        return healthy or list(target_ids)

    def snapshot(self) -> dict[str, dict[str, dict[str, object]]]:
        """{group ARN: {target id: {"state", "reason", "description"}}}."""
        with self._lock:
            result: dict[str, dict[str, dict[str, object]]] = {}
            for (group, target), health in self._health.items():
                result.setdefault(group, {})[target] = health.to_dict()
            return result
