"""Moved: the old import path, kept working (re-exports `sandbox.loopback_http`)."""

from sandbox.loopback_http import (
    LoopbackHttpServer,
    QuietHandler,
)

__all__ = [
    "LoopbackHttpServer",
    "QuietHandler",
]
