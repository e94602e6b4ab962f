"""One measurement per ``chaos run`` process: samplers, marker writer, t0, the verdicts.

The measurement control (:mod:`chaosaws_ext.controls.measurement`) creates the session
from its arguments, starts it before the method and writes its ``recovery`` block into
the journal; the probes in :mod:`probes.activities` read it through :func:`current`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, region_of
from chaosaws_ext.core.timeline import (
    PhaseStamp,
    fault_details,
    fault_stamps,
    phase_stamps,
    wall_now,
)
from probes.markers import DynamoMarkers, LagPoller, MarkerWriter, PostgresMarkers
from probes.recovery import (
    RpoResult,
    RtoResult,
    availability,
    compute_rpo,
    compute_rto,
    percentiles,
)
from probes.samplers import MAX_HZ, SAMPLER_KINDS, Cadence, Sampler, SpecError, build_check
from probes.targets import ServiceTarget, meets, target_for

__all__ = [
    "MeasurementSpec",
    "MeasurementSession",
    "SpecError",
    "parse_spec",
    "current",
    "install",
    "clear",
]

logger = logging.getLogger("chaosaws_ext.probes")
WARM_TIMEOUT_S = 5.0  # the warm-up calls: about two probe client timeouts

_TOP_KEYS = {
    "service",
    "samplers",
    "markers",
    "interval_s",
    "frequency_hz",
    "timeout_s",
    "consecutive",
    "targets_file",
    "fault",
    "series_limit",
    "max_in_flight",
}
_SAMPLER_KEYS = {
    "name",
    "kind",
    "judge",
    "url",
    "expect_status",
    "expect_body",
    "verify_tls",
    "headers",
    "nameserver",
    "host",
    "port",
    "dsn",
    "query",
    "table",
    "key",
    "operation",
    "region",
}
_MARKER_KEYS = {
    "kind",
    "interval_s",
    "timeout_s",
    "dsn",
    "read_dsn",
    "table",
    "region",
    "read_region",
    "replica_region",
    "lag_interval_s",
    "lag_grace_s",
    "cleanup",
}


def _versions() -> dict[str, str | None]:
    """Tool versions for the journal (a figure is only comparable with its tooling)."""
    from importlib import metadata

    found: dict[str, str | None] = {}
    for name in ("chaostoolkit", "chaostoolkit-lib", "chaosaws-ext", "boto3"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


@dataclass
class MeasurementSpec:
    service: str
    target: ServiceTarget
    samplers: list[dict[str, Any]]
    interval: float = 0.25
    timeout: float | None = None
    consecutive: int = 3
    markers: dict[str, Any] | None = None
    fault: str | None = None
    series_limit: int = 2400
    max_in_flight: int = 4


def _positive(value: Any, where: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{where} must be a number, got {value!r}") from None
    if not low <= number <= high:
        raise SpecError(f"{where} must be between {low:g} and {high:g}, got {number:g}")
    return number


def parse_spec(
    arguments: dict[str, Any], configuration: Configuration | None = None
) -> MeasurementSpec:
    """Check the control's arguments; raise :class:`SpecError` naming the first bad key."""
    unknown = set(arguments) - _TOP_KEYS
    if unknown:
        raise SpecError(f"unknown argument {sorted(unknown)[0]!r} (known: {sorted(_TOP_KEYS)})")
    service = arguments.get("service")
    if not isinstance(service, str) or not service:
        raise SpecError("argument 'service' is required: the targets.yaml service to judge")
    target = target_for(service, arguments.get("targets_file"), configuration)
    if "interval_s" in arguments and "frequency_hz" in arguments:
        raise SpecError("give interval_s or frequency_hz, not both")
    interval = 0.25
    if arguments.get("frequency_hz") is not None:
        interval = 1 / _positive(arguments["frequency_hz"], "frequency_hz", 1 / 3600, MAX_HZ)
    elif arguments.get("interval_s") is not None:
        interval = _positive(arguments["interval_s"], "interval_s", 1 / MAX_HZ, 3600)
    timeout = None
    if arguments.get("timeout_s") is not None:
        timeout = _positive(arguments["timeout_s"], "timeout_s", 0.001, 3600)
    consecutive = int(_positive(arguments.get("consecutive", 3), "consecutive", 1, 1000))
    samplers = arguments.get("samplers")
    if not isinstance(samplers, list) or not samplers:
        raise SpecError("argument 'samplers' must be a non-empty list")
    names: set[str] = set()
    for index, sampler in enumerate(samplers):
        where = f"samplers[{index}]"
        if not isinstance(sampler, dict):
            raise SpecError(f"{where} must be a mapping with 'kind'")
        extra = set(sampler) - _SAMPLER_KEYS
        if extra:
            raise SpecError(f"{where}: unknown key {sorted(extra)[0]!r}")
        if sampler.get("kind") not in SAMPLER_KINDS:
            raise SpecError(
                f"{where}.kind must be one of {', '.join(SAMPLER_KINDS)}, "
                f"got {sampler.get('kind')!r}"
            )
        name = str(sampler.get("name") or f"{sampler['kind']}-{index}")
        if name in names:
            raise SpecError(f"{where}.name {name!r} is used twice")
        names.add(name)
        sampler["name"] = name
        try:
            build_check(sampler, configuration)  # validates without touching the target
        except SpecError as error:
            raise SpecError(f"{where} ({name}): {error}") from None
    markers = arguments.get("markers")
    if markers is not None:
        if not isinstance(markers, dict):
            raise SpecError("markers must be a mapping with 'kind'")
        extra = set(markers) - _MARKER_KEYS
        if extra:
            raise SpecError(f"markers: unknown key {sorted(extra)[0]!r}")
        if markers.get("kind") not in ("postgres", "dynamodb"):
            raise SpecError(
                f"markers.kind must be postgres or dynamodb, got {markers.get('kind')!r}"
            )
        if markers["kind"] == "postgres" and not markers.get("dsn"):
            raise SpecError("markers.dsn is required for postgres markers")
        if markers["kind"] == "dynamodb" and not markers.get("table"):
            raise SpecError("markers.table is required for dynamodb markers")
        for key, low, high in (
            ("interval_s", 1 / MAX_HZ, 3600),
            ("timeout_s", 0.001, 3600),
            ("lag_interval_s", 1 / MAX_HZ, 60),
            ("lag_grace_s", 0, 600),
        ):
            if markers.get(key) is not None:
                markers[key] = _positive(markers[key], f"markers.{key}", low, high)
    return MeasurementSpec(
        service=service,
        target=target,
        samplers=samplers,
        interval=interval,
        timeout=timeout,
        consecutive=consecutive,
        markers=markers,
        fault=arguments.get("fault"),
        series_limit=int(_positive(arguments.get("series_limit", 2400), "series_limit", 10, 10**6)),
        max_in_flight=int(_positive(arguments.get("max_in_flight", 4), "max_in_flight", 1, 64)),
    )


def _loopback(url: str | None) -> bool:
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class _T0:
    monotonic: float
    wall: str
    fault: str | None
    source: str  # "stamp" (the fault's own t0) or "method-action" (fallback)


@dataclass
class MeasurementSession:
    spec: MeasurementSpec
    run_id: str = ""
    configuration: Configuration | None = None
    secrets: Secrets | None = None
    samplers: list[Sampler] = field(default_factory=list)
    writer: MarkerWriter | None = None
    poller: LagPoller | None = None
    started_mono: float | None = None
    started_wall: str | None = None
    stopped_mono: float | None = None
    fallback_t0: _T0 | None = None
    errors: list[str] = field(default_factory=list)
    _rpo: RpoResult | None = None
    _rpo_error: str | None = None
    _cleaned: int | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cadence: Cadence | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._markers_backend: Any = None

    # -- life cycle -------------------------------------------------------------------
    @property
    def interval(self) -> float:
        return self.spec.interval

    @property
    def sample_timeout(self) -> float:
        return self.spec.timeout or max(0.01, self.spec.interval * 0.8)

    def start(self) -> None:
        """Start samplers (and markers); idempotent."""
        with self._lock:
            if self.started_mono is not None:
                return
            workers = min(64, 2 + len(self.spec.samplers) * self.spec.max_in_flight + 6)
            self._executor = ThreadPoolExecutor(workers, thread_name_prefix="gameday-sample")
            for spec in self.spec.samplers:
                check = build_check(spec, self.configuration, self.secrets)
                self.samplers.append(
                    Sampler(
                        spec["name"],
                        check,
                        self.sample_timeout,
                        self._executor,
                        self.spec.max_in_flight,
                        judge=bool(spec.get("judge", True)),
                        kind=spec["kind"],
                    )
                )
            self._warm_samplers()
            from chaosaws_ext.core.identity import current_run

            # the safety control may start a new run before the method: take its id now
            self.run_id = current_run(self.configuration).run_id
            self._cadence = Cadence(self.spec.interval, self._tick, "samplers")
            self.started_mono, self.started_wall = time.monotonic(), wall_now()
            self._cadence.start()
            if self.spec.markers:
                self._start_markers(self.spec.markers)

    def _warm_samplers(self) -> None:
        """One cheap call per AWS sampler, in parallel, before the first tick (and so
        before t0): the TLS handshake to a distant region is not measured as latency.
        Bounded by WARM_TIMEOUT_S; a sampler still warming then simply starts."""
        assert self._executor is not None
        futures = [self._executor.submit(sampler.warm) for sampler in self.samplers]
        deadline = time.monotonic() + WARM_TIMEOUT_S
        for future in futures:
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception as error:  # noqa: BLE001 - a timeout: sampling starts anyway
                logger.warning("measurement: sampler warm-up not finished: %s", error)

    def _tick(self, now: float) -> None:
        for sampler in self.samplers:
            sampler.tick(now)

    def _start_markers(self, spec: dict[str, Any]) -> None:
        assert self._executor is not None
        if spec["kind"] == "postgres":
            backend: Any = PostgresMarkers(
                spec["dsn"], spec.get("table") or "gameday_markers", spec.get("read_dsn")
            )
        else:
            backend = DynamoMarkers(
                spec["table"],
                spec.get("region"),
                spec.get("read_region"),
                spec.get("replica_region"),
                self.configuration,
                self.secrets,
            )
        self._markers_backend = backend
        writer = MarkerWriter(
            backend,
            self.run_id,
            float(spec.get("interval_s") or 0.2),
            self._executor,
            spec.get("timeout_s"),
            self.spec.max_in_flight,
        )
        try:
            writer.start()
        except Exception as error:
            self.errors.append(f"markers: could not prepare {spec['kind']}: {error}")
            logger.error("measurement: markers not started: %s", error)
            return
        self.writer = writer
        if spec["kind"] == "dynamodb" and spec.get("replica_region"):
            self.poller = LagPoller(
                backend,
                writer,
                spec["replica_region"],
                float(spec.get("lag_interval_s") or 0.1),
                self._executor,
            )
            self.poller.start()

    def note_method_action(self, name: str | None) -> None:
        """Fallback t0: the end of the first action of the method (when no stamp)."""
        if self.fallback_t0 is None and self.started_mono is not None:
            self.fallback_t0 = _T0(time.monotonic(), wall_now(), name, "method-action")

    def stop(self) -> None:
        """Stop sampling and writing, then read the markers back (RPO). Idempotent."""
        with self._lock:
            if self.started_mono is None or self.stopped_mono is not None:
                return
            self.stopped_mono = time.monotonic()
        if self._cadence:
            self._cadence.stop()
        for sampler in self.samplers:
            sampler.finalize(self.sample_timeout + 0.5)
        if self.writer:
            self.writer.stop()
            if self.poller:
                grace = float((self.spec.markers or {}).get("lag_grace_s", 5.0))
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline and not self.poller.all_seen():
                    time.sleep(0.05)
                self.poller.stop()
            self._read_markers()
        if self._executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _read_markers(self) -> None:
        assert self.writer is not None
        markers = self.writer.markers()
        acked = [m.seq for m in markers if m.acked]
        try:
            present = self._markers_backend.present(self.run_id, acked)
        except Exception as error:
            self._rpo_error = f"could not read the markers back: {error}"
            logger.error("measurement: %s", self._rpo_error)
            present = None
        self._rpo = compute_rpo(
            markers, present, self.writer.interval, start_mono=self.writer.started_mono
        )

    @property
    def cleaned(self) -> int | None:
        """How many markers ``cleanup`` deleted (None: not cleaned, or it failed)."""
        return self._cleaned

    def cleanup(self) -> None:
        """Delete our markers (our own writes). Logged, never raised."""
        if not self.writer or not (self.spec.markers or {}).get("cleanup", True):
            return
        seqs = [m.seq for m in self.writer.markers()]
        try:
            self._cleaned = self._markers_backend.cleanup(self.run_id, seqs)
        except Exception as error:
            self.errors.append(f"markers cleanup failed: {error}")
            logger.error("measurement: markers cleanup failed: %s", error)

    # -- figures ----------------------------------------------------------------------
    def t0(self) -> _T0 | None:
        if self.started_mono is None:
            return None
        for stamp in fault_stamps():
            if stamp.event != "injected" or stamp.monotonic < self.started_mono:
                continue
            if self.spec.fault and stamp.fault != self.spec.fault:
                continue
            return _T0(stamp.monotonic, stamp.wall, stamp.fault, "stamp")
        return self.fallback_t0

    def reverted_at(self, t0: _T0 | None) -> str | None:
        for stamp in fault_stamps():
            if stamp.event == "reverted" and t0 and stamp.monotonic >= t0.monotonic:
                if t0.fault in (None, stamp.fault):
                    return stamp.wall
        return None

    def rto_by_sampler(self, settled: bool = False) -> dict[str, RtoResult] | None:
        t0 = self.t0()
        if t0 is None:
            return None
        return {
            s.name: compute_rto(
                s.settled() if settled else s.samples(),
                t0.monotonic,
                self.interval,
                self.spec.consecutive,
            )
            for s in self.samplers
        }

    def headline_rto(self, settled: bool = False) -> tuple[RtoResult | None, str | None]:
        """The worst RTO of the judging samplers, and why there is none."""
        by_sampler = self.rto_by_sampler(settled)
        if by_sampler is None:
            return None, "no t0: no fault stamped (stamp_injected) and no method action ran"
        judged = [by_sampler[s.name] for s in self.samplers if s.judge]
        if not judged:
            return None, "no sampler judges (all have judge: false)"
        if any(r.samples_after_t0 == 0 for r in judged):
            return None, "no samples after t0"
        open_outage = [r for r in judged if r.outage and not r.recovered]
        if open_outage:
            return open_outage[0], "the outage had not ended when sampling stopped"
        return max(judged, key=lambda r: r.measured_s or 0.0), None

    def rto_verdict(self) -> dict[str, Any]:
        worst, reason = self.headline_rto()
        measured = worst.measured_s if worst else None
        target = self.spec.target
        met = meets(measured, target.rto_s, target.rto_bound)
        if met is False and reason is None:
            reason = f"measured {measured:.3f}s, target {target.rto_bound} {target.rto_s:g}s"
        return {
            "service": self.spec.service,
            "measured_s": None if measured is None else round(measured, 3),
            "target_s": target.rto_s,
            "bound": target.rto_bound,
            "resolution_s": round(self.interval, 4),
            "met": True if met is None else met,
            "outage": bool(worst and worst.outage),
            "reason": reason if met is not True else None,
        }

    def rpo_verdict(self) -> dict[str, Any]:
        target = self.spec.target
        base = {
            "service": self.spec.service,
            "target_s": target.rpo_s,
            "bound": target.rpo_bound,
        }
        if not self.spec.markers or self.writer is None:
            if not self.spec.markers:
                why = "no markers configured"
            elif self.errors:
                why = self.errors[-1]
            else:
                why = "the writer never started (the method did not run)"
            return {
                **base,
                "measured_s": None,
                "resolution_s": None,
                "met": target.rpo_s is None,
                "reason": f"RPO not measured: {why}",
                "written": 0,
                "acknowledged": 0,
                "lost": 0,
            }
        if self._rpo is None:  # asked before the control stopped: stop writing now
            self.writer.stop()
            self._read_markers()
        rpo = self._rpo
        assert rpo is not None
        met = meets(rpo.measured_s, target.rpo_s, target.rpo_bound)
        reason = None
        if rpo.measured_s is None:
            reason = self._rpo_error
        elif met is False:
            reason = (
                f"measured {rpo.measured_s:.3f}s ({rpo.lost} acknowledged markers lost), "
                f"target {target.rpo_bound} {target.rpo_s:g}s"
            )
        return {
            **base,
            "measured_s": None if rpo.measured_s is None else round(rpo.measured_s, 3),
            "resolution_s": round(rpo.resolution_s, 4),
            "met": True if met is None else met,
            "reason": reason,
            "written": rpo.written,
            "acknowledged": rpo.acknowledged,
            "lost": rpo.lost,
        }

    def phases(self, t0: _T0, by_sampler: dict[str, RtoResult]) -> dict[str, float | None]:
        def rel(mono: float | None) -> float | None:
            return None if mono is None else round(mono - t0.monotonic, 3)

        judged = [by_sampler[s.name] for s in self.samplers if s.judge]
        firsts = [r.outage_started_mono for r in judged if r.outage_started_mono is not None]
        lasts = [r.last_failure_mono for r in judged if r.last_failure_mono is not None]
        everything = list(by_sampler.values())
        full = None
        if all(r.recovered for r in everything):
            full = max((r.recovered_mono or t0.monotonic) for r in everything)
        worst, _ = self.headline_rto()
        phases: dict[str, float | None] = {
            "detected_s": rel(min(firsts)) if firsts else None,
            "last_failure_s": rel(max(lasts)) if lasts else None,
            "first_success_s": rel(worst.recovered_mono) if worst else None,
            "full_availability_s": rel(full) if full is not None else None,
            "dns_s": self._dns_flip(t0),
        }
        seen: set[str] = set()
        stamps: list[PhaseStamp] = phase_stamps()
        for stamp in stamps:
            if self.started_mono is None or stamp.monotonic < self.started_mono:
                continue
            if stamp.name in seen:
                continue
            seen.add(stamp.name)
            key = f"{stamp.name}_s"
            if key == "dns_s" and phases.get("dns_s") is not None:
                key = "dns_marked_s"
            phases[key] = rel(stamp.monotonic)
        return phases

    def _dns_flip(self, t0: _T0) -> float | None:
        for sampler in self.samplers:
            if sampler.kind != "http_dns":
                continue
            before = [s.detail for s in sampler.samples() if s.t_mono < t0.monotonic and s.detail]
            baseline = before[-1] if before else None
            for sample in sampler.samples():
                if sample.t_mono >= t0.monotonic and sample.detail:
                    if baseline is None:
                        baseline = sample.detail
                    elif sample.detail != baseline:
                        return round(sample.t_mono - t0.monotonic, 3)
        return None

    def environment(self) -> dict[str, Any]:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        sandbox = os.environ.get("GAMEDAY_TARGET") == "sandbox" or _loopback(endpoint)
        if not sandbox and not endpoint:
            urls = [s.get("url") for s in self.spec.samplers if s.get("url")]
            sandbox = bool(urls) and all(_loopback(u) for u in urls)
        try:
            region = region_of(self.configuration)
        except Exception:
            region = None
        uses_aws = any(s["kind"] == "dynamodb" for s in self.spec.samplers) or (
            (self.spec.markers or {}).get("kind") == "dynamodb"
        )
        account = None
        if region and (uses_aws or _loopback(endpoint)):
            account = _account(self.configuration, self.secrets, region)
        return {
            "target": "sandbox" if sandbox else "aws",
            "region": region,
            "account": account,
            "versions": _versions(),
        }

    def recovery_block(self) -> dict[str, Any]:
        """The journal's top-level ``recovery`` block (docs/architecture.md)."""
        target = self.spec.target
        t0 = self.t0()
        by_sampler = self.rto_by_sampler() or {}
        worst, _reason = self.headline_rto()
        rto = self.rto_verdict()
        rto_block: dict[str, Any] = {
            "measured_s": rto["measured_s"],
            "resolution_s": rto["resolution_s"],
            "met": rto["met"],
            "target_s": rto["target_s"],
            "reason": rto["reason"],
            "consecutive": self.spec.consecutive,
            "outage_started_at": worst.outage_started_wall if worst else None,
            "recovered_at": worst.recovered_wall if worst else None,
            "phases": self.phases(t0, by_sampler) if t0 else {},
            "by_sampler": {
                name: {
                    "measured_s": None if r.measured_s is None else round(r.measured_s, 3),
                    "outage": r.outage,
                    "failed_samples": r.failed_samples,
                    "judge": next(s.judge for s in self.samplers if s.name == name),
                }
                for name, r in by_sampler.items()
            },
        }
        rpo = self.rpo_verdict()
        rpo_block = {k: v for k, v in rpo.items() if k not in ("service", "bound")}
        if not self.spec.markers:  # this experiment does not judge RPO: no verdict, not a miss
            rpo_block["met"] = None
        if self._cleaned is not None:
            rpo_block["cleaned_up"] = self._cleaned
        lag = None
        if self.poller and self.writer:
            values = [
                m.seen_mono - m.ack_mono
                for m in self.writer.markers()
                if m.seen_mono is not None and m.ack_mono is not None
            ]
            lag = percentiles(values)
            lag["unseen"] = sum(1 for m in self.writer.markers() if m.acked and m.seen_mono is None)
            lag["resolution_s"] = self.poller.interval
        origin = t0.monotonic if t0 else (self.started_mono or 0.0)
        primary = next(
            (s for s in self.samplers if s.judge), self.samplers[0] if self.samplers else None
        )
        avail: dict[str, Any] = {"samples": 0, "ok": 0, "ratio": None, "series": []}
        if primary is not None:
            avail = availability(primary.samples(), origin, self.spec.series_limit)
            avail["sampler"] = primary.name
            avail["by_sampler"] = {
                s.name: {
                    k: v for k, v in availability(s.samples(), origin, 1).items() if k != "series"
                }
                for s in self.samplers
            }
        return {
            "service": self.spec.service,
            "target": {
                "rto_s": target.rto_s,
                "rpo_s": target.rpo_s,
                "rto_bound": target.rto_bound,
                "rpo_bound": target.rpo_bound,
                "source": target.source,
                "file": target.file,
            },
            "fault": {
                "name": t0.fault if t0 else None,
                "injected_at": t0.wall if t0 else None,
                "t0_source": t0.source if t0 else None,
                "reverted_at": self.reverted_at(t0),
                "detail": fault_details() or None,
            },
            "rto": rto_block,
            "rpo": rpo_block,
            "replication_lag_s": lag,
            "availability": avail,
            "sampling": {
                "interval_s": self.interval,
                "timeout_s": self.sample_timeout,
                "started_at": self.started_wall,
                "samplers": [{"name": s.name, "kind": s.kind} for s in self.samplers],
            },
            "environment": self.environment(),
            "errors": list(self.errors),
        }


def _account(configuration: Configuration | None, secrets: Secrets | None, region: str):
    """The account id via STS, bounded to 3 s (None when not cheap or not allowed)."""
    from botocore.config import Config

    result: list[str] = []

    def lookup() -> None:
        try:
            client = aws_client(
                "sts",
                configuration,
                secrets,
                region,
                config=Config(connect_timeout=2, read_timeout=2, retries={"total_max_attempts": 1}),
            )
            result.append(client.get_caller_identity()["Account"])
        except Exception as error:
            logger.debug("no account id: %s", error)

    thread = threading.Thread(target=lookup, daemon=True)
    thread.start()
    thread.join(3)
    return result[0] if result else None


_current: MeasurementSession | None = None
_current_lock = threading.Lock()


def install(session: MeasurementSession) -> MeasurementSession:
    """Make ``session`` the process's measurement (stops a previous one)."""
    global _current
    with _current_lock:
        previous, _current = _current, session
    if previous is not None and previous is not session:
        previous.stop()
    return session


def current() -> MeasurementSession | None:
    with _current_lock:
        return _current


def clear() -> None:
    global _current
    with _current_lock:
        previous, _current = _current, None
    if previous is not None:
        previous.stop()
