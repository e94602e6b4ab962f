"""The measurement control's arguments, checked before the run: one clear line naming
the first bad key (:class:`SpecError`), and nothing touched on the target.

Several services in one run (a scenario): each sampler and each markers block (a
mapping, or a list of them) may name its ``service``; the others belong to the
control's ``service``. Each other service becomes a child spec (``children``) judged
against its own targets.yaml row; ``services: {name: {consecutive, recovery_window_s,
fault, timeout_s}}`` overrides a service's recovery rule, t0 and sample timeout
(default: the control's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaoslib.types import Configuration

from probes.checks import SAMPLER_KINDS, SpecError, build_check, parse_nameserver
from probes.dr_targets import ServiceTarget, target_for
from probes.samplers import MAX_HZ
from probes.ticket_markers import checked_url

__all__ = ["MeasurementSpec", "SpecError", "parse_spec"]

_TOP_KEYS = {
    "service",
    "services",
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
    "service",
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
    "service",
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
    "url",
    "read_url",
    "nameserver",
    "pause_fault",
}
MARKER_KINDS = ("postgres", "dynamodb", "s3", "ticket-api")


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
    # the other services measured in the same run, each against its own target
    children: list[MeasurementSpec] = field(default_factory=list)

    def all_specs(self) -> list[MeasurementSpec]:
        """This service's spec, then the other services' (one entry per service)."""
        return [self, *self.children]


def _positive(value: Any, where: str, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{where} must be a number, got {value!r}") from None
    if not low <= number <= high:
        raise SpecError(f"{where} must be between {low:g} and {high:g}, got {number:g}")
    return number


def _ticket_api(markers: dict[str, Any]) -> None:
    """The ticket-api markers' keys, checked without a request (probes.ticket_markers)."""
    for key in ("url", "table"):
        if not markers.get(key):
            raise SpecError(f"markers.{key} is required for ticket-api markers")
    checked_url(markers["url"], "url")
    for key in ("read_url", "nameserver"):
        if markers.get(key) in ("", None):
            markers.pop(key, None)  # an empty env value: not given
    if "read_url" in markers:
        checked_url(markers["read_url"], "read_url")
    parse_nameserver(markers.get("nameserver"), "markers.nameserver")


_SERVICE_KEYS = {"consecutive", "recovery_window_s", "fault", "timeout_s"}


def _grouped(items: Any, main: str, what: str) -> dict[str, list[Any]]:
    """``items`` (a list, or one mapping) by the service each names (default: main)."""
    groups: dict[str, list[Any]] = {}
    for index, item in enumerate(items if isinstance(items, list) else [items]):
        service = item.get("service") if isinstance(item, dict) else None
        if service is not None and (not isinstance(service, str) or not service):
            raise SpecError(f"{what}[{index}].service must be a targets.yaml service name")
        groups.setdefault(service or main, []).append(item)
    return groups


def _service_options(services: Any) -> dict[str, dict[str, Any]]:
    if services in (None, ""):
        return {}
    if not isinstance(services, dict):
        raise SpecError("services must be a mapping of service name to options")
    for name, options in services.items():
        if not isinstance(options, dict):
            raise SpecError(
                f"services.{name} must be a mapping ({', '.join(sorted(_SERVICE_KEYS))})"
            )
        extra = set(options) - _SERVICE_KEYS
        if extra:
            raise SpecError(f"services.{name}: unknown key {sorted(extra)[0]!r}")
    return services


def parse_spec(
    arguments: dict[str, Any], configuration: Configuration | None = None
) -> MeasurementSpec:
    """Check the control's arguments; raise :class:`SpecError` naming the first bad key.
    Samplers and markers naming another ``service`` make that service's child spec."""
    unknown = set(arguments) - _TOP_KEYS
    if unknown:
        raise SpecError(f"unknown argument {sorted(unknown)[0]!r} (known: {sorted(_TOP_KEYS)})")
    main = arguments.get("service")
    if not isinstance(main, str) or not main:
        raise SpecError("argument 'service' is required: the targets.yaml service to judge")
    options = _service_options(arguments.get("services"))
    samplers = arguments.get("samplers")
    if not isinstance(samplers, list) or not samplers:
        raise SpecError("argument 'samplers' must be a non-empty list")
    by_service = _grouped(samplers, main, "samplers")
    markers = arguments.get("markers")
    markers_by_service = {} if markers is None else _grouped(markers, main, "markers")
    for name, blocks in markers_by_service.items():
        if len(blocks) > 1:
            raise SpecError(
                f"markers: service {name!r} has {len(blocks)} markers blocks (one each)"
            )
    names = [main] + [n for n in [*by_service, *markers_by_service] if n != main]
    names = list(dict.fromkeys(names))
    sampler_names = [str(s.get("name")) for s in samplers if isinstance(s, dict) and s.get("name")]
    twice = sorted({n for n in sampler_names if sampler_names.count(n) > 1})
    if twice:
        raise SpecError(f"samplers: name {twice[0]!r} is used twice")
    specs = []
    for name in names:
        if name not in by_service:
            raise SpecError(f"service {name!r} has markers but no sampler (give it one)")
        block = (markers_by_service.get(name) or [None])[0]
        if isinstance(block, dict):
            block = {k: v for k, v in block.items() if k != "service"}
        own = {k: v for k, v in arguments.items() if k not in ("services", "markers")}
        own.update(service=name, samplers=by_service[name], **options.get(name, {}))
        if name != main:
            own.pop("fault", None)
            own.update(options.get(name, {}))
        if block is not None:
            own["markers"] = block
        specs.append(_parse_one(own, configuration))
    specs[0].children = specs[1:]
    return specs[0]


def _parse_one(
    arguments: dict[str, Any], configuration: Configuration | None = None
) -> MeasurementSpec:
    """One service's spec: its samplers, markers block and recovery rule."""
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
        if markers.get("kind") not in MARKER_KINDS:
            raise SpecError(
                f"markers.kind must be one of {', '.join(MARKER_KINDS)}, "
                f"got {markers.get('kind')!r}"
            )
        if markers["kind"] == "postgres" and not markers.get("dsn"):
            raise SpecError("markers.dsn is required for postgres markers")
        if markers["kind"] == "dynamodb" and not markers.get("table"):
            raise SpecError("markers.table is required for dynamodb markers")
        if markers["kind"] == "ticket-api":
            _ticket_api(markers)
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
