"""moto as strict as AWS for ELBv2 and WAFv2 (the models live in :mod:`aws_limits`).

``install(Strictness(...))`` patches moto's response classes in this process (the
in-process ``mock_aws`` and a ``ThreadedMotoServer`` alike); ``uninstall()`` restores
them. While installed:

- ``CreateRule`` that would take a load balancer past ``alb_rules_per_load_balancer``
  non-default rules -> ``TooManyRules``; ``DescribeAccountLimits`` reports that quota;
- ``CreateWebACL``/``UpdateWebACL`` whose rules cost more than ``waf_web_acl_capacity``
  WCU -> ``WAFLimitsExceededException``; ``CheckCapacity`` (absent from moto) answers
  the WCU of the rules by the same model;
- ELB tag values outside botocore's ``TagValue`` pattern (``CreateRule``, ``AddTags``,
  ``CreateLoadBalancer``, ``CreateTargetGroup``, ``CreateListener``) -> ``ValidationError``.

A switch set to None/False leaves moto's lenient behaviour for that call.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sandbox.behaviour.aws_limits import (
    Strictness,
    alb_rules_quota_exceeded,
    elb_tag_value_problem,
    rules_capacity,
)

__all__ = ["install", "uninstall", "strict_elb_waf", "active"]

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


def _elb_error(code: str, message: str) -> Exception:
    from moto.elbv2.exceptions import ELBClientError

    return ELBClientError(code, message)


def _waf_error(code: str, message: str) -> Exception:
    from moto.wafv2.exceptions import WAFv2ClientError

    return WAFv2ClientError(code, message)


def _check_elb_tags(response: Any) -> None:
    strict = _active
    if strict is None or not strict.elb_tag_values:
        return
    for tag in response._get_param("Tags", []) or []:
        problem = elb_tag_value_problem(str(tag.get("Value", "")))
        if problem:
            raise _elb_error("ValidationError", f"{problem} (tag key {tag.get('Key')!r})")


def _non_default_rules(load_balancer: Any) -> int:
    count = 0
    for listener in list(load_balancer.listeners.values()):
        for rule in list(listener.rules.values()):
            if not getattr(rule, "is_default", False) and rule.priority != "default":
                count += 1
    return count


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
    if alb_rules_quota_exceeded(_non_default_rules(balancer), 1, quota):
        raise _elb_error(
            "TooManyRules",
            f"You've reached the limit on the number of rules per load balancer ({quota})",
        )


def _rule_group_capacity(response: Any) -> Callable[[str], int]:
    groups = getattr(response.wafv2_backend, "rule_groups", {})

    def capacity(arn: str) -> int:
        group = groups.get(arn)
        return int(getattr(group, "capacity", 0) or 0)

    return capacity


def _check_capacity(response: Any) -> None:
    strict = _active
    if strict is None or strict.waf_web_acl_capacity is None:
        return
    rules = json.loads(response.body or "{}").get("Rules") or []
    used = rules_capacity(rules, _rule_group_capacity(response))
    if used > strict.waf_web_acl_capacity:
        raise _waf_error(
            "WAFLimitsExceededException",
            f"AWS WAF couldn't perform the operation because you exceeded your resource "
            f"limit: the rules need {used} WCU, the web ACL capacity is "
            f"{strict.waf_web_acl_capacity}",
        )


def _check_capacity_action(self: Any) -> Any:
    """CheckCapacity: the WCU of ``Rules`` by the sandbox's model."""
    rules = json.loads(self.body or "{}").get("Rules") or []
    used = rules_capacity(rules, _rule_group_capacity(self))
    return 200, {"Content-Type": "application/json"}, json.dumps({"Capacity": used})


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


def _before(original: Any, *checks: Callable[[Any], None]) -> Callable[[Any], Any]:
    def patched(self: Any) -> Any:
        for check in checks:
            check(self)
        return original(self)

    patched.__name__ = getattr(original, "__name__", "patched")
    return patched


def _patch(cls: type, name: str, make: Callable[[Any], Any]) -> None:
    key = (cls, name)
    if key not in _originals:
        _originals[key] = cls.__dict__.get(name)
        setattr(cls, name, make(getattr(cls, name, None)))


def install(strictness: Strictness | None = None) -> None:
    """Apply ``strictness`` (default: every switch on) to moto in this process."""
    global _active
    from moto.elbv2.responses import ELBV2Response
    from moto.wafv2.responses import WAFV2Response

    with _lock:
        _active = strictness or Strictness()
        for name in _TAGGED_ELB_CALLS:
            checks = (_check_elb_tags, _check_rules_quota) if name == "create_rule" else ()
            _patch(ELBV2Response, name, lambda o, c=checks or (_check_elb_tags,): _before(o, *c))
        _patch(ELBV2Response, "describe_account_limits", _describe_account_limits)
        for name in ("create_web_acl", "update_web_acl"):
            _patch(WAFV2Response, name, lambda o: _before(o, _check_capacity))
        _patch(WAFV2Response, "check_capacity", lambda _o: _check_capacity_action)


def uninstall() -> None:
    global _active
    with _lock:
        _active = None
        for (cls, name), original in _originals.items():
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        _originals.clear()


@contextlib.contextmanager
def strict_elb_waf(strictness: Strictness | None = None) -> Iterator[Strictness]:
    """``strictness`` for the block; then back to what was installed before (nothing, or
    the previous switches), so a focused test can turn one switch off."""
    global _active
    previous, was_installed = _active, bool(_originals)
    install(strictness)
    try:
        yield _active or Strictness()
    finally:
        if was_installed:
            with _lock:
                _active = previous
        else:
            uninstall()
