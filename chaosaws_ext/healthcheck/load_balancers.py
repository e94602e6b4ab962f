"""Resolve what a health-check path block acts on: health check -> ALB -> listener / web ACL.

Read-only: only Get/Describe/List calls live here. Every user mistake becomes an
``ActivityFailed`` with one line saying what to pass instead.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed

from chaosaws_ext.core.clients import error_code
from chaosaws_ext.healthcheck import FAULT

__all__ = [
    "FAULT",
    "HealthCheckTarget",
    "error_code",
    "read_health_check",
    "normalise_path",
    "all_load_balancers",
    "find_load_balancer",
    "listeners_of",
    "choose_listener",
    "listener_by_arn",
    "web_acl_of",
    "tags_of",
]

logger = logging.getLogger(__name__)

# Health check types that request a path, and the protocol they speak.
PATH_TYPES = {
    "HTTP": "HTTP",
    "HTTPS": "HTTPS",
    "HTTP_STR_MATCH": "HTTP",
    "HTTPS_STR_MATCH": "HTTPS",
}
DEFAULT_PORTS = {"HTTP": 80, "HTTPS": 443}
MAX_PAGES = 200  # bound on every paginated listing (20 000+ items)
ELB_PATTERN_MAX = 128


@dataclass
class HealthCheckTarget:
    """What a Route 53 health check probes."""

    health_check_id: str
    type: str
    protocol: str  # HTTP or HTTPS
    path: str
    port: int
    fqdn: str | None
    ip_address: str | None


def normalise_path(path: str) -> str:
    """The URL path a rule must match exactly: query string dropped, no wildcards."""
    path = (path or "").split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        raise ActivityFailed(f"path {path!r} must start with '/' (for example /health)")
    if "*" in path or "?" in path:
        raise ActivityFailed(f"path {path!r} contains a wildcard; give the exact path probed")
    if len(path) > ELB_PATTERN_MAX:
        raise ActivityFailed(f"path {path!r} is longer than {ELB_PATTERN_MAX} characters")
    return path


def read_health_check(route53: Any, health_check_id: str) -> HealthCheckTarget:
    """Path, port and target of an HTTP(S) health check; refuses other types."""
    if not isinstance(health_check_id, str) or not re.fullmatch(
        r"[A-Za-z0-9-]{1,64}", health_check_id
    ):
        raise ActivityFailed(
            f"unknown health check {health_check_id!r}: not a Route 53 health check id; check "
            "GAMEDAY_HEALTH_CHECK_ID (aws route53 list-health-checks)"
        )
    try:
        config = route53.get_health_check(HealthCheckId=health_check_id)["HealthCheck"][
            "HealthCheckConfig"
        ]
    except ClientError as error:
        if error_code(error) in ("NoSuchHealthCheck", "InvalidInput"):
            raise ActivityFailed(
                f"unknown health check {health_check_id!r}: check GAMEDAY_HEALTH_CHECK_ID "
                "(aws route53 list-health-checks)"
            ) from error
        raise
    kind = str(config.get("Type", ""))
    protocol = PATH_TYPES.get(kind)
    if protocol is None:
        raise ActivityFailed(
            f"health check {health_check_id} is of type {kind}, which probes no path; "
            "only HTTP, HTTPS, HTTP_STR_MATCH and HTTPS_STR_MATCH checks can be blocked"
        )
    port = int(config.get("Port") or DEFAULT_PORTS[protocol])
    # Route 53 requests "/" when no ResourcePath is set.
    path = normalise_path(str(config.get("ResourcePath") or "/"))
    return HealthCheckTarget(
        health_check_id=health_check_id,
        type=kind,
        protocol=protocol,
        path=path,
        port=port,
        fqdn=config.get("FullyQualifiedDomainName") or None,
        ip_address=config.get("IPAddress") or None,
    )


def _dns_key(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    # Alias records point at "dualstack.<alb dns name>"; same load balancer.
    return name.removeprefix("dualstack.")


def all_load_balancers(elbv2: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pages = elbv2.get_paginator("describe_load_balancers").paginate(
        PaginationConfig={"MaxItems": MAX_PAGES * 400}
    )
    for page in pages:
        found.extend(page.get("LoadBalancers", []))
    return found


def _describe_load_balancer(elbv2: Any, arn: str) -> dict[str, Any]:
    try:
        return elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    except ClientError as error:
        if error_code(error) in ("LoadBalancerNotFound", "ValidationError"):
            raise ActivityFailed(f"no load balancer {arn} in this region") from error
        raise


def find_load_balancer(
    elbv2: Any, fqdn: str | None = None, load_balancer_arn: str | None = None
) -> dict[str, Any]:
    """The application load balancer: explicit ARN, else the one whose DNSName is ``fqdn``."""
    if load_balancer_arn:
        balancer = _describe_load_balancer(elbv2, load_balancer_arn)
    elif fqdn:
        wanted = _dns_key(fqdn)
        matches = [b for b in all_load_balancers(elbv2) if _dns_key(b["DNSName"]) == wanted]
        if not matches:
            raise ActivityFailed(
                f"no load balancer has DNS name {fqdn} in this region; "
                "pass load_balancer_arn (or listener_arn) explicitly"
            )
        balancer = matches[0]
    else:
        raise ActivityFailed(
            "cannot find the load balancer: the health check names no domain name; "
            "pass load_balancer_arn or listener_arn"
        )
    if balancer.get("Type") != "application":
        raise ActivityFailed(
            f"{balancer['LoadBalancerArn']} is a {balancer.get('Type')} load balancer; "
            "only application load balancers have listener rules and WAF"
        )
    return balancer


def listeners_of(elbv2: Any, load_balancer_arn: str) -> list[dict[str, Any]]:
    listeners: list[dict[str, Any]] = []
    for page in elbv2.get_paginator("describe_listeners").paginate(
        LoadBalancerArn=load_balancer_arn, PaginationConfig={"MaxItems": MAX_PAGES * 400}
    ):
        listeners.extend(page.get("Listeners", []))
    return listeners


def listener_by_arn(elbv2: Any, listener_arn: str) -> dict[str, Any]:
    try:
        return elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
    except ClientError as error:
        if error_code(error) in ("ListenerNotFound", "ValidationError"):
            raise ActivityFailed(f"no listener {listener_arn} in this region") from error
        raise


def choose_listener(
    elbv2: Any,
    load_balancer_arn: str,
    port: int | None,
    protocol: str | None,
    listener_arn: str | None = None,
) -> dict[str, Any]:
    """Explicit listener, else the one on the health check's port, else the single one
    speaking its protocol; otherwise refuse, listing the candidates."""
    if listener_arn:
        listener = listener_by_arn(elbv2, listener_arn)
        if listener["LoadBalancerArn"] != load_balancer_arn:
            raise ActivityFailed(
                f"listener {listener_arn} does not belong to load balancer {load_balancer_arn}"
            )
        return listener
    listeners = listeners_of(elbv2, load_balancer_arn)
    if not listeners:
        raise ActivityFailed(f"load balancer {load_balancer_arn} has no listener")
    on_port = [item for item in listeners if port is not None and item.get("Port") == port]
    if len(on_port) == 1:
        return on_port[0]
    same_protocol = [
        item for item in listeners if protocol is None or item.get("Protocol") == protocol
    ]
    if len(same_protocol) == 1:
        return same_protocol[0]
    candidates = ", ".join(
        f"{item.get('Protocol')}:{item.get('Port')} {item['ListenerArn']}" for item in listeners
    )
    wanted = f"port {port}" if port is not None else "a port"
    raise ActivityFailed(
        f"no single listener matches {wanted}/{protocol or 'any protocol'}; "
        f"pass listener_arn, one of: {candidates}"
    )


def web_acl_of(wafv2: Any, load_balancer_arn: str) -> dict[str, Any] | None:
    """The web ACL associated with the load balancer (summary with ARN), or None."""
    try:
        found = wafv2.get_web_acl_for_resource(ResourceArn=load_balancer_arn)
    except ClientError as error:
        if error_code(error) == "WAFNonexistentItemException":
            return None
        raise
    return found.get("WebACL") or None


def tags_of(client: Any, arns: list[str]) -> dict[str, dict[str, str]]:
    """ELBv2 tags of up to any number of ARNs (describe_tags takes 20 at a time)."""
    tags: dict[str, dict[str, str]] = {}
    for start in range(0, len(arns), 20):
        chunk = arns[start : start + 20]
        try:
            found = client.describe_tags(ResourceArns=chunk)["TagDescriptions"]
        except ClientError as error:
            if error_code(error) not in ("RuleNotFound", "ListenerNotFound"):
                raise
            # one ARN vanished meanwhile: ask one by one
            found = []
            for arn in chunk:
                try:
                    found.extend(client.describe_tags(ResourceArns=[arn])["TagDescriptions"])
                except ClientError as inner:
                    if error_code(inner) not in ("RuleNotFound", "ListenerNotFound"):
                        raise
        for item in found:
            tags[item["ResourceArn"]] = {t["Key"]: t["Value"] for t in item.get("Tags", [])}
    return tags
