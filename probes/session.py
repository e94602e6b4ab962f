"""One measurement per ``chaos run`` process: its life cycle (samplers, marker writer,
start, stop, cleanup) and the process's current measurement.

The measurement control (:mod:`chaosaws_ext.controls.measurement`) creates the session
from its arguments (:mod:`probes.spec`), starts it before the method, stops it after the
method (the markers are read back then) and writes its ``recovery`` block
(:mod:`probes.recovery_block`) into the journal; the probes in :mod:`probes.activities`
read it through :func:`current` and judge it with :mod:`probes.verdicts`, which never
change it. The names this module held before the split are re-exported here.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.identity import current_run
from chaosaws_ext.core.recovery_schema import EnvironmentBlock, RecoveryBlock
from chaosaws_ext.core.timeline import wall_now
from probes import recovery_block as _block
from probes import verdicts
from probes.environment import environment
from probes.markers import DynamoMarkers, LagPoller, MarkerWriter, PostgresMarkers
from probes.recovery import RpoResult, RtoResult, compute_rpo
from probes.s3_markers import S3Markers
from probes.samplers import Cadence, Sampler, SpecError, build_check
from probes.spec import MeasurementSpec, parse_spec
from probes.ticket_markers import TicketApiMarkers
from probes.verdicts import T0

__all__ = [
    "MeasurementSpec",
    "MeasurementSession",
    "SpecError",
    "T0",
    "parse_spec",
    "current",
    "install",
    "clear",
]

logger = logging.getLogger(__name__)
WARM_TIMEOUT_S = 5.0  # the warm-up calls: about two probe client timeouts
_T0 = T0  # the name before the split


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
    fallback_t0: T0 | None = None
    polled_until_mono: float | None = None  # the lag poller's last answered poll
    replication_status: dict[int, str | None] | None = None  # S3: source objects' status
    errors: list[str] = field(default_factory=list)
    drill: Any = None  # a restore drill's verification (probes.dynamodb_drills.DrillResult)
    # the other services of the run (spec.children), each measured on its own
    children: list[MeasurementSession] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)  # the method's actions
    _rpo: RpoResult | None = None
    _rpo_error: str | None = None
    _cleaned: int | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._cadence: Cadence | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._markers_backend: Any = None
        if not self.children:
            self.children = [
                MeasurementSession(child, "", self.configuration, self.secrets)
                for child in self.spec.children
            ]

    def sessions(self) -> list[MeasurementSession]:
        """This service's session, then the other services' (one per service)."""
        return [self, *self.children]

    def session_of(self, service: str | None) -> MeasurementSession | None:
        """The session measuring ``service`` (None: not measured in this run)."""
        if service in (None, ""):
            return self
        return next((s for s in self.sessions() if s.spec.service == service), None)

    # -- life cycle -------------------------------------------------------------------
    @property
    def interval(self) -> float:
        return self.spec.interval

    @property
    def sample_timeout(self) -> float:
        return self.spec.timeout or max(0.01, self.spec.interval * 0.8)

    def start(self) -> None:
        """Start samplers (and markers), the other services' too; idempotent."""
        self._start_own()
        for child in self.children:
            child.start()

    def _start_own(self) -> None:
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
        elif spec["kind"] == "s3":
            backend = S3Markers(
                spec["bucket"],
                spec.get("region"),
                spec.get("replica_region"),
                spec.get("replica_bucket"),
                self.configuration,
                self.secrets,
            )
        elif spec["kind"] == "ticket-api":
            backend = TicketApiMarkers(
                spec["url"],
                spec["table"],
                spec.get("region"),
                spec.get("read_url"),
                spec.get("nameserver"),
                spec.get("replica_region"),
                self.configuration,
                self.secrets,
                spec.get("read_region"),
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
        if spec["kind"] in ("dynamodb", "s3", "ticket-api") and spec.get("replica_region"):
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
            self.fallback_t0 = T0(time.monotonic(), wall_now(), name, "method-action")

    def note_activity(self, record: dict[str, Any]) -> None:
        """An action of the method ran (name, monotonic span, output): the scenario's steps."""
        self.activities.append(record)

    def stop(self) -> None:
        """Stop sampling and writing, then read the markers back (RPO), for every
        service of the run. Idempotent."""
        for child in self.children:
            child.stop()
        self._stop_own()

    def _stop_own(self) -> None:
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
                self.polled_until_mono = self.poller.last_poll_mono
            self._read_markers()
            self._read_replication_status()
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
    def markers_backend(self) -> Any:
        """The markers' backend (None before the markers started)."""
        return self._markers_backend

    STATUS_SAMPLE = 200  # HeadObject calls at most: the unseen markers, then the last seen

    def _read_replication_status(self) -> None:
        """S3 only: the source markers' ``ReplicationStatus`` (the guide's Example 3),
        of the markers never seen in the replica and of the last ones seen."""
        if not isinstance(self._markers_backend, S3Markers) or self.writer is None:
            return
        acked = [m for m in self.writer.markers() if m.acked]
        unseen = [m.seq for m in acked if m.seen_mono is None]
        seen = [m.seq for m in acked if m.seen_mono is not None]
        sample = (unseen[: self.STATUS_SAMPLE] + seen[-20:])[: self.STATUS_SAMPLE]
        try:
            self.replication_status = self._markers_backend.replication_status(self.run_id, sample)
        except Exception as error:  # noqa: BLE001 - the figures stand without it
            self.errors.append(f"markers: could not read ReplicationStatus: {error}")
            logger.error("measurement: ReplicationStatus not read: %s", error)

    @property
    def cleaned(self) -> int | None:
        """How many markers ``cleanup`` deleted (None: not cleaned, or it failed)."""
        return self._cleaned

    def cleanup(self) -> None:
        """Delete our markers (our own writes), every service's. Logged, never raised."""
        for child in self.children:
            child.cleanup()
        self._cleanup_own()

    def _cleanup_own(self) -> None:
        if not self.writer or not (self.spec.markers or {}).get("cleanup", True):
            return
        seqs = [m.seq for m in self.writer.markers()]
        try:
            self._cleaned = self._markers_backend.cleanup(self.run_id, seqs)
        except Exception as error:
            self.errors.append(f"markers cleanup failed: {error}")
            logger.error("measurement: markers cleanup failed: %s", error)

    @property
    def rpo_result(self) -> RpoResult | None:
        """The RPO of the markers read back by :meth:`stop` (None before)."""
        return self._rpo

    @property
    def rpo_error(self) -> str | None:
        """Why the markers could not be read back, when they could not."""
        return self._rpo_error

    # -- figures (pure reads: probes.verdicts, probes.recovery_block) -------------------
    def t0(self) -> T0 | None:
        return verdicts.find_t0(self)

    def reverted_at(self, t0: T0 | None) -> str | None:
        return verdicts.reverted_at(t0)

    def rto_by_sampler(self, settled: bool = False) -> dict[str, RtoResult] | None:
        return verdicts.rto_by_sampler(self, settled)

    def headline_rto(self, settled: bool = False) -> tuple[RtoResult | None, str | None]:
        return verdicts.headline_rto(self, settled)

    def rto_verdict(self) -> dict[str, Any]:
        return verdicts.rto_verdict(self)

    def rpo_verdict(self) -> dict[str, Any]:
        return verdicts.rpo_verdict(self)

    def phases(self, t0: T0, by_sampler: dict[str, RtoResult]) -> dict[str, float | None]:
        return _block.phases(self, t0, by_sampler)

    def environment(self) -> EnvironmentBlock:
        return environment(self.spec.samplers, self.spec.markers, self.configuration, self.secrets)

    def recovery_block(self) -> RecoveryBlock:
        """The journal's top-level ``recovery`` block (:mod:`probes.recovery_block`)."""
        return _block.recovery_block(self)


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
