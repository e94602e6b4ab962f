"""Forced RDS failover (fault ``rds-failover``): Multi-AZ DB instances and DB clusters.

``planning.py`` plans (read only), ``actions.py`` fails over and waits, ``undo.py``
verifies availability (a failover is not taken back), ``probes.py`` reads,
``instances.py`` describes DB instances and clusters, ``availability.py`` waits on their
states, ``injections.py`` remembers what this process injected, ``adoption.py`` puts
chaostoolkit-aws's failover actions under the same plan, ledger, undo and t0.
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "rds-failover"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="rds-forced-failover",
    plans={
        "failover_db_instance": "plan_instance_failover",
        "failover_db_cluster": "plan_cluster_failover",
        "failover_if_writer_in_az": "plan_failover_if_writer_in_az",
    },
    undoers={"wait-available": "wait_available_undo"},
    aliases={"rds.wait-available": "wait-available"},
    adopts={
        "chaosaws.rds.actions.reboot_db_instance": "reboot_db_instance",
        "chaosaws.rds.actions.failover_db_cluster": "failover_db_cluster",
    },
)
