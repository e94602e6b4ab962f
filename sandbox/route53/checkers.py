"""Route 53 health checkers: real probes, thresholds, and honest GetHealthCheckStatus.

moto stores health checks but never checks anything. Here, for every health check of
one moto account, a thread probes the endpoint the way Route 53 does
(:mod:`sandbox.route53.probe`) from several emulated checker regions, staggered across
``RequestInterval`` (scaled by the sandbox time scale); the verdicts follow the model of
:mod:`sandbox.route53.health`; moto's GetHealthCheckStatus answers each checker region's
latest observation (:mod:`sandbox.route53.moto_patch`).

The DNS server asks :meth:`Route53HealthCheckers.is_healthy`; measurements can read
:meth:`first_failure_at` and :meth:`flips`. Like AWS, the checkers publish the
``AWS/Route53 HealthCheckStatus`` metric (us-east-1, once a scaled minute), and alarms on
that metric are evaluated (ALARM after EvaluationPeriods x Period unhealthy, scaled; OK
when healthy again), so they can serve as stop conditions.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sandbox.lifecycle import Lifecycle
from sandbox.route53 import moto_patch
from sandbox.route53.health import (
    Flip,
    HealthCheckState,
    Observation,
    ProbeResult,
    alarm_state,
)
from sandbox.route53.probe import probe_endpoint
from sandbox.timing import HEALTH_CHECKER_REGIONS, Timings

__all__ = [
    "METRIC_PERIOD_S",
    "METRIC_REGION",
    "Flip",
    "Observation",
    "ProbeResult",
    "Route53HealthCheckers",
    "probe_endpoint",
]

log = logging.getLogger(__name__)

DEFAULT_ACCOUNT_ID = "123456789012"
# Route 53 publishes HealthCheckStatus once a minute, in us-east-1 only.
# https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/monitoring-health-checks.html
METRIC_PERIOD_S = 60.0
METRIC_REGION = "us-east-1"


class Route53HealthCheckers(Lifecycle):
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
        self._states: dict[str, HealthCheckState] = {}
        self._threads: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._listeners: list[Callable[[str, bool], None]] = []

    # -- lifecycle ---------------------------------------------------------------------
    def install(self) -> None:
        if self._supervisor is not None:
            return
        moto_patch.register(self)
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
        moto_patch.unregister(self)

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
            return state.observations()

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
                    self._states.setdefault(hc_id, HealthCheckState.new(hc_id, self.regions))
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
            verdict = alarm_state(healthy, since, now, window)
            if verdict is None:
                continue
            wanted, reason = verdict
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
        observation = Observation(
            region, result.ok, result.status, datetime.now(UTC), time.monotonic()
        )
        with self._lock:
            changed = self._states[hc_id].record(
                observation,
                failure_threshold=int(config.failure_threshold or 3),
                disabled=bool(config.disabled),
                inverted=bool(config.inverted),
            )
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
