"""The AZ network blackhole fault (``az-blackhole``).

Swaps the subnets of one availability zone onto a fresh network ACL that denies
traffic (everything, or only the traffic to and from the VPC's other AZs), and puts
each subnet back on its recorded original NACL on undo. ``planning.py`` plans (read
only), ``actions.py`` injects and ends it, ``undo.py`` undoes and finds leftovers,
``probes.py`` reads, ``network_acls.py`` reads and moves NACLs.
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "az-blackhole"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="az-nacl-blackhole",
    plans={"blackhole_availability_zone": "plan_availability_zone_blackhole"},
    undoers={
        "delete-acl": "undo_delete_acl",
        "forget-entries": "undo_entries_with_acl",
        "delete-entries": "undo_delete_entries",
        "restore-subnets": "undo_restore_subnets",
    },
    aliases={"az-blackhole.entries-go-with-acl": "forget-entries"},
    orphan_finder="find_blackhole_orphans",
)
