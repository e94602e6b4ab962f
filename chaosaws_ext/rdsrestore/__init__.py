"""RDS restore drill (fault ``rds-restore``): a DB instance restored side by side into
a new, tagged instance, measured, verified and deleted; the source is never touched.

``planning.py`` plans (read only: the source, the restore point, what would be
created), ``actions.py`` restores and deletes, ``undo.py`` deletes a restored instance
(idempotent, bounded) and finds ours by tag, ``probes.py`` waits for the restored
instance and times its phases, ``restores.py`` holds the RDS shapes it reads (latest
restorable time, latest snapshot, the endpoint's DSN).
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "rds-restore"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="rds-restore-drill",
    default_run=False,
    plans={"restore_db_instance": "plan_restore"},
    undoers={"delete-instance": "delete_restored_instance"},
    orphan_finder="find_restored_instances",
)
