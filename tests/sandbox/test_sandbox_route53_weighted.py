"""Weighted routing in the sandbox's Route 53 (Route 53 Developer Guide, "Weighted
routing"): answers in proportion to Weight, 0 never unless all are 0 or every nonzero
record is unhealthy, unhealthy records left out. Seeded, without moto or sockets."""

from __future__ import annotations

import random
from collections import Counter
from types import SimpleNamespace

import pytest

from sandbox.route53.failover_routing import route53_failover_resolver, weighted_pick

QUERIES = 4000


def _counts(weights: list[int], healthy: list[bool], seed: int = 7) -> Counter[int]:
    rng = random.Random(seed)
    return Counter(weighted_pick(weights, healthy, rng) for _ in range(QUERIES))


def test_answers_in_proportion_to_the_weights() -> None:
    counts = _counts([10, 90], [True, True])
    # binomial: sd of the 10 % share over 4000 queries is 0.47 %; 4 sd either side
    assert abs(counts[0] / QUERIES - 0.10) < 0.019
    assert counts[0] + counts[1] == QUERIES
    halves = _counts([50, 50], [True, True])
    assert abs(halves[0] / QUERIES - 0.5) < 0.032


def test_weight_zero_is_never_answered_unless_every_weight_is_zero() -> None:
    assert _counts([0, 100], [True, True]) == Counter({1: QUERIES})
    assert _counts([100, 0], [True, True]) == Counter({0: QUERIES})
    both_zero = _counts([0, 0], [True, True])
    assert set(both_zero) == {0, 1} and abs(both_zero[0] / QUERIES - 0.5) < 0.032


def test_unhealthy_records_are_left_out_and_all_unhealthy_answers_as_if_healthy() -> None:
    assert _counts([10, 90], [True, False]) == Counter({0: QUERIES})
    # every nonzero record unhealthy: the zero-weight record is considered
    assert _counts([0, 100], [True, False]) == Counter({0: QUERIES})
    # none healthy: weighted as if all were
    none = _counts([10, 90], [False, False])
    assert abs(none[0] / QUERIES - 0.10) < 0.019


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        weighted_pick([], [], random.Random(1))
    with pytest.raises(ValueError):
        weighted_pick([1, 2], [True], random.Random(1))


def _weighted(identifier: str, weight: str, hc: str, dns_name: str) -> SimpleNamespace:
    return SimpleNamespace(
        name="api.example.com.",
        type="A",
        failover=None,
        weight=weight,  # moto keeps the XML's text
        set_identifier=identifier,
        health_check_id=hc,
        alias_target={"DNSName": dns_name, "EvaluateTargetHealth": True},
        records=[],
        ttl=None,
    )


def test_the_zone_resolver_answers_weighted_alias_records_by_weight_and_health() -> None:
    zone = SimpleNamespace(
        name="example.com.",
        rrsets=[
            _weighted("primary", "10", "hc-p", "primary-alb.elb.test"),
            _weighted("secondary", "90", "hc-s", "standby-alb.elb.test"),
        ],
    )
    backend = SimpleNamespace(zones={"Z1": zone})
    addresses = {"primary-alb.elb.test": ["127.0.0.11"], "standby-alb.elb.test": ["127.0.0.12"]}
    healthy_checks = {"hc-p", "hc-s"}
    records = route53_failover_resolver(
        backend,
        "example.com",
        healthy_checks.__contains__,
        alias_resolver=addresses.__getitem__,
        alias_healthy=lambda name: True,
        alias_ttl=7,
        rng=random.Random(3),
    )
    answers = Counter(tuple(records("api.example.com", "A") or []) for _ in range(QUERIES))
    assert set(answers) == {(("127.0.0.11", 7),), (("127.0.0.12", 7),)}
    assert abs(answers[(("127.0.0.11", 7),)] / QUERIES - 0.10) < 0.019
    healthy_checks.discard("hc-p")  # the primary's health check fails: left out
    answers = Counter(tuple(records("api.example.com", "A") or []) for _ in range(200))
    assert answers == Counter({(("127.0.0.12", 7),): 200})
