"""ELBv2 listener rule matching over moto's models (pure functions, no I/O).

As an Application Load Balancer does: non-default rules in ascending priority, then the
default rule; a rule matches when all its conditions match, a condition when any of its
values matches. Conditions: ``path-pattern`` (case-sensitive, on the path without the
query string), ``host-header`` (case-insensitive, port stripped), ``http-header``,
``http-request-method``, ``query-string``, ``source-ip``; ``*`` matches any run of
characters (``/`` included) and ``?`` exactly one. The rule's actions are taken in
``Order``; the first ``forward``, ``fixed-response`` or ``redirect`` one is returned
(``authenticate-*`` actions are skipped: the sandbox has no identity provider).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

__all__ = [
    "RequestFacts",
    "RoutedAction",
    "forward_target_groups",
    "listener_for_port",
    "route_request",
    "wildcard_match",
]

_TERMINAL = ("forward", "fixed-response", "redirect")


@dataclass(frozen=True)
class RoutedAction:
    """The action chosen for a request: ``action`` is the moto action's data dict."""

    rule_arn: str | None
    priority: int | str
    action: Mapping[str, Any]

    @property
    def type(self) -> str:
        return str(self.action.get("Type", ""))


@dataclass(frozen=True)
class RequestFacts:
    method: str
    path: str
    host: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    source_ip: str = "0.0.0.0"


@functools.lru_cache(maxsize=512)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile(body, flags)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """ALB wildcard match of the whole ``value``: ``*`` any run, ``?`` one character."""
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def listener_for_port(load_balancer: Any, port: int | None = None) -> Any:
    """The moto listener on ``port``, or the lowest-port HTTP(S) listener when None."""
    listeners = list(load_balancer.listeners.values())
    if port is not None:
        for listener in listeners:
            if int(listener.port) == int(port):
                return listener
        raise LookupError(f"{load_balancer.name} has no listener on port {port}")
    if not listeners:
        raise LookupError(f"{load_balancer.name} has no listener")
    return min(listeners, key=lambda item: int(item.port))


def _values(condition: Mapping[str, Any], config_key: str) -> list[Any]:
    config = condition.get(config_key) or {}
    return list(config.get("Values") or condition.get("Values") or [])


def _condition_matches(condition: Mapping[str, Any], facts: RequestFacts) -> bool:
    kind = condition.get("Field")
    if kind == "path-pattern":
        return any(wildcard_match(v, facts.path) for v in _values(condition, "PathPatternConfig"))
    if kind == "host-header":
        host = facts.host.rsplit(":", 1)[0] if facts.host.count(":") == 1 else facts.host
        return any(
            wildcard_match(v, host, ignore_case=True)
            for v in _values(condition, "HostHeaderConfig")
        )
    if kind == "http-request-method":
        return facts.method.upper() in {
            str(v).upper() for v in _values(condition, "HttpRequestMethodConfig")
        }
    if kind == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        name = str(config.get("HttpHeaderName", "")).lower()
        present = [v for k, v in facts.headers.items() if k.lower() == name]
        return any(
            wildcard_match(str(pattern), value, ignore_case=True)
            for pattern in config.get("Values", [])
            for value in present
        )
    if kind == "query-string":
        pairs = parse_qsl(facts.query, keep_blank_values=True)
        for wanted in (condition.get("QueryStringConfig") or {}).get("Values", []):
            key, value = wanted.get("Key"), str(wanted.get("Value", ""))
            for have_key, have_value in pairs:
                key_ok = key is None or wildcard_match(str(key), have_key, ignore_case=True)
                if key_ok and wildcard_match(value, have_value, ignore_case=True):
                    return True
        return False
    if kind == "source-ip":
        source = ipaddress.ip_address(facts.source_ip)
        for cidr in _values(condition, "SourceIpConfig"):
            network = ipaddress.ip_network(str(cidr), strict=False)
            if network.version == source.version and source in network:
                return True
        return False
    return False


def _first_terminal(actions: list[Any]) -> Mapping[str, Any] | None:
    datas = [a.data if hasattr(a, "data") else a for a in actions]
    for data in sorted(datas, key=lambda d: int(d.get("Order", 0) or 0)):
        if data.get("Type") in _TERMINAL:
            return data
    return None


def _priority_key(rule: Any) -> tuple[int, int]:
    if getattr(rule, "is_default", False) or rule.priority == "default":
        return (1, 0)
    return (0, int(rule.priority))


def route_request(listener: Any, facts: RequestFacts) -> RoutedAction:
    """The action a moto listener's rules pick for ``facts``; falls back to the
    listener's default actions."""
    rules = [r for r in list(listener.rules.values()) if _priority_key(r)[0] == 0]
    for rule in sorted(rules, key=_priority_key):
        conditions = list(rule.conditions or [])
        if all(_condition_matches(c, facts) for c in conditions):
            action = _first_terminal(list(rule.actions))
            if action is not None:
                return RoutedAction(getattr(rule, "arn", None), rule.priority, action)
    action = _first_terminal(list(listener.default_actions))
    if action is None:
        raise LookupError(f"listener {listener.arn} has no terminal default action")
    return RoutedAction(None, "default", action)


def forward_target_groups(action: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(target group ARN, weight) pairs of a ``forward`` action."""
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    if groups:
        return [(g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups]
    if action.get("TargetGroupArn"):
        return [(action["TargetGroupArn"], 1)]
    return []
