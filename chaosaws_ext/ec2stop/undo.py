"""Undo of the EC2 stop: start one instance again and remove the ``chaos:*`` tags we put
on it, and find the instances left stopped by their tags when the ledger is lost.

Idempotent and keyed by the instance id: an instance still ``stopping`` is waited on
(AWS refuses to start it before it is ``stopped``), one already ``pending`` or
``running`` is asked again (a no-op) and waited for, and one somebody terminated
meanwhile is reported, not an error (nothing of ours is left to undo on it).
"""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clients import aws_client, error_code
from chaosaws_ext.core.identity import (
    TAG_EXPERIMENT,
    TAG_EXPIRES_AT,
    TAG_FAULT,
    TAG_MANAGED,
    TAG_RUN_ID,
)
from chaosaws_ext.ec2stop import DECLARATION, FAULT
from chaosaws_ext.ec2stop.instances import (
    GONE_STATES,
    instances_by_id,
    our_instances,
    tags_of,
    wait_for,
)

__all__ = ["UNDO_START", "OUR_TAG_KEYS", "undo_start_instance", "find_stopped_instances"]

logger = logging.getLogger(__name__)

UNDO_START = DECLARATION.undoer_name("start-instance")
# what the inject puts on each instance it stops (chaosaws_ext.core.identity.chaos_tags)
OUR_TAG_KEYS = (TAG_RUN_ID, TAG_EXPERIMENT, TAG_EXPIRES_AT, TAG_MANAGED, TAG_FAULT)
DEFAULT_POLL_S = 5.0
DEFAULT_TIMEOUT_S = 600.0


def _gone(instance_id: str, what: str) -> dict[str, Any]:
    message = f"{instance_id} {what} meanwhile (not by us): nothing to start"
    logger.warning("%s: %s", FAULT, message)
    return {"instance": instance_id, "started": False, "reported": message}


def undo_start_instance(
    instance_id: str,
    run_id: str = "",
    poll_interval_s: float = DEFAULT_POLL_S,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    configuration: Configuration = None,
    secrets: Secrets = None,
    region: str | None = None,
) -> dict[str, Any]:
    """StartInstances of ``instance_id`` (once stopped, waited for, bounded, while
    stopping), waited until running, then DeleteTags of our chaos:* tags when they are
    ``run_id``'s: the tags stay until the instance runs, so a failed start is still
    found by tag.

    EC2's reads are eventually consistent ("Eventual consistency in the Amazon EC2
    API"): right after our StopInstances a describe may still say running, so the
    start is asked whatever the state read (a no-op on a running instance); AWS answers
    ``IncorrectInstanceState`` while it is really stopping: then wait and start."""
    ec2 = aws_client("ec2", configuration, secrets, region)
    instance = instances_by_id(ec2, [instance_id]).get(instance_id)
    state = (instance or {}).get("State", {}).get("Name", "")
    if instance is None or state in GONE_STATES:
        return _gone(instance_id, "was terminated" if instance else "no longer exists")
    if state == "stopping":
        wait_for(ec2, "instance_stopped", [instance_id], poll_interval_s, timeout_s)
    started = state in ("stopping", "stopped")
    try:
        _start(ec2, instance_id, poll_interval_s, timeout_s)
    except ClientError as error:
        if error_code(error) == "InvalidInstanceID.NotFound":
            return _gone(instance_id, "was terminated")
        raise
    wait_for(ec2, "instance_running", [instance_id], poll_interval_s, timeout_s)
    tags = tags_of(instance)
    ours = [k for k in OUR_TAG_KEYS if k in tags]
    if ours and (not run_id or tags.get(TAG_RUN_ID) == run_id):
        ec2.delete_tags(Resources=[instance_id], Tags=[{"Key": k} for k in ours])
    logger.info("%s: %s %s (was %s)", FAULT, instance_id, "started" if started else "left", state)
    return {"instance": instance_id, "started": started, "was": state, "untagged": ours}


def _start(ec2: Any, instance_id: str, poll_interval_s: float, timeout_s: float) -> None:
    """StartInstances; still stopping (a stale read before): wait until stopped, again."""
    try:
        ec2.start_instances(InstanceIds=[instance_id])
    except ClientError as error:
        if error_code(error) != "IncorrectInstanceState":
            raise
        wait_for(ec2, "instance_stopped", [instance_id], poll_interval_s, timeout_s)
        ec2.start_instances(InstanceIds=[instance_id])


def find_stopped_instances(
    configuration: Configuration = None, secrets: Secrets = None, region: str | None = None
) -> list[dict[str, Any]]:
    """Instances we stopped in ``region`` (ledger lost): they carry chaos:run-id and
    chaos:fault=ec2-stop; one start-instance undo each. A terminated one is no leftover
    (nothing runs or can be started; AWS drops it and its tags)."""
    ec2 = aws_client("ec2", configuration, secrets, region)
    specs = []
    for instance in our_instances(ec2, FAULT):
        tags, instance_id = tags_of(instance), str(instance["InstanceId"])
        state = instance.get("State", {}).get("Name", "")
        if state in GONE_STATES:
            continue
        specs.append(
            {
                "resource": instance_id,
                "undoer": UNDO_START,
                "args": {"instance_id": instance_id, "run_id": tags.get(TAG_RUN_ID, "")},
                "describe": f"start {instance_id} ({state}) again and remove our chaos:* tags",
                "expires_at": tags.get(TAG_EXPIRES_AT),
            }
        )
    return specs
