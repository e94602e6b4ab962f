"""Moved: the old import path, kept working (re-exports `sandbox.route53.failover_routing`)."""

from sandbox.route53.failover_routing import (
    ALIAS_TTL_S,
    Answer,
    failover_answer,
    normalise_name,
    route53_failover_resolver,
)

__all__ = [
    "ALIAS_TTL_S",
    "Answer",
    "failover_answer",
    "normalise_name",
    "route53_failover_resolver",
]
