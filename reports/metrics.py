"""Prometheus gauges per run: pushed to a Pushgateway or written for the textfile collector.

Gauges (labels ``experiment``, ``service``, ``environment``):

- ``gameday_rto_measured_seconds``, ``gameday_rto_target_seconds``
- ``gameday_rpo_measured_seconds``, ``gameday_rpo_target_seconds``
- ``gameday_target_met`` (1 when every judged target was met, 0 otherwise)
- ``gameday_rto_target_met``, ``gameday_rpo_target_met``
- ``gameday_faults_reverted`` (1/0)
- ``gameday_verdict`` with an extra ``verdict`` label, 1 for the run's verdict and 0 for
  the others (met, missed, aborted, interrupted, failed), so alerts can select it
- ``gameday_last_run_timestamp_seconds`` (the run's start, Unix time)

A figure that was not measured is left out (no sample), never reported as 0.
Each run is pushed as its own group (``job`` + ``experiment`` + ``environment``), so a
nightly job that runs one experiment does not wipe the others' last values.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway, write_to_textfile

from reports.journal import Journal
from reports.redaction import mask_journals
from reports.verdicts import VERDICTS, RunSummary, summarise

__all__ = ["DEFAULT_JOB", "build_registry", "push_metrics", "write_textfile"]

logger = logging.getLogger(__name__)

DEFAULT_JOB = "gameday"
LABELS = ("experiment", "service", "environment")


def _labels(summary: RunSummary) -> dict[str, str]:
    return {
        "experiment": summary.title,
        "service": summary.service or "",
        "environment": summary.environment,
    }


def build_registry(summaries: Iterable[RunSummary]) -> CollectorRegistry:
    """A registry holding the gauges of the given runs."""
    registry = CollectorRegistry()

    def gauge(name: str, documentation: str, extra: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, documentation, LABELS + extra, registry=registry)

    rto_measured = gauge("gameday_rto_measured_seconds", "Measured RTO of the last run")
    rto_target = gauge("gameday_rto_target_seconds", "RTO target of the DR plan")
    rpo_measured = gauge("gameday_rpo_measured_seconds", "Measured RPO of the last run")
    rpo_target = gauge("gameday_rpo_target_seconds", "RPO target of the DR plan")
    target_met = gauge("gameday_target_met", "1 when every judged target was met")
    rto_met = gauge("gameday_rto_target_met", "1 when the RTO target was met")
    rpo_met = gauge("gameday_rpo_target_met", "1 when the RPO target was met")
    reverted = gauge("gameday_faults_reverted", "1 when every injected fault was reverted")
    verdict = gauge("gameday_verdict", "1 for the verdict of the last run", ("verdict",))
    last_run = gauge("gameday_last_run_timestamp_seconds", "Start of the last run, Unix time")

    for summary in summaries:
        labels = _labels(summary)
        for metric, value in (
            (rto_measured, summary.rto.measured_s),
            (rto_target, summary.rto.target_s),
            (rpo_measured, summary.rpo.measured_s),
            (rpo_target, summary.rpo.target_s),
        ):
            if value is not None:
                metric.labels(**labels).set(value)
        for metric, flag in (
            (target_met, summary.target_met if summary.verdict != "missed" else False),
            (rto_met, summary.rto.met),
            (rpo_met, summary.rpo.met),
            (reverted, summary.reverted),
        ):
            if flag is not None:
                metric.labels(**labels).set(1 if flag else 0)
        for key in VERDICTS:
            verdict.labels(**labels, verdict=key).set(1 if key == summary.verdict else 0)
        if summary.started_at is not None:
            last_run.labels(**labels).set(summary.started_at.timestamp())
    return registry


def _summaries(
    journals: Iterable[Journal | dict[str, Any]],
    extra_secret_values: Iterable[str],
    environ: Mapping[str, str] | None,
) -> list[RunSummary]:
    masked = mask_journals(journals, extra_secret_values=extra_secret_values, environ=environ)
    return [summarise(j) for j in masked]


def push_metrics(
    journals: Iterable[Journal | dict[str, Any]],
    gateway_url: str,
    *,
    job: str = DEFAULT_JOB,
    timeout: float = 10.0,
    handler: Callable[..., Any] | None = None,
    extra_secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> int:
    """Push each run's gauges to the Pushgateway at ``gateway_url``; returns runs pushed.

    Raises ``OSError`` (``urllib.error.URLError``) when the gateway cannot be reached.
    """
    summaries = _summaries(journals, extra_secret_values, environ)
    for summary in summaries:
        registry = build_registry([summary])
        grouping = {"experiment": summary.title, "environment": summary.environment}
        kwargs: dict[str, Any] = {"grouping_key": grouping, "timeout": timeout}
        if handler is not None:
            kwargs["handler"] = handler
        push_to_gateway(gateway_url, job=job, registry=registry, **kwargs)
        logger.info("pushed metrics of %r to %s", summary.title, gateway_url)
    return len(summaries)


def write_textfile(
    journals: Iterable[Journal | dict[str, Any]],
    path: str | os.PathLike[str],
    *,
    extra_secret_values: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Write the gauges of all runs for node_exporter's textfile collector (atomic)."""
    summaries = _summaries(journals, extra_secret_values, environ)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), build_registry(summaries))
    return path
