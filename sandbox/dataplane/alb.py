"""Moved: the old import path, kept working (re-exports `sandbox.elbv2.http`)."""

from sandbox.elbv2.http import (
    DEFAULT_CLIENT_IP,
    IDLE_TIMEOUT_S,
    MIN_SCALED_S,
    TARGET_CONNECT_TIMEOUT_S,
    AlbEmulator,
)

__all__ = [
    "AlbEmulator",
    "DEFAULT_CLIENT_IP",
    "IDLE_TIMEOUT_S",
    "MIN_SCALED_S",
    "TARGET_CONNECT_TIMEOUT_S",
]
