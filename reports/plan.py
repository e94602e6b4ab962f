"""The DR plan as the scorecard reads it: targets, testing schedule, shipped experiments.

Read from an experiments folder (default: the shipped one, the data package
``chaosaws_ext.experiments``, located as a resource so that ``reports`` imports nothing
of the extension): ``targets.yaml`` (services and their RTO/RPO), ``schedule.yaml`` (the
plan's "Testing Schedule": test type, frequency, the experiments that carry it out) and
each experiment's title, tags and judged service (its measurement control's ``service``).
A file that cannot be read raises ``PlanError`` with one line naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "FREQUENCY_MONTHS",
    "DrPlan",
    "ExperimentInfo",
    "PlanError",
    "ScheduledTest",
    "ServiceTarget",
    "default_experiments_dir",
    "load_plan",
]

#: the schedule's frequency words -> months between two runs
FREQUENCY_MONTHS = {"monthly": 1, "quarterly": 3, "annually": 12, "yearly": 12}


class PlanError(Exception):
    """A plan file that cannot be used; ``str()`` is one line naming the file."""


@dataclass(frozen=True)
class ServiceTarget:
    name: str
    rto_s: float | None
    rpo_s: float | None
    source: str = ""


@dataclass(frozen=True)
class ScheduledTest:
    type: str
    frequency: str
    experiments: tuple[str, ...] = ()
    source: str = ""

    @property
    def months(self) -> int:
        return FREQUENCY_MONTHS[self.frequency]


@dataclass(frozen=True)
class ExperimentInfo:
    name: str
    title: str
    tags: tuple[str, ...] = ()
    service: str | None = None
    # the other services a scenario measures (its samplers' and markers' ``service``)
    other_services: tuple[str, ...] = ()


@dataclass
class DrPlan:
    services: list[ServiceTarget]
    schedule: list[ScheduledTest]
    experiments: list[ExperimentInfo] = field(default_factory=list)
    folder: str = ""

    def experiments_of_service(self, service: str) -> list[str]:
        return [e.name for e in self.experiments if service in (e.service, *e.other_services)]

    def tests_of_experiment(self, name: str) -> list[ScheduledTest]:
        return [t for t in self.schedule if name in t.experiments]


def default_experiments_dir() -> Path:
    """The shipped experiments folder (checkout or site-packages)."""
    return Path(str(files("chaosaws_ext.experiments")))


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise PlanError(f"{path}: cannot read ({error})") from None
    except yaml.YAMLError as error:
        raise PlanError(f"{path}: not YAML ({str(error).splitlines()[0]})") from None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _services(path: Path) -> list[ServiceTarget]:
    data = _read_yaml(path)
    services = data.get("services") if isinstance(data, dict) else None
    if not isinstance(services, dict) or not services:
        raise PlanError(f"{path}: no 'services' mapping")
    result = []
    for name, row in services.items():
        row = row if isinstance(row, dict) else {}
        result.append(
            ServiceTarget(
                str(name),
                _number(row.get("rto_s")),
                _number(row.get("rpo_s")),
                str(row.get("source") or ""),
            )
        )
    return result


def _schedule(path: Path) -> list[ScheduledTest]:
    data = _read_yaml(path)
    tests = data.get("tests") if isinstance(data, dict) else None
    if not isinstance(tests, list) or not tests:
        raise PlanError(f"{path}: no 'tests' list")
    result = []
    for index, row in enumerate(tests, start=1):
        if not isinstance(row, dict) or not str(row.get("type") or "").strip():
            raise PlanError(f"{path}: test {index} has no 'type'")
        frequency = str(row.get("frequency") or "").strip().lower()
        if frequency not in FREQUENCY_MONTHS:
            known = ", ".join(FREQUENCY_MONTHS)
            raise PlanError(
                f"{path}: test {row['type']!r} has frequency {row.get('frequency')!r} "
                f"(one of {known})"
            )
        experiments = row.get("experiments") or []
        if not isinstance(experiments, list):
            raise PlanError(f"{path}: test {row['type']!r}: 'experiments' is not a list")
        result.append(
            ScheduledTest(
                str(row["type"]).strip(),
                frequency,
                tuple(str(e) for e in experiments),
                str(row.get("source") or ""),
            )
        )
    return result


def _experiment(path: Path) -> ExperimentInfo | None:
    data = _read_yaml(path)
    if not isinstance(data, dict) or "method" not in data:
        return None  # targets.yaml, schedule.yaml: not experiments
    service = None
    others: list[str] = []
    for control in data.get("controls") or []:
        arguments = ((control or {}).get("provider") or {}).get("arguments") or {}
        if isinstance(arguments, dict) and arguments.get("service"):
            service = str(arguments["service"])
            markers = arguments.get("markers") or []
            for part in [*(arguments.get("samplers") or []),
                         *(markers if isinstance(markers, list) else [markers])]:  # fmt: skip
                named = part.get("service") if isinstance(part, dict) else None
                if named and named != service and named not in others:
                    others.append(str(named))
    raw_tags = data.get("tags")
    tags: list[Any] = raw_tags if isinstance(raw_tags, list) else []
    title = str(data.get("title") or path.stem)
    return ExperimentInfo(path.stem, title, tuple(map(str, tags)), service, tuple(others))


def load_plan(folder: str | Path | None = None) -> DrPlan:
    """The targets, schedule and experiments of ``folder`` (default: the shipped one)."""
    folder = Path(folder) if folder is not None else default_experiments_dir()
    if not folder.is_dir():
        raise PlanError(f"{folder}: not a folder of experiments (targets.yaml, schedule.yaml)")
    experiments = [e for p in sorted(folder.glob("*.yaml")) if (e := _experiment(p))]
    return DrPlan(
        services=_services(folder / "targets.yaml"),
        schedule=_schedule(folder / "schedule.yaml"),
        experiments=experiments,
        folder=str(folder),
    )
