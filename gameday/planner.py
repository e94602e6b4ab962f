"""``gameday plan``: what an experiment would change, and the undo of each, with no mutation.

Loads the experiment as Chaos Toolkit would (configuration, var files), finds its fault
actions, and calls each one's read-only plan function under
:class:`chaosaws_ext.aws.read_only`, which refuses any call that is not a read. The
guardrails' problems are listed all at once, as the preflight.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from chaoslib import merge_vars, substitute
from chaoslib.configuration import load_configuration
from chaoslib.exceptions import ChaosException
from chaoslib.loader import load_experiment
from chaoslib.secret import load_secrets

from chaosaws_ext.core.clients import read_only
from chaosaws_ext.faults import plan_functions
from chaosaws_ext.guardrails import plan_problems
from chaosaws_ext.planning import FaultPlan

__all__ = ["PLAN_FUNCTIONS", "plan_experiment", "format_plan", "PlanError"]

logger = logging.getLogger(__name__)

# inject action -> its read-only plan function (same arguments), from the declarations
PLAN_FUNCTIONS: dict[tuple[str, str], tuple[str, str]] = plan_functions()


class PlanError(Exception):
    """The experiment cannot be planned (bad file, missing configuration, bad target)."""


def _load(experiment_path: Path, var_files: list[Path]) -> tuple[dict, dict, dict]:
    try:
        config_vars, secret_vars = merge_vars(None, [str(f) for f in var_files])
        experiment = load_experiment(str(experiment_path))
        if not isinstance(experiment, dict):
            raise PlanError(f"{experiment_path}: not an experiment (expected a mapping)")
        configuration = load_configuration(experiment.get("configuration", {}), config_vars)
        secrets = load_secrets(experiment.get("secrets", {}), secret_vars)
    except (ChaosException, ValueError, TypeError) as error:  # a bad env_var_type value too
        one_line = " ".join(str(error).split())  # YAML errors span several lines
        raise PlanError(f"{experiment_path}: {one_line}") from error
    return experiment, configuration, secrets


def _call_plan(
    target: tuple[str, str], arguments: dict[str, Any], configuration: dict, secrets: dict
) -> FaultPlan:
    module, name = target
    func = getattr(importlib.import_module(module), name)
    accepted = inspect.signature(func).parameters
    kwargs = {k: v for k, v in arguments.items() if k in accepted}
    return func(**kwargs, configuration=configuration, secrets=secrets)


def plan_experiment(experiment_path: Path, var_files: list[Path]) -> dict[str, Any]:
    """Resolve every fault action of the experiment to a plan, reading only."""
    experiment, configuration, secrets = _load(experiment_path, var_files)
    plans: list[dict[str, Any]] = []
    with read_only(record=True) as guard:
        for activity in experiment.get("method", []):
            provider = activity.get("provider") or {}
            key = (provider.get("module"), provider.get("func"))
            if activity.get("type") != "action" or key not in PLAN_FUNCTIONS:
                continue
            arguments = substitute(provider.get("arguments") or {}, configuration, secrets)
            try:
                plan = _call_plan(PLAN_FUNCTIONS[key], arguments, configuration, secrets)
            except ChaosException as error:
                plans.append({"action": activity.get("name"), "error": str(error)})
                continue
            # a step without targets changes nothing: no guardrail to pass
            problems = [] if plan.skipped else plan_problems(plan, configuration, secrets)
            plans.append(
                {"action": activity.get("name"), "plan": plan.to_dict(), "problems": problems}
            )
    calls = Counter(f"{service}:{operation}" for service, operation in guard.calls)
    return {
        "experiment": experiment.get("title"),
        "path": str(experiment_path),
        "plans": plans,
        "api_calls": dict(calls),
    }


def format_plan(result: dict[str, Any]) -> str:
    """The plan of :func:`plan_experiment` as text for the terminal."""
    lines = [f"{result['experiment']} ({result['path']}): plan only, nothing was changed"]
    if not result["plans"]:
        lines.append("  no fault action of chaosaws-ext in the method")
    for item in result["plans"]:
        if "error" in item:
            lines.append(f"  {item['action']}: CANNOT RUN: {item['error']}")
            continue
        plan = item["plan"]
        if plan.get("skipped"):
            lines.append(
                f"  {item['action']}: fault {plan['fault']} in {plan['region']}: "
                f"skipped: {plan['skipped']}"
            )
            continue
        lines.append(
            f"  {item['action']}: fault {plan['fault']} in {plan['region']} "
            f"(target {plan['target']})"
        )
        for change in plan["changes"]:
            lines.append(f"    - {change['resource']}: {change['change']}")
            lines.append(f"      undo: {change['undo']}")
        for statement in plan["details"].get("statements") or []:  # resource-policy faults
            lines.append(f"      adds statement: {json.dumps(statement, sort_keys=True)}")
        for left_out in plan["details"].get("excluded") or []:
            lines.append(f"    - excluded {left_out['subnet']}: {left_out['reason']}, unchanged")
        if item["problems"]:
            lines.append("    guardrails: REFUSED: " + "; ".join(item["problems"]))
        else:
            lines.append("    guardrails: ok")
    total = sum(result["api_calls"].values())
    lines.append(
        f"  API calls: {total}, all read-only ({', '.join(sorted(result['api_calls'])) or 'none'})"
    )
    return "\n".join(lines)
