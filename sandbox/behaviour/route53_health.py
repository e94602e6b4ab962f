"""Moved: the old import path, kept working. Re-exports:

- `sandbox.route53.checkers`
- `sandbox.route53.health`
- `sandbox.route53.probe`
"""

from sandbox.route53.checkers import (
    METRIC_PERIOD_S,
    METRIC_REGION,
    Route53HealthCheckers,
)
from sandbox.route53.health import (
    Flip,
    Observation,
    ProbeResult,
)
from sandbox.route53.probe import (
    probe_endpoint,
)

__all__ = [
    "Flip",
    "METRIC_PERIOD_S",
    "METRIC_REGION",
    "Observation",
    "ProbeResult",
    "Route53HealthCheckers",
    "probe_endpoint",
]
