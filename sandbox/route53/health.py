"""Route 53 health check verdicts as AWS forms them: the model, no I/O and no moto.

Each checker region changes its verdict after ``FailureThreshold`` consecutive failures
or successes; the health check is healthy while more than 18% of the checker regions
say so (the published rule, :data:`sandbox.timing.HEALTH_CHECK_HEALTHY_FRACTION`).
``Disabled`` counts as healthy, ``Inverted`` inverts. Alarms on the
``HealthCheckStatus`` metric go to ALARM after the health check has been unhealthy for
their evaluation window, and back to OK when it is healthy (:func:`alarm_state`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sandbox.timing import HEALTH_CHECK_HEALTHY_FRACTION

__all__ = ["Flip", "HealthCheckState", "Observation", "ProbeResult", "alarm_state"]


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    status: str  # as AWS words it: "Success: HTTP Status Code 200, OK", "Failure: ..."


@dataclass(frozen=True)
class Observation:
    region: str
    ok: bool
    status: str
    checked_at: datetime
    monotonic: float


@dataclass(frozen=True)
class Flip:
    """The health check's aggregated status changed to ``healthy`` at these times."""

    healthy: bool
    monotonic: float
    wall: datetime


@dataclass
class _RegionState:
    healthy: bool = True
    consecutive_ok: int = 0
    consecutive_failed: int = 0
    last: Observation | None = None


@dataclass
class HealthCheckState:
    """What Route 53 holds about one health check: each checker region's verdict and
    latest observation, the aggregated verdict and its flips, the current outage's
    first failed probe. Not thread-safe: the caller holds a lock."""

    health_check_id: str
    regions: dict[str, _RegionState]
    healthy: bool = True
    first_failure: Observation | None = None  # first failed probe of the current outage
    clean: bool = True  # every checker's latest probe succeeded since first_failure
    flips: list[Flip] = field(default_factory=list)

    @classmethod
    def new(cls, health_check_id: str, regions: tuple[str, ...]) -> HealthCheckState:
        return cls(health_check_id, {region: _RegionState() for region in regions})

    def observations(self) -> list[Observation]:
        return [r.last for r in self.regions.values() if r.last is not None]

    def record(
        self,
        observation: Observation,
        failure_threshold: int = 3,
        disabled: bool = False,
        inverted: bool = False,
    ) -> bool | None:
        """Count one checker region's probe; returns the new verdict if it flipped."""
        regional = self.regions[observation.region]
        regional.last = observation
        if observation.ok:
            regional.consecutive_ok += 1
            regional.consecutive_failed = 0
            if not regional.healthy and regional.consecutive_ok >= failure_threshold:
                regional.healthy = True
        else:
            regional.consecutive_failed += 1
            regional.consecutive_ok = 0
            if regional.healthy and regional.consecutive_failed >= failure_threshold:
                regional.healthy = False
            if self.clean:
                self.first_failure = observation
                self.clean = False
        if observation.ok and all(r.last is None or r.last.ok for r in self.regions.values()):
            self.clean = True
        healthy_share = sum(r.healthy for r in self.regions.values()) / len(self.regions)
        healthy = healthy_share > HEALTH_CHECK_HEALTHY_FRACTION
        if disabled:
            healthy = True
        elif inverted:
            healthy = not healthy
        if healthy == self.healthy:
            return None
        self.healthy = healthy
        self.flips.append(Flip(healthy, observation.monotonic, observation.checked_at))
        return healthy


def alarm_state(
    healthy: bool, unhealthy_since: float | None, now: float, window: float
) -> tuple[str, str] | None:
    """The state an alarm on ``HealthCheckStatus`` should be in, with its reason, or
    None while an outage is younger than the alarm's evaluation ``window``."""
    if healthy:
        return "OK", "Health check is healthy"
    if unhealthy_since is not None and now - unhealthy_since >= window:
        return "ALARM", "Health check unhealthy for the evaluation window"
    return None
