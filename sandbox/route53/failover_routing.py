"""Route 53 failover routing over moto's route53 models (pure functions, no I/O).

Route 53 semantics copied: a failover pair answers the PRIMARY record while it is
healthy, else the SECONDARY while that one is healthy, else the PRIMARY (when every
record of a group is unhealthy Route 53 treats them all as healthy). A record without a
``HealthCheckId`` is healthy. Records without a routing policy answer all their values.
Alias records answer what ``alias_resolver(dns_name)`` returns (e.g. the loopback
address of the emulated ALB) with ``alias_ttl`` (default 60 s, the TTL of an ELB's own
record). Weighted records answer one record per query, drawn by :func:`weighted_pick`
(Route 53 Developer Guide, "Weighted routing" and "How Amazon Route 53 chooses records
when health checking is configured": a record's chance is its Weight over the group's
total; weight 0 is never answered unless every record is 0, or every nonzero one is
unhealthy; unhealthy records are left out, and a group that is all unhealthy is answered
as if all were healthy). Other routing policies (latency, geolocation, multivalue)
answer the values of all their healthy records.

A record's health, as the Route 53 Developer Guide documents it ("How Amazon Route 53
chooses records when health checking is configured" and "Evaluate target health"): a
record with a ``HealthCheckId`` is healthy only while that health check is healthy; an
alias record with ``EvaluateTargetHealth: true`` is healthy only while its alias target
is healthy as well (both conditions hold for an alias record that has both, as the
guide's Example 5 configures). For an Application Load Balancer target, the Route 53 API
Reference (AliasTarget, EvaluateTargetHealth, "Application and Network Load Balancers"):
every target group that contains targets must contain at least one healthy target; a
target group with only unhealthy targets, or with no registered targets, makes the load
balancer unhealthy (:func:`load_balancer_healthy`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "Answer",
    "failover_answer",
    "load_balancer_healthy",
    "normalise_name",
    "route53_failover_resolver",
    "weighted_pick",
]

Answer = list[tuple[str, int]]
ALIAS_TTL_S = 60


def normalise_name(name: str) -> str:
    """Lower case, with exactly one trailing dot."""
    return name.strip().rstrip(".").lower() + "."


def _values(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def failover_answer(
    primary_ip: str | Sequence[str],
    secondary_ip: str | Sequence[str],
    primary_healthy: bool,
    secondary_healthy: bool,
    ttl: int,
) -> Answer:
    """The answer of a failover pair: [(value, ttl), ...]."""
    if primary_healthy or not secondary_healthy:
        chosen = primary_ip
    else:
        chosen = secondary_ip
    return [(value, int(ttl)) for value in _values(chosen)]


def _draw(indices: Sequence[int], weights: Sequence[int], rng: random.Random) -> int:
    total = sum(weights[i] for i in indices)
    point = rng.uniform(0, total)
    for i in indices:
        point -= weights[i]
        if point < 0:
            return i
    return indices[-1]


def weighted_pick(weights: Sequence[int], healthy: Sequence[bool], rng: random.Random) -> int:
    """The index of the weighted record Route 53 answers for one query. Healthy records
    of nonzero weight first, drawn in proportion to their weights; then the healthy
    zero-weight ones (equal chances); a group with no healthy record is answered as if
    all were healthy (nonzero weights first, then all of them)."""
    if not weights or len(weights) != len(healthy):
        raise ValueError("weights and healthy must be non-empty and of one length")
    if not any(healthy):  # no healthy record: answered as if all were healthy
        healthy = [True] * len(weights)
    indices = range(len(weights))
    nonzero_healthy = [i for i in indices if weights[i] > 0 and healthy[i]]
    if nonzero_healthy:
        return _draw(nonzero_healthy, weights, rng)
    return rng.choice([i for i in indices if weights[i] == 0 and healthy[i]])


def load_balancer_healthy(target_states: Mapping[str, Sequence[str]]) -> bool:
    """Route 53's view of an ALB alias target with ``EvaluateTargetHealth``:
    ``target_states`` maps each target group of the load balancer to the states of its
    registered targets (``"healthy"``, ``"unhealthy"``, ``"initial"``, ...). Healthy
    when every target group holds at least one healthy target (a group without
    targets counts as unhealthy); a load balancer without target groups is unhealthy."""
    if not target_states:
        return False
    return all(any(state == "healthy" for state in states) for states in target_states.values())


def _record_values(record: Any) -> list[str]:
    values = []
    for item in list(record.records or []):
        values.append(str(item.get("Value") if isinstance(item, dict) else item))
    return values


def _zone(route53_backend: Any, zone_name: str) -> Any | None:
    wanted = normalise_name(zone_name)
    for zone in list(route53_backend.zones.values()):
        if normalise_name(zone.name) == wanted:
            return zone
    return None


def route53_failover_resolver(
    route53_backend: Any,
    zone_name: str,
    is_healthy: Callable[[str], bool],
    alias_resolver: Callable[[str], Sequence[str]] | None = None,
    alias_healthy: Callable[[str], bool] | None = None,
    alias_ttl: int = ALIAS_TTL_S,
    rng: random.Random | None = None,
) -> Callable[[str, str], Answer | None]:
    """A ``records(qname, qtype)`` callable for ``FailoverDnsServer`` that reads the
    hosted zone ``zone_name`` of a moto route53 backend on every query
    (``get_backend("route53")[account]["aws"]``). It returns None when the zone holds no
    record of that name (NXDOMAIN), [] when it holds the name but not the type.
    ``is_healthy(health_check_id)`` gives the Route 53 health checker's verdict;
    ``alias_healthy(dns_name)`` the alias target's health, evaluated for alias records
    with ``EvaluateTargetHealth`` (None: such a target counts as healthy). ``rng``
    draws the weighted records' answers (seed it for a reproducible distribution).
    """
    draw = rng or random.Random()

    def evaluates_target(record: Any) -> bool:
        alias = record.alias_target or {}
        flag = alias.get("EvaluateTargetHealth", False)
        return str(flag).lower() == "true" if isinstance(flag, str) else bool(flag)

    def healthy(record: Any) -> bool:
        if record.health_check_id is not None and not is_healthy(record.health_check_id):
            return False
        if alias_healthy is not None and record.alias_target and evaluates_target(record):
            dns_name = str(record.alias_target.get("DNSName", "")).rstrip(".")
            return bool(alias_healthy(dns_name))
        return True

    def values_of(record: Any) -> Answer:
        if record.alias_target:
            if alias_resolver is None:
                return []
            dns_name = str(record.alias_target.get("DNSName", ""))
            return [(value, int(alias_ttl)) for value in alias_resolver(dns_name.rstrip("."))]
        ttl = int(record.ttl) if record.ttl is not None else 300
        return [(value, ttl) for value in _record_values(record)]

    def records(qname: str, qtype: str) -> Answer | None:
        zone = _zone(route53_backend, zone_name)
        if zone is None:
            return None
        name = normalise_name(qname)
        named = [r for r in list(zone.rrsets) if normalise_name(r.name) == name]
        if not named:
            return None
        typed = [r for r in named if str(r.type).upper() == qtype.upper()]
        if not typed:
            return []
        primary = [r for r in typed if r.failover == "PRIMARY"]
        secondary = [r for r in typed if r.failover == "SECONDARY"]
        if primary or secondary:
            if primary and (healthy(primary[0]) or not secondary or not healthy(secondary[0])):
                return values_of(primary[0])
            return values_of(secondary[0])
        weighted = [r for r in typed if getattr(r, "weight", None) is not None]
        if weighted:
            weights = [int(r.weight) for r in weighted]
            chosen_index = weighted_pick(weights, [healthy(r) for r in weighted], draw)
            return values_of(weighted[chosen_index])
        plain = [r for r in typed if r.set_identifier is None]
        if plain:
            return [answer for r in plain for answer in values_of(r)]
        chosen = [r for r in typed if healthy(r)] or typed
        return [answer for r in chosen for answer in values_of(r)]

    return records
