"""Kept for imports written before the split: look-ups in :mod:`.instances`, plans in
:mod:`.planning`."""

from chaosaws_ext.rds import FAULT
from chaosaws_ext.rds.instances import cluster_writer, describe_cluster, describe_instance
from chaosaws_ext.rds.planning import plan_cluster_failover, plan_instance_failover

__all__ = [
    "FAULT",
    "describe_instance",
    "describe_cluster",
    "cluster_writer",
    "plan_instance_failover",
    "plan_cluster_failover",
]
