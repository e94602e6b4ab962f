"""Route 53 health checkers of the sandbox: real probes, thresholds, honest status."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import boto3
import pytest

from chaosaws_ext.core.waiting import wait_until
from sandbox.behaviour.route53_health import Route53HealthCheckers, probe_endpoint
from sandbox.timing import Timings
from sandbox.workload.api import ApiInstance

TIMINGS = Timings(time_scale=0.02)  # RequestInterval 10 s -> 0.2 s
INTERVAL = TIMINGS.health_check_interval(10)
THRESHOLD = 3


@pytest.fixture
def endpoint() -> Iterator[ApiInstance]:
    instance = ApiInstance("api-test", "eu-south-1", "eu-south-1a")
    instance.start()
    yield instance
    instance.stop()


def _create_health_check(route53: object, host: str, port: int, **extra: object) -> str:
    config = {
        "IPAddress": host,
        "Port": port,
        "Type": "HTTP",
        "ResourcePath": "/health",
        "FullyQualifiedDomainName": "alb.eu-south-1.elb.amazonaws.com",
        "RequestInterval": 10,
        "FailureThreshold": THRESHOLD,
        **extra,
    }
    return route53.create_health_check(  # type: ignore[attr-defined]
        CallerReference=f"test-{time.monotonic_ns()}", HealthCheckConfig=config
    )["HealthCheck"]["Id"]


def _statuses(route53: object, hc_id: str) -> list[str]:
    observations = route53.get_health_check_status(  # type: ignore[attr-defined]
        HealthCheckId=hc_id
    )["HealthCheckObservations"]
    return [o["StatusReport"]["Status"] for o in observations]


def test_probe_reports_success_refusal_and_bad_status(endpoint: ApiInstance) -> None:
    host, port = endpoint.address
    config = {"type": "HTTP", "ip_address": host, "port": port, "resource_path": "/health"}
    assert probe_endpoint(config, (1, 1)).status == "Success: HTTP Status Code 200, OK"
    endpoint.set_healthy(False)
    result = probe_endpoint(config, (1, 1))
    assert (result.ok, result.status) == (
        False,
        "Failure: HTTP Status Code 503, Service Unavailable",
    )
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        free_port = unused.getsockname()[1]
    refused = probe_endpoint({**config, "port": free_port}, (1, 1))
    assert refused == (refused.__class__(False, "Failure: Connection refused."))
    assert probe_endpoint({**config, "type": "TCP"}, (1, 1)).ok


def test_unhealthy_after_threshold_failures_and_back(
    moto_endpoint: str, endpoint: ApiInstance
) -> None:
    route53 = boto3.client("route53", region_name="us-east-1")
    host, port = endpoint.address
    hc_id = _create_health_check(route53, host, port)
    with Route53HealthCheckers(timings=TIMINGS) as checkers:
        wait_until(
            lambda: len(checkers.observations(hc_id)) == len(checkers.regions),
            timeout=10,
            interval=0.05,
            what="one observation per checker region",
        )
        assert checkers.is_healthy(hc_id)
        statuses = _statuses(route53, hc_id)
        assert len(statuses) == 3
        assert all(s.startswith("Success: HTTP Status Code 200") for s in statuses)

        endpoint.set_healthy(False)
        failed_at = time.monotonic()
        wait_until(
            lambda: not checkers.is_healthy(hc_id),
            timeout=10,
            interval=0.02,
            what="health check unhealthy",
        )
        detected = time.monotonic() - failed_at
        # Each checker needs THRESHOLD consecutive failures: never before 2 intervals.
        assert detected >= (THRESHOLD - 1) * INTERVAL
        flip = checkers.flips(hc_id)[-1]
        assert flip.healthy is False
        first = checkers.first_failure_at(hc_id)
        assert first is not None and first.monotonic >= failed_at
        assert first.status == "Failure: HTTP Status Code 503, Service Unavailable"
        assert flip.monotonic - first.monotonic >= (THRESHOLD - 1) * INTERVAL
        assert all(s.startswith("Failure: HTTP Status Code 503") for s in _statuses(route53, hc_id))

        endpoint.set_healthy(True)
        wait_until(
            lambda: checkers.is_healthy(hc_id),
            timeout=10,
            interval=0.02,
            what="health check healthy again",
        )
        assert [f.healthy for f in checkers.flips(hc_id)] == [False, True]
    # uninstalled: moto's canned answer is back
    assert _statuses(route53, hc_id) == [
        "Success: HTTP Status Code: 200. Resolved IP: 127.0.13.37. OK"
    ]


def test_disabled_and_inverted_health_checks(moto_endpoint: str, endpoint: ApiInstance) -> None:
    route53 = boto3.client("route53", region_name="us-east-1")
    host, port = endpoint.address
    endpoint.set_healthy(False)
    inverted = _create_health_check(route53, host, port, Inverted=True)
    disabled = _create_health_check(route53, host, port, Disabled=True)
    plain = _create_health_check(route53, host, port)
    with Route53HealthCheckers(timings=TIMINGS) as checkers:
        wait_until(
            lambda: not checkers.is_healthy(plain),
            timeout=10,
            interval=0.02,
            what="plain check unhealthy",
        )
        assert checkers.is_healthy(inverted)
        assert checkers.is_healthy(disabled)


def test_deleted_health_check_stops_its_thread(moto_endpoint: str, endpoint: ApiInstance) -> None:
    route53 = boto3.client("route53", region_name="us-east-1")
    host, port = endpoint.address
    hc_id = _create_health_check(route53, host, port)
    with Route53HealthCheckers(timings=TIMINGS) as checkers:
        assert checkers.tracked() == [hc_id]
        route53.delete_health_check(HealthCheckId=hc_id)
        wait_until(
            lambda: not any(t.name == f"r53-health-{hc_id[:8]}" for t in _threads()),
            timeout=10,
            interval=0.05,
            what="checker thread gone",
        )
    assert not any(t.name.startswith("r53-health") for t in _threads())


def _threads() -> list:
    import threading

    return threading.enumerate()


def test_health_check_alarm_and_metric(moto_endpoint: str, endpoint: ApiInstance) -> None:
    route53 = boto3.client("route53", region_name="us-east-1")
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    host, port = endpoint.address
    hc_id = _create_health_check(route53, host, port)
    cloudwatch.put_metric_alarm(
        AlarmName="route53-primary-endpoint-unhealthy",
        Namespace="AWS/Route53",
        MetricName="HealthCheckStatus",
        Dimensions=[{"Name": "HealthCheckId", "Value": hc_id}],
        Statistic="Minimum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="LessThanThreshold",
    )

    def alarm_state() -> str:
        return cloudwatch.describe_alarms(AlarmNames=["route53-primary-endpoint-unhealthy"])[
            "MetricAlarms"
        ][0]["StateValue"]

    with Route53HealthCheckers(timings=TIMINGS) as checkers:
        wait_until(
            lambda: cloudwatch.list_metrics(Namespace="AWS/Route53")["Metrics"],
            timeout=10,
            interval=0.1,
            what="HealthCheckStatus published",
        )
        metric = cloudwatch.list_metrics(Namespace="AWS/Route53")["Metrics"][0]
        assert metric["MetricName"] == "HealthCheckStatus"
        assert metric["Dimensions"] == [{"Name": "HealthCheckId", "Value": hc_id}]
        assert alarm_state() == "OK"
        endpoint.set_healthy(False)
        wait_until(lambda: not checkers.is_healthy(hc_id), timeout=10, interval=0.02)
        unhealthy_at = checkers.flips(hc_id)[-1].monotonic
        wait_until(lambda: alarm_state() == "ALARM", timeout=10, interval=0.05, what="ALARM")
        # not before EvaluationPeriods x Period (60 s x 0.02)
        assert time.monotonic() - unhealthy_at >= TIMINGS.scaled(60)
        endpoint.set_healthy(True)
        wait_until(lambda: alarm_state() == "OK", timeout=10, interval=0.05, what="OK again")
