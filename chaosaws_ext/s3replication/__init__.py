"""S3 replication pause (fault ``s3-replication-pause``): the source bucket's
replication rules disabled for the duration, the whole configuration restored exactly.

``planning.py`` plans (read only), ``actions.py`` pauses and resumes, ``undo.py``
restores the recorded configuration and finds buckets left paused, ``probes.py`` reads
the configuration, ``bucket_replication.py`` holds the replication configuration's
shape (read, disable, compare) and what a pause stops: objects written while the rules
are disabled are never replicated by live replication once they are enabled again (S3
User Guide, "Managing or pausing live replication"), so the catch-up after the pause is
"never" and the failover RPO is the whole pause.
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "s3-replication-pause"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="s3-replication-pause",
    default_run=False,
    plans={"pause_bucket_replication": "plan_bucket_replication_pause"},
    undoers={"restore-replication": "restore_replication_configuration"},
    orphan_finder="find_paused_buckets",
)
