"""Moved: the old import path, kept working (re-exports `sandbox.strictness`)."""

from sandbox.strictness import (
    active,
    install,
    strict_elb_waf,
    uninstall,
)

__all__ = [
    "active",
    "install",
    "strict_elb_waf",
    "uninstall",
]
