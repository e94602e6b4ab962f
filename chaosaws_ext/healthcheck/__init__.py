"""Health-check path block: make the path a Route 53 health check probes fail at the ALB.

``planning.py`` plans (read only), ``actions.py`` blocks and unblocks (an ALB listener
rule or a WAFv2 rule), ``undo.py`` removes our rules and finds leftovers, ``probes.py``
reads health check status and failover DNS answers, ``load_balancers.py`` resolves
health check -> load balancer -> listener / web ACL, and ``rules.py`` builds and
recognises the rules we add.
"""

from chaosaws_ext.faults import FaultDeclaration

__all__ = ["DECLARATION", "FAULT"]

FAULT = "healthcheck-block"

DECLARATION = FaultDeclaration(
    id=FAULT,
    package=__name__,
    experiment="healthcheck-path-block",
    plans={"block_health_check_path": "plan_health_check_path_block"},
    undoers={
        "delete-listener-rule": "delete_block_listener_rule",
        "remove-waf-rule": "remove_block_waf_rule",
    },
    orphan_finder="find_blocked_paths",
)
