"""DNS failover and gradual failback (fault ``dns-failover``): the DR runbook's Scenario 1
step 2.1 (an UPSERT of the PRIMARY failover record pointing it at the secondary ALB, as
``failover-to-secondary.json`` does, or automatic failover by the health checks) and its
failback (weighted records primary/secondary, 10 % -> 50 % -> 100 %, each step's window
judged by the measurement), then the original record sets put back exactly.

``planning.py`` plans (read only), ``actions.py`` fails over, shifts back and restores,
``undo.py`` restores the record sets and finds what a lost ledger left behind (the
``_chaos-gameday`` TXT record: Route 53 records carry no tags), ``probes.py`` reads the
record sets and what the name serves, ``record_sets.py`` holds the Route 53 shapes.
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "dns-failover"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="region-failover-drill",
    default_run=False,
    plans={
        "fail_over_to_secondary": "plan_fail_over_to_secondary",
        "shift_traffic_back": "plan_shift_traffic_back",
    },
    undoers={
        "restore-records": "restore_record_sets",
        "delete-marker": "delete_marker_record",
    },
    orphan_finder="find_changed_records",
)
