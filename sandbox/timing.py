"""Published AWS timings the sandbox imitates, and the one factor that scales them.

Every emulated delay in the sandbox is a published AWS figure multiplied by a single
``time_scale`` (1.0 = real time, 0.01 = a hundred times faster). Figures that are part of
the *configuration* stored in moto (a health check's ``RequestInterval``, a record's TTL)
keep their published values, so ``describe`` calls look like a real account; the
emulators scale them when they act on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# --- Route 53 health checks -----------------------------------------------------------
# "RequestInterval: The number of seconds between the time that Amazon Route 53 gets a
# response from your endpoint and the time that it sends the next health check request.
# [...] 10 or 30. [...] If you don't specify a value, the default value is 30."
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
HEALTH_CHECK_INTERVAL_S = 30
HEALTH_CHECK_FAST_INTERVAL_S = 10
# "FailureThreshold: [...] the number of consecutive health checks that an endpoint must
# pass or fail for Route 53 to change the current status [...] If you don't specify a
# value for FailureThreshold, the default value is three health checks." (same page)
HEALTH_CHECK_FAILURE_THRESHOLD = 3
# "If more than 18% of health checkers report that an endpoint is healthy, Route 53
# considers it healthy."
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/dns-failover-determining-health-of-endpoints.html
HEALTH_CHECK_HEALTHY_FRACTION = 0.18
# "Route 53 must be able to establish a TCP connection with the endpoint within four
# seconds. In addition, the endpoint must respond with an HTTP status code of 2xx or 3xx
# within two seconds after connecting." (same page)
HEALTH_CHECK_CONNECT_TIMEOUT_S = 4.0
HEALTH_CHECK_RESPONSE_TIMEOUT_S = 2.0
# Default checker regions (the API's HealthCheckRegion enum, first ones); the sandbox
# runs fewer checkers than AWS (which uses 15+ checkers) to keep threads and load small.
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html
HEALTH_CHECKER_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-1")

# --- DNS ------------------------------------------------------------------------------
# "If you're configuring [...] failover, we recommend that you specify a TTL of 60
# seconds or less" (Route 53 developer guide, "Values that you specify when you create
# or edit Amazon Route 53 records", TTL).
DNS_TTL_S = 60

# --- RDS ------------------------------------------------------------------------------
# "Failovers, as defined by the interval between the detection of the failure on the
# primary and the resumption of transactions on the standby, typically complete within
# 60-120 seconds." https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html
RDS_MULTI_AZ_FAILOVER_S = (60.0, 120.0)

# --- DynamoDB global tables -----------------------------------------------------------
# "Changes [...] are typically propagated to all replicas within a second."
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables_HowItWorks.html
DYNAMODB_REPLICATION_S = 1.0

# Below this, thread scheduling and loopback latency dominate the emulated delays.
MIN_SCALED_S = 0.01


@dataclass(frozen=True)
class Timings:
    """The published figures above, scaled by ``time_scale``."""

    time_scale: float = 1.0

    def __post_init__(self) -> None:
        if not (self.time_scale > 0 and math.isfinite(self.time_scale)):
            raise ValueError(f"time_scale must be a positive number, got {self.time_scale!r}")

    def scaled(self, seconds: float) -> float:
        """A published duration in sandbox seconds (never below ``MIN_SCALED_S``)."""
        return max(MIN_SCALED_S, seconds * self.time_scale)

    def health_check_interval(self, request_interval: int | None = None) -> float:
        return self.scaled(request_interval or HEALTH_CHECK_INTERVAL_S)

    def health_check_timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts for one probe; floors keep loopback probes honest."""
        return (
            max(0.25, self.scaled(HEALTH_CHECK_CONNECT_TIMEOUT_S)),
            max(0.25, self.scaled(HEALTH_CHECK_RESPONSE_TIMEOUT_S)),
        )

    def dns_ttl(self) -> int:
        """DNS TTLs are whole seconds: the published 60 s scaled, at least 1 s."""
        return max(1, round(DNS_TTL_S * self.time_scale))

    def rds_failover(self) -> tuple[float, float]:
        low, high = RDS_MULTI_AZ_FAILOVER_S
        return self.scaled(low), self.scaled(high)

    def dynamodb_replication(self) -> float:
        return self.scaled(DYNAMODB_REPLICATION_S)
