"""Moved: the old import path, kept working (re-exports `sandbox.elbv2.listener_rules`)."""

from sandbox.elbv2.listener_rules import (
    RequestFacts,
    RoutedAction,
    forward_target_groups,
    listener_for_port,
    route_request,
    wildcard_match,
)

__all__ = [
    "RequestFacts",
    "RoutedAction",
    "forward_target_groups",
    "listener_for_port",
    "route_request",
    "wildcard_match",
]
