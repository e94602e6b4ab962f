"""Moved: the old import path, kept working (re-exports `sandbox.workload.api`)."""

from sandbox.workload.api import (
    ApiInstance,
)

__all__ = [
    "ApiInstance",
]
