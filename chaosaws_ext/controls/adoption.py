"""Other extensions' fault actions under our safety: adopted, or refused.

The safety control calls :func:`before_action` and :func:`after_action` around every
action of the method. An action that a fault declaration adopts
(:func:`chaosaws_ext.faults.adopted_actions`, e.g. chaostoolkit-aws's
``reboot_db_instance`` with ``force_failover``) is planned and guarded, and its ledger
entry written, before it runs; its end stamps the fault's t0, so the measurement, the
dead-man's switch, the stop conditions and ``gameday recover`` treat it as one of ours.
Any other chaostoolkit-aws action (a ``chaosaws.<service>.actions`` module) changes AWS
with no undo we know: it is refused, before it runs, unless the safety control's
``allow_unrecorded_actions`` is true (then it runs, with a warning, and nothing of ours
will undo it). Rollbacks are never refused: they put things back.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from typing import Any

from chaoslib import substitute
from chaoslib.exceptions import ActivityFailed, InterruptExecution
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.timeline import note_fault_detail
from chaosaws_ext.faults import CHAOSTOOLKIT_AWS_ACTIONS, adopted_actions
from chaosaws_ext.mutation import RecordedIntent

__all__ = ["before_action", "after_action", "is_unrecorded_aws_action", "forget"]

logger = logging.getLogger(__name__)

_pending: dict[int, RecordedIntent] = {}


def _provider(activity: dict[str, Any]) -> dict[str, Any]:
    return (activity or {}).get("provider") or {}


def is_unrecorded_aws_action(activity: dict[str, Any]) -> bool:
    """A chaostoolkit-aws action that no fault of ours adopts."""
    provider = _provider(activity)
    key = (str(provider.get("module") or ""), str(provider.get("func") or ""))
    return (
        activity.get("type") == "action"
        and bool(CHAOSTOOLKIT_AWS_ACTIONS.match(key[0]))
        and key not in adopted_actions()
    )


def before_action(
    activity: dict[str, Any],
    configuration: Configuration,
    secrets: Secrets,
    allow_unrecorded: bool = False,
) -> None:
    """Guard and ledger an adopted action; refuse an unrecorded AWS one (InterruptExecution:
    chaoslib lets that one through a control and stops the run before the action)."""
    if activity.get("type") != "action":
        return
    provider = _provider(activity)
    key = (str(provider.get("module")), str(provider.get("func")))
    action = ".".join(key)
    adopted = adopted_actions().get(key)
    if adopted is None:
        if not is_unrecorded_aws_action(activity):
            return
        if allow_unrecorded:
            logger.warning(
                "action %s: %s runs unrecorded (allow_unrecorded_actions): nothing of "
                "chaosaws-ext will undo it",
                activity.get("name"),
                action,
            )
            return
        adoptable = ", ".join(sorted(f"{m}.{f}" for m, f in adopted_actions())) or "none"
        raise InterruptExecution(
            f"refusing action {activity.get('name')}: {action} changes AWS and chaosaws-ext "
            f"knows no undo for it (adopted: {adoptable}); set the safety control's "
            "allow_unrecorded_actions: true to run it unrecorded"
        )
    declaration, name = adopted
    module = importlib.import_module(declaration.module(declaration.adoption))
    adopt = getattr(module, f"adopt_{name}")
    arguments = substitute(dict(provider.get("arguments") or {}), configuration, secrets)
    accepted = inspect.signature(adopt).parameters
    kwargs = {k: v for k, v in arguments.items() if k in accepted}
    try:
        intent = adopt(**kwargs, configuration=configuration, secrets=secrets)
    except ActivityFailed as error:
        logger.error("action %s refused: %s", activity.get("name"), error)
        raise InterruptExecution(f"action {activity.get('name')} refused: {error}") from None
    except Exception as error:  # noqa: BLE001 - chaoslib swallows it: the action would run
        # unguarded and unrecorded (an AWS error while planning: throttling, AccessDenied)
        logger.error("action %s not checked: %s", activity.get("name"), error)
        raise InterruptExecution(
            f"action {activity.get('name')} refused: its guardrails could not be checked "
            f"({type(error).__name__}: {error})"
        ) from None
    _pending[id(activity)] = intent
    note_fault_detail("injected_by", action)
    logger.info("action %s: %s adopted as fault %s", activity.get("name"), action, declaration.id)


def after_action(activity: dict[str, Any], state: Any) -> bool:
    """Record the adopted action's outcome (and t0 when it succeeded). True when the
    action was adopted: its failure then stops the method as one of ours would."""
    intent = _pending.pop(id(activity), None)
    if intent is None:
        return False
    ok = isinstance(state, dict) and state.get("status") == "succeeded"
    detail = None if ok else str((state or {}).get("exception") or "failed")[-500:]
    intent.finish(ok, detail)
    return True


def forget() -> None:
    """A new run in this process: nothing pending."""
    _pending.clear()
