"""The Route 53 health verdict model of the sandbox, without moto and without sockets."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from sandbox.route53.failover_routing import load_balancer_healthy, route53_failover_resolver
from sandbox.route53.health import HealthCheckState, Observation, alarm_state

REGIONS = ("us-east-1", "us-west-1", "eu-west-1", "ap-southeast-1", "sa-east-1")


def _probe(state: HealthCheckState, region: str, ok: bool, at: float, **config: object) -> object:
    status = "Success: HTTP Status Code 200, OK" if ok else "Failure: Connection refused."
    observation = Observation(region, ok, status, datetime.now(UTC), at)
    return state.record(observation, **config)  # type: ignore[arg-type]


def test_unhealthy_only_when_at_most_18_percent_of_checkers_say_healthy() -> None:
    state = HealthCheckState.new("hc-1", REGIONS)
    flips = []
    clock = 0.0
    for _round in range(3):  # FailureThreshold 3: each region turns after its third failure
        for region in REGIONS:
            clock += 1.0
            flips.append(_probe(state, region, False, clock, failure_threshold=3))
    # 1 of 5 regions healthy is 20% > 18%: still healthy until the last region turns
    assert flips[:-1] == [None] * (len(flips) - 1)
    assert flips[-1] is False
    assert not state.healthy
    assert [f.healthy for f in state.flips] == [False]
    assert state.flips[0].monotonic == clock
    first = state.first_failure
    assert first is not None and (first.region, first.monotonic) == (REGIONS[0], 1.0)


def test_recovery_needs_threshold_successes_and_resets_the_outage() -> None:
    state = HealthCheckState.new("hc-1", REGIONS[:1])
    for at in (1.0, 2.0):
        assert _probe(state, REGIONS[0], False, at, failure_threshold=2) in (None, False)
    assert not state.healthy
    assert _probe(state, REGIONS[0], True, 3.0, failure_threshold=2) is None
    assert _probe(state, REGIONS[0], True, 4.0, failure_threshold=2) is True
    assert state.clean
    _probe(state, REGIONS[0], False, 5.0, failure_threshold=2)
    assert state.first_failure is not None and state.first_failure.monotonic == 5.0


def test_disabled_is_healthy_and_inverted_inverts() -> None:
    disabled = HealthCheckState.new("hc-d", REGIONS[:1])
    for at in (1.0, 2.0, 3.0):
        assert _probe(disabled, REGIONS[0], False, at, disabled=True) is None
    assert disabled.healthy
    inverted = HealthCheckState.new("hc-i", REGIONS[:1])
    assert _probe(inverted, REGIONS[0], True, 1.0, inverted=True) is False


def test_alarm_goes_to_alarm_after_its_window_and_back_to_ok() -> None:
    assert alarm_state(False, unhealthy_since=10.0, now=10.5, window=1.0) is None
    assert alarm_state(False, unhealthy_since=10.0, now=11.0, window=1.0) == (
        "ALARM",
        "Health check unhealthy for the evaluation window",
    )
    assert alarm_state(True, unhealthy_since=None, now=11.0, window=1.0) == (
        "OK",
        "Health check is healthy",
    )


def test_load_balancer_health_as_route53_evaluates_an_alb_alias() -> None:
    assert load_balancer_healthy({"tg-a": ["healthy", "unhealthy"], "tg-b": ["healthy"]})
    assert not load_balancer_healthy({"tg-a": ["healthy"], "tg-b": ["unhealthy", "initial"]})
    assert not load_balancer_healthy({"tg-a": ["healthy"], "tg-b": []})  # no targets
    assert not load_balancer_healthy({})


def _alias(role: str, hc: str, dns_name: str, evaluate: object) -> SimpleNamespace:
    return SimpleNamespace(
        name="api.example.com.",
        type="A",
        failover=role,
        set_identifier=role.lower(),
        health_check_id=hc,
        alias_target={"DNSName": dns_name, "EvaluateTargetHealth": evaluate},
        records=[],
        ttl=None,
    )


def _resolver(evaluate: object, healthy_checks: set[str], healthy_albs: set[str]) -> object:
    zone = SimpleNamespace(
        name="example.com.",
        rrsets=[
            _alias("PRIMARY", "hc-p", "primary-alb.elb.test", evaluate),
            _alias("SECONDARY", "hc-s", "standby-alb.elb.test", evaluate),
        ],
    )
    backend = SimpleNamespace(zones={"Z1": zone})
    addresses = {"primary-alb.elb.test": ["127.0.0.11"], "standby-alb.elb.test": ["127.0.0.12"]}
    return route53_failover_resolver(
        backend,
        "example.com",
        healthy_checks.__contains__,
        alias_resolver=addresses.__getitem__,
        alias_healthy=healthy_albs.__contains__,
        alias_ttl=7,
    )


def test_failover_alias_needs_its_health_check_and_its_targets() -> None:
    both = {"primary-alb.elb.test", "standby-alb.elb.test"}
    checks = {"hc-p", "hc-s"}
    answer = _resolver(True, checks, both)("api.example.com", "A")  # type: ignore[operator]
    assert answer == [("127.0.0.11", 7)]
    # the primary ALB has no healthy target: its record is unhealthy although hc-p passes
    answer = _resolver(True, checks, {"standby-alb.elb.test"})("api.example.com", "A")  # type: ignore[operator]
    assert answer == [("127.0.0.12", 7)]
    # its health check fails although its targets are healthy: unhealthy as well
    answer = _resolver(True, {"hc-s"}, both)("api.example.com", "A")  # type: ignore[operator]
    assert answer == [("127.0.0.12", 7)]
    # EvaluateTargetHealth false: target health is not looked at
    answer = _resolver(False, checks, {"standby-alb.elb.test"})("api.example.com", "A")  # type: ignore[operator]
    assert answer == [("127.0.0.11", 7)]
    # both unhealthy: Route 53 answers as if both were healthy, i.e. the primary
    answer = _resolver(True, checks, set())("api.example.com", "A")  # type: ignore[operator]
    assert answer == [("127.0.0.11", 7)]
