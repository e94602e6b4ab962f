"""The read-only plan of an FIS experiment: which template, which actions on which
targets, and the undo (StopExperiment; a template we create is deleted)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code, region_of
from chaosaws_ext.fis import FAULT
from chaosaws_ext.fis.experiments import load_template_file
from chaosaws_ext.planning import FaultPlan, PlannedChange

__all__ = ["plan_experiment_start", "resolve_template"]

STOP = "StopExperiment (FIS reverts what its actions changed)"


def _targets_text(target: dict[str, Any]) -> str:
    parts = [str(target.get("resourceType", "?"))]
    if target.get("resourceArns"):
        parts.append(f"{len(target['resourceArns'])} ARN(s)")
    if target.get("resourceTags"):
        parts.append("tags " + ", ".join(f"{k}={v}" for k, v in target["resourceTags"].items()))
    for item in target.get("filters") or []:
        parts.append(f"{item.get('path')} in {', '.join(map(str, item.get('values') or []))}")
    parts.append(f"selection {target.get('selectionMode', 'ALL')}")
    return "; ".join(parts)


def resolve_template(
    template_id: str | None,
    template_file: str | None,
    template_values: dict[str, Any] | None,
    role_arn: str | None,
    fis: Any,
) -> tuple[dict[str, Any], bool]:
    """(the template's content, whether we create it): exactly one of id and file."""
    if bool(template_id) == bool(template_file):
        raise ActivityFailed(f"{FAULT}: name exactly one of template_id and template_file")
    if template_file:
        values = {"role_arn": role_arn or "", **(template_values or {})}
        return load_template_file(template_file, values), True
    try:
        found = fis.get_experiment_template(id=template_id)["experimentTemplate"]
    except ClientError as error:
        if error_code(error) in ("ResourceNotFoundException", "ValidationException"):
            raise ActivityFailed(f"{FAULT}: no FIS experiment template {template_id!r}") from None
        raise
    return found, False


def plan_experiment_start(
    template_id: str | None = None,
    template_file: str | None = None,
    template_values: dict[str, Any] | None = None,
    role_arn: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """Read the template (FIS's, or our file filled with ``template_values``) and
    describe its actions; refuses a template with no actions or no role."""
    region = region_of(configuration)
    fis = aws_client("fis", configuration, secrets, region)
    template, create = resolve_template(template_id, template_file, template_values, role_arn, fis)
    if not template.get("roleArn"):
        raise ActivityFailed(f"{FAULT}: the template names no roleArn (pass role_arn)")
    targets = template.get("targets") or {}
    changes: list[PlannedChange] = []
    if create:
        changes.append(
            PlannedChange(
                resource=f"FIS experiment template from {template_file}",
                change="create the template (tagged chaos:*), then start an experiment of it",
                undo="delete the template after the experiment",
                kind="fis-template",
            )
        )
    for name, action in sorted((template.get("actions") or {}).items()):
        aimed = [
            f"{key} -> {_targets_text(targets.get(target, {}))}"
            for key, target in (action.get("targets") or {}).items()
        ]
        parameters = ", ".join(f"{k}={v}" for k, v in (action.get("parameters") or {}).items())
        after = ", ".join(action.get("startAfter") or [])
        changes.append(
            PlannedChange(
                resource=f"FIS action {name} ({action.get('actionId')})",
                change="; ".join(
                    [*aimed, *([parameters] if parameters else []),
                     *([f"after {after}"] if after else [])]
                ) or "no targets",
                undo=STOP,
                kind="fis-action",
            )
        )  # fmt: skip
    if not changes or all(c.kind == "fis-template" for c in changes):
        raise ActivityFailed(f"{FAULT}: the template has no actions")
    key = template_id or str(template_file)
    return FaultPlan(
        fault=FAULT,
        region=region,
        target=f"fis:{key}",
        changes=changes,
        details={
            "template_id": template_id,
            "template_file": template_file,
            "create_template": create,
            "stop_conditions": list(template.get("stopConditions") or []),
            "role_arn": template.get("roleArn"),
            "template": template if create else None,
        },
    )
