"""DynamoDB point-in-time restore drill (fault ``dynamodb-restore``): the runbook's
Scenario 3 rehearsed side by side, never touching the source table.

``planning.py`` plans (read only: the restore window, the names that would be created),
``actions.py`` takes the on-demand backup, restores into a new tagged table and measures
the restore, ``undo.py`` deletes the restored table and the backup and finds them by tag
and name when the ledger is lost, ``probes.py`` reads the source's point-in-time recovery,
``tables.py`` holds the tables' and backups' shapes (names, window, waits).
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "dynamodb-restore"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="dynamodb-pitr-drill",
    default_run=False,
    plans={"restore_table_drill": "plan_table_restore"},
    undoers={"delete-table": "delete_restored_table", "delete-backup": "delete_drill_backup"},
    orphan_finder="find_drill_resources",
)
