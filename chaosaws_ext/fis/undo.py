"""Undo of an FIS experiment: stop it (FIS reverts its actions) and wait until it has
ended; delete the template we created. Both idempotent and keyed by our tags, so they
work from the ledger and, with the ledger lost, from the tags (``find_fis_leftovers``)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code
from chaosaws_ext.core.identity import (
    MANAGED_BY,
    TAG_EXPIRES_AT,
    TAG_FAULT,
    TAG_MANAGED,
    TAG_RUN_ID,
)
from chaosaws_ext.core.waiting import wait_until
from chaosaws_ext.fis import DECLARATION, FAULT
from chaosaws_ext.fis.experiments import (
    TERMINAL,
    TOKEN_TAG,
    ExperimentState,
    experiments_of,
    read_experiment,
    tags_of,
    templates_tagged,
)

__all__ = [
    "ended_state",
    "STOP_EXPERIMENT",
    "DELETE_TEMPLATE",
    "stop_experiment_undo",
    "delete_template_undo",
    "find_fis_leftovers",
]

logger = logging.getLogger(__name__)

STOP_EXPERIMENT = DECLARATION.undoer_name("stop-experiment")
DELETE_TEMPLATE = DECLARATION.undoer_name("delete-template")
STOP_TIMEOUT_S = 300.0  # FIS reverts each action on stop; disrupt-connectivity in seconds
STOP_POLL_S = 2.0


def ended_state(fis: Any, experiment_id: str) -> ExperimentState | None:
    state = read_experiment(fis, experiment_id)
    return state if state.ended else None


def _ours(summary: dict[str, Any], run_id: str, client_token: str | None) -> bool:
    tags = tags_of(summary)
    if tags.get(TAG_RUN_ID) != run_id:
        return False
    return client_token is None or tags.get(TOKEN_TAG) == client_token


def stop_experiment_undo(
    template_id: str | None,
    run_id: str,
    client_token: str | None = None,
    timeout: float = STOP_TIMEOUT_S,
    poll_interval: float = STOP_POLL_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Stop every experiment of this run (of ``template_id``) that has not ended, and
    wait until FIS reports each one ended (its actions reverted)."""
    fis = aws_client("fis", configuration, secrets, region)
    mine = [s for s in experiments_of(fis, template_id) if _ours(s, run_id, client_token)]
    stopped, ended = [], []
    for summary in mine:
        experiment_id = str(summary["id"])
        status = str((summary.get("state") or {}).get("status", ""))
        if status in TERMINAL:
            ended.append({"experiment_id": experiment_id, "status": status})
            continue
        try:
            fis.stop_experiment(id=experiment_id)
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
            continue
        final: ExperimentState = wait_until(
            partial(ended_state, fis, experiment_id),
            timeout=timeout,
            interval=poll_interval,
            what=f"FIS experiment {experiment_id} to stop",
        )
        stopped.append({"experiment_id": experiment_id, "status": final.status})
    return {"stopped": stopped, "already_ended": ended, "found": len(mine)}


def delete_template_undo(
    run_id: str,
    client_token: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Delete the experiment template(s) this run created (none left: nothing to do)."""
    fis = aws_client("fis", configuration, secrets, region)
    deleted = []
    for summary in templates_tagged(fis, TAG_RUN_ID, run_id):
        if client_token and tags_of(summary).get(TOKEN_TAG) != client_token:
            continue
        try:
            fis.delete_experiment_template(id=summary["id"])
        except ClientError as error:
            if error_code(error) != "ResourceNotFoundException":
                raise
        deleted.append(str(summary["id"]))
    return {"deleted": deleted}


def find_fis_leftovers(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Experiments we started that have not ended, and templates we created, by tag."""
    fis = aws_client("fis", configuration, secrets, region)
    specs: list[dict[str, Any]] = []
    for summary in experiments_of(fis):
        tags = tags_of(summary)
        status = str((summary.get("state") or {}).get("status", ""))
        if tags.get(TAG_MANAGED) != MANAGED_BY or tags.get(TAG_FAULT) != FAULT:
            continue
        if status in TERMINAL:
            continue
        specs.append(
            {
                "fault": FAULT,
                "resource": f"FIS experiment {summary['id']} ({status})",
                "undoer": STOP_EXPERIMENT,
                "args": {
                    "template_id": summary.get("experimentTemplateId"),
                    "run_id": tags.get(TAG_RUN_ID, ""),
                    "client_token": tags.get(TOKEN_TAG),
                },
                "expires_at": tags.get(TAG_EXPIRES_AT),
            }
        )
    for summary in templates_tagged(fis, TAG_MANAGED, MANAGED_BY):
        tags = tags_of(summary)
        if tags.get(TAG_FAULT) != FAULT:
            continue
        specs.append(
            {
                "fault": FAULT,
                "resource": f"FIS experiment template {summary['id']}",
                "undoer": DELETE_TEMPLATE,
                "args": {"run_id": tags.get(TAG_RUN_ID, ""), "client_token": tags.get(TOKEN_TAG)},
                "expires_at": tags.get(TAG_EXPIRES_AT),
            }
        )
    return specs
