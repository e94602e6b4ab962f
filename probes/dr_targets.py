"""The DR plan's RTO/RPO targets per service (``experiments/targets.yaml``), checked.

Which file is used, first match wins:

1. an explicit ``targets_file`` (control argument or verdict probe argument);
2. configuration key ``targets_file``;
3. environment variable ``GAMEDAY_TARGETS_FILE``;
4. ``experiments/targets.yaml`` under the current directory;
5. the ``targets.yaml`` shipped with the package (data package ``chaosaws_ext.experiments``).

A relative path in 1-3 is taken relative to the current directory. Errors name the
file and the bad key, e.g. ``targets.yaml: services.dynamodb.rto_s must be a number >=
0 or null, got 'fast'``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml
from chaoslib.types import Configuration

__all__ = [
    "ServiceTarget",
    "TargetsError",
    "load_targets",
    "resolve_targets_file",
    "shipped_targets_file",
    "target_for",
    "meets",
]

_SERVICE_KEYS = {"rto_s", "rpo_s", "rto_bound", "rpo_bound", "source", "note"}
_BOUNDS = ("<=", "<")


class TargetsError(ValueError):
    """The targets file is missing, unreadable or does not match the schema."""


@dataclass(frozen=True)
class ServiceTarget:
    service: str
    rto_s: float | None
    rpo_s: float | None
    rto_bound: str = "<="
    rpo_bound: str = "<="
    source: str = ""
    note: str = ""
    file: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rto_s": self.rto_s,
            "rpo_s": self.rpo_s,
            "rto_bound": self.rto_bound,
            "rpo_bound": self.rpo_bound,
            "source": self.source,
            "file": self.file,
        }


def meets(measured: float | None, target: float | None, bound: str) -> bool | None:
    """Whether ``measured`` meets ``target``; None when no target applies."""
    if target is None:
        return None
    if measured is None:
        return False
    return measured < target if bound == "<" else measured <= target


def shipped_targets_file() -> Path:
    """The DR plan's targets shipped with the package (an installed wheel has them too)."""
    return Path(str(files("chaosaws_ext.experiments"))) / "targets.yaml"


def resolve_targets_file(
    explicit: str | None = None, configuration: Configuration | None = None
) -> Path:
    """The targets file to use (see the module docstring for the order)."""
    for candidate in (
        explicit,
        (configuration or {}).get("targets_file"),
        os.environ.get("GAMEDAY_TARGETS_FILE"),
    ):
        if candidate:
            path = Path(str(candidate)).expanduser()
            if not path.is_file():
                raise TargetsError(f"targets file {path} does not exist")
            return path.absolute()
    local = Path.cwd() / "experiments" / "targets.yaml"
    if local.is_file():
        return local
    shipped = shipped_targets_file()
    if shipped.is_file():
        return shipped
    raise TargetsError("no targets file: set configuration 'targets_file' or GAMEDAY_TARGETS_FILE")


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise TargetsError(f"{where} must be a number >= 0 or null, got {value!r}")
    return float(value)


def load_targets(path: str | Path) -> dict[str, ServiceTarget]:
    """Read and check a targets file; raises :class:`TargetsError` naming the bad key."""
    path = Path(path)
    name = path.name
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TargetsError(f"cannot read targets file {path}: {error}") from error
    except yaml.YAMLError as error:
        raise TargetsError(f"{name}: not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise TargetsError(f"{name}: the top level must be a mapping with 'services'")
    unknown = set(data) - {"version", "services"}
    if unknown:
        raise TargetsError(f"{name}: unknown top-level key {sorted(unknown)[0]!r}")
    if data.get("version", 1) != 1:
        raise TargetsError(f"{name}: version must be 1, got {data.get('version')!r}")
    services = data.get("services")
    if not isinstance(services, dict) or not services:
        raise TargetsError(f"{name}: 'services' must be a non-empty mapping")
    targets: dict[str, ServiceTarget] = {}
    for service, spec in services.items():
        where = f"{name}: services.{service}"
        if not isinstance(service, str) or not service:
            raise TargetsError(f"{name}: service names must be strings, got {service!r}")
        if not isinstance(spec, dict):
            raise TargetsError(f"{where} must be a mapping with rto_s and rpo_s")
        extra = set(spec) - _SERVICE_KEYS
        if extra:
            raise TargetsError(f"{where}: unknown key {sorted(extra)[0]!r}")
        for key in ("rto_s", "rpo_s"):
            if key not in spec:
                raise TargetsError(f"{where}.{key} is missing (use null for N/A)")
        for key in ("rto_bound", "rpo_bound"):
            if spec.get(key, "<=") not in _BOUNDS:
                raise TargetsError(f"{where}.{key} must be '<=' or '<', got {spec[key]!r}")
        for key in ("source", "note"):
            if not isinstance(spec.get(key, ""), str):
                raise TargetsError(f"{where}.{key} must be a string")
        if not spec.get("source"):
            raise TargetsError(f"{where}.source is missing: quote the DR plan row")
        targets[service] = ServiceTarget(
            service=service,
            rto_s=_number(spec["rto_s"], f"{where}.rto_s"),
            rpo_s=_number(spec["rpo_s"], f"{where}.rpo_s"),
            rto_bound=spec.get("rto_bound", "<="),
            rpo_bound=spec.get("rpo_bound", "<="),
            source=spec["source"],
            note=spec.get("note", ""),
            file=str(path),
        )
    return targets


def target_for(
    service: str, targets_file: str | None = None, configuration: Configuration | None = None
) -> ServiceTarget:
    """The target of ``service``; the error lists the known services."""
    path = resolve_targets_file(targets_file, configuration)
    targets = load_targets(path)
    if service not in targets:
        raise TargetsError(
            f"service {service!r} is not in {path} (known: {', '.join(sorted(targets))})"
        )
    return targets[service]
