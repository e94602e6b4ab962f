"""The EC2 stop fault (``ec2-stop``): the running instances of one availability zone
that carry a given tag stopped, and started again on undo.

Targets are chosen as AWS FIS chooses them (``resourceTags`` and a
``Placement.AvailabilityZone`` filter, running instances only); a zone without any is
skipped, with nothing changed, as FIS does with ``emptyTargetResolutionMode: skip``.
``planning.py`` plans (read only), ``actions.py`` stops and starts, ``undo.py`` starts
one instance again and finds instances left stopped by their ``chaos:*`` tags,
``probes.py`` reads, ``instances.py`` reads and waits on EC2 instances.
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "ec2-stop"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="ec2-stop-instances",
    default_run=False,
    plans={"stop_instances": "plan_stop_instances"},
    undoers={"start-instance": "undo_start_instance"},
    orphan_finder="find_stopped_instances",
)
