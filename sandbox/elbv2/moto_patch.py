"""moto as strict as AWS for ELBv2 (the model lives in :mod:`sandbox.elbv2.limits`).

``install(strictness)`` patches moto's ELBv2 response class in this process (the
in-process ``mock_aws`` and a ``ThreadedMotoServer`` alike); ``uninstall()`` restores
it. While installed:

- ``CreateRule`` that would take a load balancer past ``alb_rules_per_load_balancer``
  non-default rules -> ``TooManyRules``; ``DescribeAccountLimits`` reports that quota;
- ELB tag values outside botocore's ``TagValue`` pattern (``CreateRule``, ``AddTags``,
  ``CreateLoadBalancer``, ``CreateTargetGroup``, ``CreateListener``) -> ``ValidationError``.

A switch set to None/False leaves moto's lenient behaviour for that call. The switches
are a :class:`sandbox.strictness.Strictness` (read by attribute here).

Also here: :func:`publish_target_health`, which makes moto's ``DescribeTargetHealth``
answer what the load balancer emulator (:mod:`sandbox.elbv2.http`) sees.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.elbv2.limits import alb_rules_quota_exceeded, elb_tag_value_problem, non_default_rules
from sandbox.elbv2.target_health import TargetHealthBook
from sandbox.moto_patching import before, patch, restore

if TYPE_CHECKING:
    from sandbox.strictness import Strictness

__all__ = [
    "active",
    "install",
    "installed",
    "publish_target_health",
    "uninstall",
    "unpublish_target_health",
]

_lock = threading.Lock()
_active: Strictness | None = None
_originals: dict[tuple[type, str], Any] = {}
_TAGGED_ELB_CALLS = (
    "create_rule",
    "add_tags",
    "create_load_balancer",
    "create_target_group",
    "create_listener",
)


def active() -> Strictness | None:
    return _active


def installed() -> bool:
    return bool(_originals)


def _elb_error(code: str, message: str) -> Exception:
    from moto.elbv2.exceptions import ELBClientError

    return ELBClientError(code, message)


def _check_elb_tags(response: Any) -> None:
    strict = _active
    if strict is None or not strict.elb_tag_values:
        return
    for tag in response._get_param("Tags", []) or []:
        problem = elb_tag_value_problem(str(tag.get("Value", "")))
        if problem:
            raise _elb_error("ValidationError", f"{problem} (tag key {tag.get('Key')!r})")


def _check_rules_quota(response: Any) -> None:
    strict = _active
    if strict is None or strict.alb_rules_per_load_balancer is None:
        return
    backend = response.elbv2_backend
    listeners = backend.describe_listeners(None, [response._get_param("ListenerArn")])
    balancer = backend.load_balancers.get(listeners[0].load_balancer_arn)
    if balancer is None:
        return
    quota = strict.alb_rules_per_load_balancer
    if alb_rules_quota_exceeded(non_default_rules(balancer.listeners.values()), 1, quota):
        raise _elb_error(
            "TooManyRules",
            f"You've reached the limit on the number of rules per load balancer ({quota})",
        )


def _describe_account_limits(original: Any) -> Callable[[Any], Any]:
    def patched(self: Any) -> Any:
        result = original(self)
        strict = _active
        quota = None if strict is None else strict.alb_rules_per_load_balancer
        if quota is not None:
            for limit in result.result["Limits"]:
                if limit["Name"] == "rules-per-application-load-balancer":
                    limit["Max"] = quota
        return result

    return patched


def install(strictness: Strictness) -> None:
    """Apply ``strictness`` to moto's ELBv2 in this process (again: new switches)."""
    global _active
    from moto.elbv2.responses import ELBV2Response

    with _lock:
        _active = strictness
        for name in _TAGGED_ELB_CALLS:
            checks = (_check_elb_tags, _check_rules_quota) if name == "create_rule" else ()
            patch(
                _originals,
                ELBV2Response,
                name,
                lambda o, c=checks or (_check_elb_tags,): before(o, *c),
            )
        patch(_originals, ELBV2Response, "describe_account_limits", _describe_account_limits)


def uninstall() -> None:
    global _active
    with _lock:
        _active = None
        restore(_originals)


def publish_target_health(group: Any, book: TargetHealthBook) -> None:
    """moto's ``describe_target_health`` of ``group`` (a moto target group) reports the
    state ``book`` holds for each target it calls healthy (wraps ``health_for`` on the
    group object; :func:`unpublish_target_health` removes the wrapper)."""
    original = type(group).health_for.__get__(group)

    def health_for(target: dict[str, Any], ec2_backend: Any) -> Any:
        status = original(target, ec2_backend)
        mine = book.get(group.arn, str(target["Id"]))
        if mine is not None and status.status == "healthy":
            status.status = mine.state
            status.reason, status.description = mine.reason, mine.description
        return status

    group.health_for = health_for


def unpublish_target_health(group: Any) -> None:
    vars(group).pop("health_for", None)
