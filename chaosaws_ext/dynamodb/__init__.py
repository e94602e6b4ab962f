"""DynamoDB global-table replica write conflict (fault ``dynamodb-conflict``).

``planning.py`` plans (read only), ``actions.py`` writes the conflicting items and ends
the fault, ``undo.py`` deletes our items and finds leftovers, ``probes.py`` reads
replicas and convergence, ``conflict.py`` holds the conflict's items, writers and
analysis.
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "dynamodb-conflict"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="dynamodb-replica-conflict",
    plans={"write_conflicting_items": "plan_conflicting_writes"},
    undoers={"delete-items": "delete_items"},
    aliases={"dynamodb-delete-conflict-items": "delete-items"},
    orphan_finder="find_conflict_items",
)
