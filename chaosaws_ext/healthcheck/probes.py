"""Probes of the health-check path block: health check status and failover DNS answers."""

from __future__ import annotations

import logging
import time
from typing import Any

import dns.exception
import dns.resolver
from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client
from chaosaws_ext.core.numbers import checked_integer, checked_number
from chaosaws_ext.core.timeline import mark_phase
from chaosaws_ext.core.waiting import WaitTimedOut, wait_until
from chaosaws_ext.healthcheck.load_balancers import MAX_PAGES, error_code
from chaosaws_ext.healthcheck.verdict import HealthCheckVerdicts, Observed, endpoint_healthy

__all__ = [
    "health_check_status",
    "wait_for_health_check_status",
    "failover_record_answer",
    "route53_failover_record_target",
]

logger = logging.getLogger("chaosaws_ext")

# Every checker's opinion across calls in this process (see verdict.py for why).
_verdicts = HealthCheckVerdicts()


def health_check_status(
    health_check_id: str, configuration: Configuration = None, secrets: Secrets = None
) -> dict[str, Any]:
    """Healthy or not, as Route 53 decides it (:mod:`chaosaws_ext.healthcheck.verdict`):
    each checker's opinion changes after ``FailureThreshold`` consecutive checks, more
    than 18% healthy opinions is healthy, ``Inverted`` inverts, ``Disabled`` is healthy.
    ``observations`` lists each checker's region and latest status line."""
    route53 = aws_client("route53", configuration, secrets)
    try:
        config = route53.get_health_check(HealthCheckId=health_check_id)["HealthCheck"][
            "HealthCheckConfig"
        ]
        found = route53.get_health_check_status(HealthCheckId=health_check_id)
    except ClientError as error:
        if error_code(error) in ("NoSuchHealthCheck", "InvalidInput"):
            raise ActivityFailed(f"unknown health check {health_check_id!r}") from error
        raise
    threshold = int(config.get("FailureThreshold") or 3)
    inverted, disabled = bool(config.get("Inverted")), bool(config.get("Disabled"))
    observations = []
    for item in found.get("HealthCheckObservations", []):
        report = item.get("StatusReport") or {}
        status = str(report.get("Status", ""))
        checked = report.get("CheckedTime")
        observations.append(
            {
                "region": item.get("Region"),
                "ip": item.get("IPAddress"),
                "ok": status.startswith("Success"),
                "status": status[:200],
                "checked_at": checked.isoformat() if hasattr(checked, "isoformat") else checked,
            }
        )
    opinions = _verdicts.observe(
        health_check_id,
        (
            Observed(str(o["region"] or o["ip"]), o["ok"], str(o["checked_at"]))
            for o in observations
        ),
        threshold,
    )
    return {
        "health_check_id": health_check_id,
        "healthy": endpoint_healthy(opinions, inverted, disabled),
        "checkers": len(opinions),
        "healthy_checkers": sum(opinions.values()),
        "failure_threshold": threshold,
        "inverted": inverted,
        "disabled": disabled,
        "observations": observations,
    }


def wait_for_health_check_status(
    health_check_id: str,
    healthy: bool = False,
    timeout: float = 120,
    interval: float = 5,
    fail_on_timeout: bool = True,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """Wait (bounded by ``timeout``) until the health check is ``healthy`` (or not).

    With ``fail_on_timeout: false`` a timeout is reported (``reached: false``) instead
    of failing, for targets where health checks are not evaluated (moto) or where the
    verdict is left to the measurement.
    """
    where = "wait_for_health_check_status"
    timeout = checked_number(timeout, "timeout", activity=where)
    interval = checked_number(interval, "interval", above=True, activity=where)
    started = time.monotonic()
    last: dict[str, Any] = {}

    def reached() -> bool:
        nonlocal last
        last = health_check_status(health_check_id, configuration, secrets)
        return last["healthy"] is healthy

    try:
        wait_until(
            reached,
            timeout=timeout,
            interval=interval,
            what=f"health check {health_check_id} {'healthy' if healthy else 'unhealthy'}",
        )
        ok = True
        mark_phase("health_check_healthy" if healthy else "health_check_unhealthy")
    except WaitTimedOut:
        if fail_on_timeout:
            raise
        logger.warning(
            "health check %s still %s after %ss", health_check_id, last.get("healthy"), timeout
        )
        ok = False
    return {
        "reached": ok,
        "wanted_healthy": healthy,
        "waited_s": round(time.monotonic() - started, 3),
        "status": {k: v for k, v in last.items() if k != "observations"},
    }


def _nameserver(nameserver: str | None, port: int) -> tuple[str | None, int]:
    """``None``/"" = system resolver; "ip", "ip:port", "[v6]:port" or a bare IPv6."""
    if not nameserver:
        return None, port
    text = nameserver.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest.lstrip(":") or port)
    if text.count(":") == 1:
        host, _, number = text.partition(":")
        return host, int(number)
    return text, port


def failover_record_answer(
    record_name: str,
    nameserver: str | None = None,
    port: int = 53,
    record_type: str = "A",
    timeout: float = 2,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """What a resolver answers for the failover record right now, and its TTL.

    ``nameserver``: an address ("127.0.0.1", "127.0.0.1:5353") or empty for the system
    resolver. A DNS failure is reported in ``error`` (with empty ``answers``), not
    raised, so the probe can be sampled through an outage.
    """
    where = "failover_record_answer"
    port = checked_integer(port, "port", minimum=1, maximum=65535, activity=where)
    timeout = checked_number(timeout, "timeout", above=True, activity=where)
    host, port = _nameserver(nameserver, port)
    if host is None:
        resolver = dns.resolver.Resolver()
    else:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None
    result: dict[str, Any] = {
        "record_name": record_name,
        "record_type": record_type,
        "nameserver": f"{host}:{port}" if host else "system",
        "answers": [],
        "ttl": None,
        "error": None,
    }
    try:
        answer = resolver.resolve(record_name, record_type, raise_on_no_answer=False)
    except dns.resolver.NXDOMAIN:
        result["error"] = "NXDOMAIN"
        return result
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as error:
        result["error"] = type(error).__name__
        return result
    if answer.rrset is not None:
        result["answers"] = sorted(item.to_text() for item in answer.rrset)
        result["ttl"] = answer.rrset.ttl
    return result


def route53_failover_record_target(
    hosted_zone_id: str,
    record_name: str,
    record_type: str = "A",
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> dict[str, Any]:
    """The failover record sets of ``record_name`` from the Route 53 API: which is
    PRIMARY and which SECONDARY, where each points and which health check guards it."""
    route53 = aws_client("route53", configuration, secrets)
    return failover_record_sets(route53, hosted_zone_id, record_name, record_type)


def failover_record_sets(
    route53: Any, hosted_zone_id: str, record_name: str, record_type: str = "A"
) -> dict[str, Any]:
    """:func:`route53_failover_record_target` with a given client (a helper, not an
    activity: kept out of ``__all__``, which ``chaos discover`` lists)."""
    wanted = record_name.rstrip(".").lower() + "."
    sets: list[dict[str, Any]] = []
    start: dict[str, Any] = {"StartRecordName": wanted, "StartRecordType": record_type}
    for _ in range(MAX_PAGES):
        page = route53.list_resource_record_sets(HostedZoneId=hosted_zone_id, **start)
        records = page.get("ResourceRecordSets", [])
        for record in records:
            if record["Name"].lower() == wanted and record["Type"] == record_type:
                sets.append(record)
        beyond = any(r["Name"].lower() != wanted or r["Type"] != record_type for r in records)
        if beyond or not page.get("IsTruncated"):
            break
        start = {
            "StartRecordName": page["NextRecordName"],
            "StartRecordType": page["NextRecordType"],
        }
        if page.get("NextRecordIdentifier"):
            start["StartRecordIdentifier"] = page["NextRecordIdentifier"]
    result: dict[str, Any] = {"record_name": wanted, "record_type": record_type}
    for record in sets:
        role = record.get("Failover")
        if role not in ("PRIMARY", "SECONDARY"):
            continue
        alias = record.get("AliasTarget") or {}
        result[role.lower()] = {
            "set_identifier": record.get("SetIdentifier"),
            "health_check_id": record.get("HealthCheckId"),
            "values": [v["Value"] for v in record.get("ResourceRecords", [])],
            "alias": alias.get("DNSName"),
            "evaluate_target_health": alias.get("EvaluateTargetHealth"),
            "ttl": record.get("TTL"),
        }
    if "primary" not in result and "secondary" not in result:
        raise ActivityFailed(
            f"no failover record set {wanted} {record_type} in hosted zone {hosted_zone_id}"
        )
    return result
