"""Moved: the old import path, kept working (re-exports `sandbox.wafv2.web_acl`)."""

from sandbox.wafv2.web_acl import (
    HttpRequest,
    WafVerdict,
    evaluate_web_acl,
    ip_sets_of,
    web_acl_for_resource,
)

__all__ = [
    "HttpRequest",
    "WafVerdict",
    "evaluate_web_acl",
    "ip_sets_of",
    "web_acl_for_resource",
]
