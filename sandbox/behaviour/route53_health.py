"""Route 53 health checkers: real probes, thresholds, and honest GetHealthCheckStatus.

moto stores health checks but never checks anything: ``get_health_check_status`` always
answers "Success". Here, for every health check of one moto account, a thread probes
the endpoint the way Route 53 does (``IPAddress:Port`` + ``ResourcePath``, ``Host``
header = ``FullyQualifiedDomainName``; 2xx/3xx within the timeouts is a success) from
several emulated checker regions, staggered across ``RequestInterval`` (scaled by the
sandbox time scale). Each checker region changes its verdict after ``FailureThreshold``
consecutive failures or successes; the health check is healthy while more than 18% of
the checker regions say so (the published rule). ``Disabled`` counts as healthy,
``Inverted`` inverts. moto's ``get_health_check_status`` response is patched to return
each checker region's latest observation, as AWS does.

The DNS server asks :meth:`Route53HealthCheckers.is_healthy`; measurements can read
:meth:`first_failure_at` and :meth:`flips`. Like AWS, the checkers publish the
``AWS/Route53 HealthCheckStatus`` metric (us-east-1, once a scaled minute), and alarms on
that metric are evaluated (ALARM after EvaluationPeriods x Period unhealthy, scaled; OK
when healthy again), so they can serve as stop conditions.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.timing import (
    HEALTH_CHECK_HEALTHY_FRACTION,
    HEALTH_CHECKER_REGIONS,
    Timings,
)

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"
# The addresses AWS checkers come from are public; these are documentation addresses.
_CHECKER_IPS = {region: f"192.0.2.{10 + i}" for i, region in enumerate(HEALTH_CHECKER_REGIONS)}
_BODY_LIMIT = 5120
# Route 53 publishes HealthCheckStatus once a minute, in us-east-1 only.
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html
METRIC_PERIOD_S = 60.0
METRIC_REGION = "us-east-1"  # Route 53 searches the first 5,120 bytes for *_STR_MATCH checks.


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    status: str  # as AWS words it: "Success: HTTP Status Code 200, OK", "Failure: ..."


@dataclass(frozen=True)
class Observation:
    region: str
    ok: bool
    status: str
    checked_at: datetime
    monotonic: float


@dataclass(frozen=True)
class Flip:
    """The health check's aggregated status changed to ``healthy`` at these times."""

    healthy: bool
    monotonic: float
    wall: datetime


@dataclass
class _RegionState:
    healthy: bool = True
    consecutive_ok: int = 0
    consecutive_failed: int = 0
    last: Observation | None = None


@dataclass
class _HealthCheckState:
    health_check_id: str
    regions: dict[str, _RegionState]
    healthy: bool = True
    first_failure: Observation | None = None  # first failed probe of the current outage
    clean: bool = True  # every checker's latest probe succeeded since first_failure
    flips: list[Flip] = field(default_factory=list)


def probe_endpoint(config: dict[str, Any], timeouts: tuple[float, float]) -> ProbeResult:
    """One Route 53-style probe of a health check config (moto attribute names)."""
    check_type = (config.get("type") or "HTTP").upper()
    host = config.get("ip_address") or config.get("fqdn")
    port = int(config.get("port") or (443 if check_type.startswith("HTTPS") else 80))
    connect_timeout, read_timeout = timeouts
    if not host:
        return ProbeResult(False, "Failure: The health check has no IP address or domain name.")
    try:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
    except TimeoutError:
        return ProbeResult(
            False,
            "Failure: Connection timed out. The endpoint or the internet connection is down,"
            " or requests are being blocked by your firewall.",
        )
    except ConnectionRefusedError:
        return ProbeResult(False, "Failure: Connection refused.")
    except OSError as error:
        return ProbeResult(False, f"Failure: Could not connect: {error.strerror or error}.")
    if check_type == "TCP":
        sock.close()
        return ProbeResult(True, "Success: TCP connection established.")
    fqdn = config.get("fqdn") or host
    try:
        sock.settimeout(read_timeout)
        if check_type.startswith("HTTPS"):
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE  # Route 53 does not validate certificates
            sni = fqdn if config.get("enable_sni") else None
            sock = context.wrap_socket(sock, server_hostname=sni)
        connection = http.client.HTTPConnection(fqdn, port, timeout=read_timeout)
        connection.sock = sock  # already connected (and wrapped), to IPAddress
        try:
            path = config.get("resource_path") or "/"
            connection.request(
                "GET",
                path,
                headers={"Host": fqdn, "User-Agent": "Amazon-Route53-Health-Check-Service"},
            )
            response = connection.getresponse()
            body = response.read(_BODY_LIMIT)
        finally:
            connection.close()
    except TimeoutError:
        return ProbeResult(False, "Failure: The endpoint did not respond in time.")
    except (OSError, http.client.HTTPException) as error:
        return ProbeResult(False, f"Failure: {type(error).__name__}: {error}.")
    code, reason = response.status, response.reason
    if not 200 <= code < 400:
        return ProbeResult(False, f"Failure: HTTP Status Code {code}, {reason}")
    search = config.get("search_string")
    if check_type.endswith("STR_MATCH") and search:
        if search.encode() not in body:
            return ProbeResult(False, "Failure: Search string not found in response body.")
    return ProbeResult(True, f"Success: HTTP Status Code {code}, {reason}")


class Route53HealthCheckers:
    """Health checkers for every health check of one moto account.

    ``install()`` starts a discovery thread (one checker thread per health check, started
    and ended as health checks appear and disappear) and patches moto's
    GetHealthCheckStatus for that account; ``uninstall()`` stops and joins every thread
    and removes the patch. Must run in the process that hosts the moto server.
    """

    def __init__(
        self,
        account_id: str = DEFAULT_ACCOUNT_ID,
        timings: Timings | None = None,
        regions: tuple[str, ...] = HEALTH_CHECKER_REGIONS,
        probe: Callable[[dict[str, Any], tuple[float, float]], ProbeResult] = probe_endpoint,
        publish_metrics: bool = True,
    ) -> None:
        if not regions:
            raise ValueError("at least one checker region is needed")
        self.account_id = account_id
        self.timings = timings or Timings()
        self.regions = tuple(regions)
        self._probe = probe
        self.publish_metrics = publish_metrics
        self._lock = threading.Lock()
        self._states: dict[str, _HealthCheckState] = {}
        self._threads: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._listeners: list[Callable[[str, bool], None]] = []

    # -- lifecycle ---------------------------------------------------------------------
    def install(self) -> None:
        if self._supervisor is not None:
            return
        _register(self)
        self._stop.clear()
        self._sync()
        self._supervisor = threading.Thread(
            target=self._supervise, name=f"r53-health-supervisor-{self.account_id}", daemon=True
        )
        self._supervisor.start()

    def start(self) -> None:
        """:meth:`install`, as every emulator starts (:mod:`sandbox.lifecycle`)."""
        self.install()

    def stop(self) -> None:
        self.uninstall()

    def uninstall(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout)
            self._supervisor = None
        with self._lock:
            threads = list(self._threads.values())
            self._threads.clear()
        for _thread, stop in threads:
            stop.set()
        for thread, _ in threads:
            thread.join(timeout)
        _unregister(self)

    def __enter__(self) -> Route53HealthCheckers:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    # -- what others read --------------------------------------------------------------
    def is_healthy(self, health_check_id: str) -> bool:
        """Route 53's verdict; unknown ids (not checked yet) count as healthy, as in AWS."""
        with self._lock:
            state = self._states.get(health_check_id)
            return True if state is None else state.healthy

    def first_failure_at(self, health_check_id: str) -> Observation | None:
        """The first failed probe of the current (or last) outage, or None."""
        with self._lock:
            state = self._states.get(health_check_id)
            return None if state is None else state.first_failure

    def flips(self, health_check_id: str) -> list[Flip]:
        with self._lock:
            state = self._states.get(health_check_id)
            return [] if state is None else list(state.flips)

    def observations(self, health_check_id: str) -> list[Observation]:
        with self._lock:
            state = self._states.get(health_check_id)
            if state is None:
                return []
            return [r.last for r in state.regions.values() if r.last is not None]

    def tracked(self) -> list[str]:
        with self._lock:
            return list(self._states)

    def on_change(self, callback: Callable[[str, bool], None]) -> None:
        """``callback(health_check_id, healthy)`` after every aggregated flip."""
        self._listeners.append(callback)

    # -- threads -----------------------------------------------------------------------
    def _backend(self) -> Any:
        from moto.route53.models import route53_backends

        return route53_backends[self.account_id]["aws"]

    def _configs(self) -> dict[str, Any]:
        try:
            return dict(self._backend().health_checks)
        except Exception:  # noqa: BLE001 (a reset backend is simply empty)
            return {}

    def _sync(self) -> None:
        present = self._configs()
        with self._lock:
            for hc_id in present:
                if hc_id not in self._threads and not self._stop.is_set():
                    self._states.setdefault(
                        hc_id,
                        _HealthCheckState(hc_id, {r: _RegionState() for r in self.regions}),
                    )
                    stop = threading.Event()
                    thread = threading.Thread(
                        target=self._check_loop,
                        args=(hc_id, stop),
                        name=f"r53-health-{hc_id[:8]}",
                        daemon=True,
                    )
                    self._threads[hc_id] = (thread, stop)
                    thread.start()
            for hc_id in [h for h in self._threads if h not in present]:
                _, stop = self._threads.pop(hc_id)
                stop.set()  # the thread also ends by itself when its config is gone

    def _supervise(self) -> None:
        period = min(1.0, self.timings.health_check_interval(10))
        next_metric = time.monotonic()
        while not self._stop.wait(period):
            self._sync()
            if not self.publish_metrics:
                continue
            try:
                if time.monotonic() >= next_metric:
                    next_metric = time.monotonic() + self.timings.scaled(METRIC_PERIOD_S)
                    self._publish_metrics()
                self._evaluate_alarms()
            except Exception:  # noqa: BLE001 (a reset backend, a deleted alarm: next round)
                log.debug("health check metrics/alarms round failed", exc_info=True)

    # -- CloudWatch: the HealthCheckStatus metric and the alarms on it -------------------
    def _cloudwatch(self) -> Any:
        from moto.cloudwatch.models import cloudwatch_backends

        return cloudwatch_backends[self.account_id][METRIC_REGION]

    def _publish_metrics(self) -> None:
        """One ``AWS/Route53 HealthCheckStatus`` datapoint (1 healthy, 0 not) per
        health check and (scaled) minute, in us-east-1 as AWS does."""
        with self._lock:
            values = {hc_id: state.healthy for hc_id, state in self._states.items()}
        if not values:
            return
        now = datetime.now(UTC)
        self._cloudwatch().put_metric_data(
            "AWS/Route53",
            [
                {
                    "MetricName": "HealthCheckStatus",
                    "Dimensions": [{"Name": "HealthCheckId", "Value": hc_id}],
                    "Value": 1.0 if healthy else 0.0,
                    "Timestamp": now,
                    "Unit": "None",
                }
                for hc_id, healthy in values.items()
            ],
        )

    def _evaluate_alarms(self) -> None:
        """Alarms on ``AWS/Route53 HealthCheckStatus`` of a checked health check go to
        ALARM once it has been unhealthy for EvaluationPeriods x Period (scaled), and
        back to OK when it is healthy (moto never evaluates alarms)."""
        backend = self._cloudwatch()
        now = time.monotonic()
        for alarm in list(backend.alarms.values()):
            if (alarm.namespace, alarm.metric_name) != ("AWS/Route53", "HealthCheckStatus"):
                continue
            hc_id = next(
                (str(d.value) for d in alarm.dimensions if str(d.name) == "HealthCheckId"), None
            )
            with self._lock:
                state = self._states.get(hc_id or "")
                if state is None:
                    continue
                healthy = state.healthy
                since = state.flips[-1].monotonic if state.flips else None
            window = self.timings.scaled(float(alarm.period or 60) * int(alarm.evaluation_periods))
            if healthy:
                wanted, reason = "OK", "Health check is healthy"
            elif since is not None and now - since >= window:
                wanted, reason = "ALARM", "Health check unhealthy for the evaluation window"
            else:
                continue
            if alarm.state_value != wanted:
                backend.set_alarm_state(
                    alarm.name,
                    f"Threshold Crossed: {reason} (sandbox evaluation).",
                    json.dumps({"healthCheckId": hc_id, "healthy": healthy}),
                    wanted,
                )
                log.info("alarm %s -> %s", alarm.name, wanted)

    def _check_loop(self, hc_id: str, stop: threading.Event) -> None:
        start = time.monotonic()
        config = self._configs().get(hc_id)
        if config is None:
            return
        interval = self.timings.health_check_interval(config.request_interval)
        # AWS checkers are not synchronised: stagger them across one interval.
        due = {r: start + i * interval / len(self.regions) for i, r in enumerate(self.regions)}
        while not stop.is_set() and not self._stop.is_set():
            region = min(due, key=due.__getitem__)
            if stop.wait(max(0.0, due[region] - time.monotonic())) or self._stop.is_set():
                return
            config = self._configs().get(hc_id)
            if config is None:
                return
            try:
                result = self._probe(_config_dict(config), self.timings.health_check_timeouts())
            except Exception as error:  # noqa: BLE001 (a probe bug must not kill the checker)
                log.exception("health check probe crashed")
                result = ProbeResult(False, f"Failure: {error}")
            self._record(hc_id, region, result, config)
            # "between the time that Route 53 gets a response [...] and [...] the next"
            due[region] = time.monotonic() + self.timings.health_check_interval(
                config.request_interval
            )

    def _record(self, hc_id: str, region: str, result: ProbeResult, config: Any) -> None:
        now = time.monotonic()
        observation = Observation(region, result.ok, result.status, datetime.now(UTC), now)
        threshold = int(config.failure_threshold or 3)
        changed: bool | None = None
        with self._lock:
            state = self._states[hc_id]
            regional = state.regions[region]
            regional.last = observation
            if result.ok:
                regional.consecutive_ok += 1
                regional.consecutive_failed = 0
                if not regional.healthy and regional.consecutive_ok >= threshold:
                    regional.healthy = True
            else:
                regional.consecutive_failed += 1
                regional.consecutive_ok = 0
                if regional.healthy and regional.consecutive_failed >= threshold:
                    regional.healthy = False
                if state.clean:
                    state.first_failure = observation
                    state.clean = False
            if result.ok and all(r.last is None or r.last.ok for r in state.regions.values()):
                state.clean = True
            healthy_share = sum(r.healthy for r in state.regions.values()) / len(state.regions)
            healthy = healthy_share > HEALTH_CHECK_HEALTHY_FRACTION
            if config.disabled:
                healthy = True
            elif config.inverted:
                healthy = not healthy
            if healthy != state.healthy:
                state.healthy = healthy
                state.flips.append(Flip(healthy, now, observation.checked_at))
                changed = healthy
        if changed is not None:
            log.info("health check %s is now %s", hc_id, "healthy" if changed else "unhealthy")
            for callback in list(self._listeners):
                try:
                    callback(hc_id, changed)
                except Exception:  # noqa: BLE001
                    log.exception("health check listener failed")


def _config_dict(config: Any) -> dict[str, Any]:
    return {
        "type": config.type_,
        "ip_address": config.ip_address,
        "port": config.port,
        "resource_path": config.resource_path,
        "fqdn": config.fqdn,
        "search_string": config.search_string,
        "enable_sni": config.enable_sni,
    }


# -- the moto patch (one per process, shared by every installed checker set) ------------
_registry: dict[str, Route53HealthCheckers] = {}
_registry_lock = threading.Lock()
_original: Any = None


def _register(checkers: Route53HealthCheckers) -> None:
    global _original
    from moto.route53.responses import Route53

    with _registry_lock:
        if checkers.account_id in _registry and _registry[checkers.account_id] is not checkers:
            raise RuntimeError(
                f"moto account {checkers.account_id} already has health checkers installed"
            )
        _registry[checkers.account_id] = checkers
        if _original is None:
            _original = Route53.get_health_check_status
            Route53.get_health_check_status = _patched_get_health_check_status


def _unregister(checkers: Route53HealthCheckers) -> None:
    global _original
    from moto.route53.responses import Route53

    with _registry_lock:
        if _registry.get(checkers.account_id) is checkers:
            del _registry[checkers.account_id]
        if not _registry and _original is not None:
            Route53.get_health_check_status = _original
            _original = None


def _patched_get_health_check_status(self: Any) -> Any:
    from moto.core.responses import ActionResult

    with _registry_lock:
        checkers = _registry.get(getattr(self, "current_account", DEFAULT_ACCOUNT_ID))
        original = _original
    health_check_id = self._get_param("HealthCheckId")
    if checkers is None:
        return original(self)
    self.backend.get_health_check(health_check_id)  # NoSuchHealthCheck, as before
    observations = checkers.observations(health_check_id)
    return ActionResult(
        {
            "HealthCheckObservations": [
                {
                    "Region": o.region,
                    "IPAddress": _CHECKER_IPS.get(o.region, "192.0.2.1"),
                    "StatusReport": {"Status": o.status, "CheckedTime": o.checked_at},
                }
                for o in observations
            ]
        }
    )
