"""chaostoolkit-aws's RDS failovers, adopted: planned, guarded, ledgered and timed as ours.

``chaosaws.rds.actions.reboot_db_instance`` with ``force_failover: true`` is the same
fault as our ``failover_db_instance``; without it, it reboots the instance in place (an
outage, not a failover) and is refused. ``chaosaws.rds.actions.failover_db_cluster`` is
our ``failover_db_cluster``; without a target, RDS picks the reader (chaostoolkit-aws
passes none), so the plan shows the reader we would pick and the completion probe reports
the one RDS chose. The safety control calls ``adopt_<name>`` before the action (refusal
raises, nothing is changed) and finishes the returned intent after it, which stamps t0
and lets ``wait_for_failover_completion`` compare before and after as for our action.
"""

from __future__ import annotations

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Configuration, Secrets

from chaosaws_ext.core.clock import iso_utc
from chaosaws_ext.guardrails import check_plan
from chaosaws_ext.mutation import FaultStamp, RecordedIntent, record_intent
from chaosaws_ext.planning import FaultPlan
from chaosaws_ext.rds import FAULT
from chaosaws_ext.rds.injections import Injection, remember
from chaosaws_ext.rds.planning import plan_cluster_failover, plan_instance_failover
from chaosaws_ext.rds.undo import failover_entry

__all__ = [
    "plan_reboot_db_instance",
    "adopt_reboot_db_instance",
    "plan_failover_db_cluster",
    "adopt_failover_db_cluster",
]

REBOOT = "chaosaws.rds.actions.reboot_db_instance"


def plan_reboot_db_instance(
    db_instance_identifier: str,
    force_failover: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """The failover chaostoolkit-aws's reboot would make; refused without force_failover."""
    if force_failover is not True:
        raise ActivityFailed(
            f"refusing {FAULT}: {REBOOT} without force_failover: true reboots "
            f"{db_instance_identifier!r} in place (an outage, not a failover); "
            "set force_failover: true"
        )
    return plan_instance_failover(db_instance_identifier, configuration, secrets)


def adopt_reboot_db_instance(
    db_instance_identifier: str,
    force_failover: bool = False,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> RecordedIntent:
    """Before chaostoolkit-aws reboots with failover: guardrails, lock, ledger entry."""
    plan = plan_reboot_db_instance(db_instance_identifier, force_failover, configuration, secrets)
    check_plan(plan, configuration, secrets)
    return _record(plan, "db-instance", db_instance_identifier, None, configuration)


def plan_failover_db_cluster(
    db_cluster_identifier: str,
    target_db_instance_identifier: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> FaultPlan:
    """The cluster failover chaostoolkit-aws would make (same checks as ours)."""
    return plan_cluster_failover(
        db_cluster_identifier, target_db_instance_identifier, configuration, secrets
    )


def adopt_failover_db_cluster(
    db_cluster_identifier: str,
    target_db_instance_identifier: str | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
) -> RecordedIntent:
    """Before chaostoolkit-aws fails the cluster over: guardrails, lock, ledger entry."""
    plan = plan_failover_db_cluster(
        db_cluster_identifier, target_db_instance_identifier, configuration, secrets
    )
    check_plan(plan, configuration, secrets)
    return _record(
        plan, "db-cluster", db_cluster_identifier, target_db_instance_identifier, configuration
    )


def _record(
    plan: FaultPlan,
    kind: str,
    db_id: str,
    target: str | None,
    configuration: Configuration,
) -> RecordedIntent:
    intent = record_intent(
        fault=FAULT,
        region=plan.region,
        **failover_entry(kind, db_id, plan.changes[0].change),
        configuration=configuration,
    )
    called_at = iso_utc()

    def injected(stamp: FaultStamp) -> None:
        remember(
            Injection(
                db_id=db_id,
                kind=kind,
                region=plan.region,
                writer_az_before=plan.details.get("writer_az_before"),
                writer_instance_before=plan.details.get("writer_instance_before"),
                target_instance=target,
                called_at=called_at,
                injected_at=stamp.wall,
                injected_monotonic=stamp.monotonic,
            )
        )

    intent.on_injected = injected
    return intent
