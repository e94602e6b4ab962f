"""DynamoDB global table replication pause (fault ``dynamodb-replication-pause``): Deny
statements for the replication service in one replica's resource-based policy, with an
``aws:CurrentTime`` expiry so AWS itself ends the pause, removed exactly by the undo.

``planning.py`` plans (read only), ``actions.py`` pauses and resumes, ``undo.py``
removes our statements and finds those left behind, ``probes.py`` reads the policy,
``table_policy.py`` holds the resource policy's shape (the statements, add, remove).
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "dynamodb-replication-pause"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="dynamodb-replication-pause",
    default_run=False,
    plans={"pause_table_replication": "plan_table_replication_pause"},
    undoers={"remove-statements": "remove_pause_statements"},
    orphan_finder="find_pause_statements",
)
