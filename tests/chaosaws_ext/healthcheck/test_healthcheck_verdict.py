"""Route 53's verdict from GetHealthCheckStatus: FailureThreshold per checker, the 18%
rule, Inverted and Disabled; the model alone, then against the sandbox health checkers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import boto3
import pytest

from chaosaws_ext.core.waiting import wait_until
from chaosaws_ext.healthcheck.probes import health_check_status
from chaosaws_ext.healthcheck.verdict import HealthCheckVerdicts, Observed, endpoint_healthy
from sandbox.behaviour.route53_health import Route53HealthCheckers
from sandbox.dataplane.api import ApiInstance
from sandbox.timing import Timings

CONFIG = {"aws_region": "us-east-1"}
TIMINGS = Timings(time_scale=0.15)  # RequestInterval 10 s -> 1.5 s
THRESHOLD = 3


def _feed(verdicts: HealthCheckVerdicts, oks: list[bool], threshold: int = 3) -> list[bool]:
    """One checker's opinion after each of its checks."""
    return [
        verdicts.observe("hc", [Observed("us-east-1", ok, f"t{n}")], threshold)["us-east-1"]
        for n, ok in enumerate(oks)
    ]


def test_a_checker_changes_its_opinion_after_threshold_consecutive_checks() -> None:
    opinions = _feed(HealthCheckVerdicts(), [True, False, False, True, False, False, False, True])
    assert opinions == [True, True, True, True, True, True, False, False]


def test_the_same_check_seen_twice_counts_once() -> None:
    verdicts = HealthCheckVerdicts()
    for _ in range(5):
        seen = verdicts.observe("hc", [Observed("a", True, "t0")], 3)
    for _ in range(5):
        seen = verdicts.observe("hc", [Observed("a", False, "t1")], 3)
    assert seen == {"a": True}


@pytest.mark.parametrize(
    ("opinions", "inverted", "disabled", "healthy"),
    [
        ({"a": True, "b": False, "c": False, "d": False, "e": False}, False, False, True),  # 20%
        ({"a": False, "b": False, "c": False, "d": False, "e": False}, False, False, False),
        ({"a": False, "b": False}, True, False, True),
        ({"a": True}, True, False, False),
        ({"a": False}, False, True, True),
        ({"a": False}, True, True, True),
    ],
)
def test_endpoint_verdict(
    opinions: dict[str, bool], inverted: bool, disabled: bool, healthy: bool
) -> None:
    assert endpoint_healthy(opinions, inverted, disabled) is healthy


# --- against the sandbox health checkers ---------------------------------------------


@pytest.fixture
def endpoint() -> Iterator[ApiInstance]:
    instance = ApiInstance("api-verdict", "us-east-1", "us-east-1a")
    instance.start()
    yield instance
    instance.stop()


def _health_check(route53: object, address: tuple[str, int], **extra: object) -> str:
    host, port = address
    config = {
        "IPAddress": host,
        "Port": port,
        "Type": "HTTP",
        "ResourcePath": "/health",
        "RequestInterval": 10,
        "FailureThreshold": THRESHOLD,
        **extra,
    }
    return route53.create_health_check(  # type: ignore[attr-defined]
        CallerReference=f"verdict-{time.monotonic_ns()}", HealthCheckConfig=config
    )["HealthCheck"]["Id"]


def test_probe_agrees_with_the_sandbox_checkers_not_earlier(
    moto_endpoint: str, endpoint: ApiInstance
) -> None:
    route53 = boto3.client("route53", region_name="us-east-1")
    plain = _health_check(route53, endpoint.address)
    inverted = _health_check(route53, endpoint.address, Inverted=True)
    disabled = _health_check(route53, endpoint.address, Disabled=True)
    with Route53HealthCheckers(timings=TIMINGS) as checkers:
        wait_until(
            lambda: all(len(checkers.observations(h)) == 3 for h in (plain, inverted, disabled)),
            timeout=15,
            interval=0.05,
            what="one observation per checker region",
        )
        assert health_check_status(plain, CONFIG)["healthy"] is True
        assert health_check_status(inverted, CONFIG)["healthy"] is False
        assert health_check_status(disabled, CONFIG)["healthy"] is True

        endpoint.set_healthy(False)
        probe_flip: float | None = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # poll faster than the checkers check
            status = health_check_status(plain, CONFIG)
            if not status["healthy"]:
                probe_flip = time.monotonic()
                break
            time.sleep(0.05)
        assert probe_flip is not None, "probe never saw the health check unhealthy"
        flips = checkers.flips(plain)
        assert flips and flips[-1].healthy is False
        # Not before the sandbox's own verdict (which applies the threshold per checker)
        assert probe_flip >= flips[-1].monotonic
        # polled until its checkers' opinions turn (each needs THRESHOLD checks seen)
        wait_until(
            lambda: health_check_status(inverted, CONFIG)["healthy"],
            timeout=20,
            interval=0.05,
            what="inverted health check healthy while the endpoint fails",
        )
        assert health_check_status(disabled, CONFIG)["healthy"] is True
