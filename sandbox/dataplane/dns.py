"""Moved: the old import path, kept working (re-exports `sandbox.route53.dns`)."""

from sandbox.route53.dns import (
    FailoverDnsServer,
    Records,
)

__all__ = [
    "FailoverDnsServer",
    "Records",
]
