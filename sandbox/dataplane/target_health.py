"""Moved: the old import path, kept working (re-exports `sandbox.elbv2.target_health`)."""

from sandbox.elbv2.target_health import (
    HEALTHY,
    UNHEALTHY,
    TargetHealth,
    TargetHealthBook,
)

__all__ = [
    "HEALTHY",
    "TargetHealth",
    "TargetHealthBook",
    "UNHEALTHY",
]
