"""The measurement control's arguments, checked before the run: one clear line naming
the first bad key (:class:`SpecError`), and nothing touched on the target."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaoslib.types import Configuration

from probes.checks import SAMPLER_KINDS, SpecError, build_check
from probes.dr_targets import ServiceTarget, target_for
from probes.samplers import MAX_HZ

__all__ = ["MeasurementSpec", "SpecError", "parse_spec"]

_TOP_KEYS = {
    "service",
    "samplers",
    "markers",
    "interval_s",
    "frequency_hz",
    "timeout_s",
    "consecutive",
    "recovery_window_s",
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
    "requests_per_sample",
    "bucket",
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
    "bucket",
    "replica_bucket",
    "failover_at_s",
    "failover",
    "pause_fault",
}


@dataclass
class MeasurementSpec:
    service: str
    target: ServiceTarget
    samplers: list[dict[str, Any]]
    interval: float = 0.25
    timeout: float | None = None
    consecutive: int = 3
    # no failed sample within this many seconds of the recovery's first success (a
    # partial outage, probes.recovery); 0: the K run alone
    recovery_window_s: float = 0.0
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
    window = arguments.get("recovery_window_s")
    recovery_window_s = (
        0.0 if window in (None, "") else _positive(window, "recovery_window_s", 0, 3600)
    )
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
        if markers.get("kind") not in ("postgres", "dynamodb", "s3"):
            raise SpecError(
                f"markers.kind must be postgres, dynamodb or s3, got {markers.get('kind')!r}"
            )
        if markers["kind"] == "postgres" and not markers.get("dsn"):
            raise SpecError("markers.dsn is required for postgres markers")
        if markers["kind"] == "dynamodb" and not markers.get("table"):
            raise SpecError("markers.table is required for dynamodb markers")
        if markers["kind"] == "s3":
            for key in ("bucket", "replica_region"):
                if not markers.get(key):
                    raise SpecError(f"markers.{key} is required for s3 markers")
        if markers.get("failover", "end-of-pause") not in ("end-of-pause", "dns-change", "none"):
            raise SpecError(
                "markers.failover must be end-of-pause, dns-change or none, "
                f"got {markers['failover']!r}"
            )
        if markers.get("failover_at_s") in ("", None):
            markers.pop("failover_at_s", None)
        for key, low, high in (
            ("interval_s", 1 / MAX_HZ, 3600),
            ("timeout_s", 0.001, 3600),
            ("lag_interval_s", 1 / MAX_HZ, 60),
            ("lag_grace_s", 0, 3600),
            ("failover_at_s", 0, 86400),
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
        recovery_window_s=recovery_window_s,
        markers=markers,
        fault=arguments.get("fault"),
        series_limit=int(_positive(arguments.get("series_limit", 2400), "series_limit", 10, 10**6)),
        max_in_flight=int(_positive(arguments.get("max_in_flight", 4), "max_in_flight", 1, 64)),
    )
