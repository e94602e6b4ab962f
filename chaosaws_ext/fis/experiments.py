"""FIS's shapes: template files, experiment and action states, our tags on them.

States as the FIS user guide lists them ("Experiment states", "Action states",
https://docs.aws.amazon.com/fis/latest/userguide/experiment-states.html and
.../action-states.html): an experiment is pending, initiating, running, then completed,
stopping/stopped, failed or cancelled; an action pending, initiating, running, then
completed, cancelled, skipped, stopping/stopped or failed, with ``startTime`` and
``endTime``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ActivityFailed

__all__ = [
    "TERMINAL",
    "NOT_A_FAULT",
    "TOKEN_TAG",
    "ActionState",
    "ExperimentState",
    "read_experiment",
    "first_fault_start",
    "load_template_file",
    "template_path",
    "tags_of",
    "experiments_of",
    "templates_tagged",
]

TERMINAL = frozenset({"completed", "stopped", "failed", "cancelled"})
# FIS's own pause between actions injects nothing: never t0
NOT_A_FAULT = frozenset({"aws:fis:wait"})
TOKEN_TAG = "chaos:client-token"  # the StartExperiment / CreateExperimentTemplate token
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_TEMPLATE_KEYS = frozenset(
    {
        "description",
        "roleArn",
        "targets",
        "actions",
        "stopConditions",
        "tags",
        "logConfiguration",
        "experimentOptions",
        "experimentReportConfiguration",
    }
)


@dataclass(frozen=True)
class ActionState:
    name: str
    action_id: str
    status: str
    reason: str
    start: datetime | None
    end: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "status": self.status,
            "reason": self.reason,
            "start": _iso(self.start),
            "end": _iso(self.end),
        }


@dataclass(frozen=True)
class ExperimentState:
    id: str
    template_id: str
    status: str
    reason: str
    start: datetime | None
    end: datetime | None
    actions: dict[str, ActionState] = field(default_factory=dict)
    stop_conditions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.id,
            "template_id": self.template_id,
            "status": self.status,
            "reason": self.reason,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "actions": {name: action.to_dict() for name, action in self.actions.items()},
            "stop_conditions": self.stop_conditions,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def _time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


def read_experiment(fis: Any, experiment_id: str) -> ExperimentState:
    """GetExperiment, as our dataclasses."""
    found = fis.get_experiment(id=experiment_id)["experiment"]
    state = found.get("state") or {}
    actions = {
        name: ActionState(
            name=name,
            action_id=str(action.get("actionId", "")),
            status=str((action.get("state") or {}).get("status", "")),
            reason=str((action.get("state") or {}).get("reason", "")),
            start=_time(action.get("startTime")),
            end=_time(action.get("endTime")),
        )
        for name, action in (found.get("actions") or {}).items()
    }
    return ExperimentState(
        id=str(found["id"]),
        template_id=str(found.get("experimentTemplateId", "")),
        status=str(state.get("status", "")),
        reason=str(state.get("reason", "")),
        start=_time(found.get("startTime")),
        end=_time(found.get("endTime")),
        actions=actions,
        stop_conditions=list(found.get("stopConditions") or []),
    )


def first_fault_start(state: ExperimentState) -> datetime | None:
    """When the first action that injects something started (t0), if one has."""
    starts = [
        a.start
        for a in state.actions.values()
        if a.action_id not in NOT_A_FAULT and a.start and a.status not in ("pending", "skipped")
    ]
    return min(starts) if starts else None


def _fill(value: Any, values: dict[str, str], missing: set[str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, values, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values, missing) for v in value]
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values or values[name] in (None, ""):
                missing.add(name)
                return match.group(0)
            return str(values[name])

        return _PLACEHOLDER.sub(one, value)
    return value


def template_path(name: str | Path) -> Path:
    """A template file: the path given when it exists, else a shipped one by name
    (``az-disrupt-connectivity`` is ``experiments/fis/az-disrupt-connectivity.json``)."""
    given = Path(name)
    if given.is_file():
        return given
    shipped = Path(str(files("chaosaws_ext.experiments"))) / "fis" / f"{given.stem}.json"
    return shipped if shipped.is_file() else given


def load_template_file(path: str | Path, values: dict[str, str]) -> dict[str, Any]:
    """A CreateExperimentTemplate input from a JSON file, its ``{name}`` placeholders
    filled from ``values``; one clear line for a missing file, bad JSON, an unknown key,
    no action, no stop condition or an unfilled placeholder."""
    file = template_path(path)
    try:
        document = json.loads(file.read_text())
    except FileNotFoundError:
        raise ActivityFailed(f"FIS template file {file} does not exist") from None
    except json.JSONDecodeError as error:
        raise ActivityFailed(f"FIS template file {file} is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ActivityFailed(f"FIS template file {file} must hold one JSON object")
    unknown = sorted(set(document) - _TEMPLATE_KEYS)
    if unknown:
        raise ActivityFailed(
            f"FIS template file {file}: unknown key(s) {', '.join(unknown)} "
            f"(CreateExperimentTemplate takes {', '.join(sorted(_TEMPLATE_KEYS))})"
        )
    if not document.get("actions"):
        raise ActivityFailed(f"FIS template file {file} has no actions")
    if not document.get("stopConditions"):
        raise ActivityFailed(
            f"FIS template file {file} has no stopConditions (FIS requires one; "
            'use [{"source": "none"}] for none)'
        )
    missing: set[str] = set()
    filled = _fill(document, {k: str(v) for k, v in values.items() if v is not None}, missing)
    if missing:
        raise ActivityFailed(
            f"FIS template file {file}: no value for {', '.join(sorted(missing))} "
            "(pass them in template_values)"
        )
    return filled


def tags_of(summary: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in (summary.get("tags") or {}).items()}


def experiments_of(fis: Any, template_id: str | None = None) -> list[dict[str, Any]]:
    """Experiment summaries (of one template, or all), every page."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"experimentTemplateId": template_id} if template_id else {}
    for _ in range(1000):  # bounded: 100 per page
        page = fis.list_experiments(**kwargs)
        found.extend(page.get("experiments") or [])
        token = page.get("nextToken")
        if not token:
            break
        kwargs["nextToken"] = token
    return found


def templates_tagged(fis: Any, key: str, value: str | None = None) -> list[dict[str, Any]]:
    """Experiment template summaries carrying tag ``key`` (with ``value`` when given)."""
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    for _ in range(1000):
        page = fis.list_experiment_templates(**kwargs)
        for summary in page.get("experimentTemplates") or []:
            tags = tags_of(summary)
            if key in tags and (value is None or tags[key] == value):
                found.append(summary)
        token = page.get("nextToken")
        if not token:
            break
        kwargs["nextToken"] = token
    return found
